"""Maps ``--dataset`` names to dataset classes (:mod:`tfdisent.registry`), imported lazily so a name
costs nothing until used. Built-ins and plugins register the same way::

    register_dataset("moving_squares", "my_plugin.data:MovingSquares")   # lazy
    register_dataset("moving_squares", MovingSquares)                    # or the class itself

A dataset is a :class:`~tfdisent.data.ground_truth.GroundTruthData` subclass (or a factory returning
one) whose keyword arguments include ``data_dir`` when it reads files.
"""

from __future__ import annotations

import inspect
from typing import Any, Union

from tfdisent.data.ground_truth import DatasetError, GroundTruthData
from tfdisent.registry import RegistryError, describe_target, new_registry


def _check_dataset(name: str, obj: Any) -> None:
    """The dataset contract: a GroundTruthData subclass, or a callable (factory) building one."""
    if inspect.isclass(obj):
        if not issubclass(obj, GroundTruthData):
            raise RegistryError(f"dataset {name!r} ({describe_target(obj)}) is not a "
                                "tfdisent.data.GroundTruthData subclass")
    elif not callable(obj):
        raise RegistryError(f"dataset {name!r} ({describe_target(obj)}) is neither a class nor a factory")


DATASETS = new_registry("dataset", _check_dataset)


def register_dataset(name: str, target: Union[str, type]) -> Any:
    """Registers a dataset class (or factory), or a lazy ``"package.module:Class"``, under ``name``.

    A name already taken is a :class:`~tfdisent.registry.RegistryError` (one line)."""
    return DATASETS.register(name, target)


for _name, _target in (
        ("dsprites", "tfdisent.data.dsprites:DSprites"),
        ("color_dsprites", "tfdisent.data.dsprites_variants:ColorDSprites"),
        ("noisy_dsprites", "tfdisent.data.dsprites_variants:NoisyDSprites"),
        ("scream_dsprites", "tfdisent.data.dsprites_variants:ScreamDSprites"),
        ("shapes3d", "tfdisent.data.shapes3d:Shapes3D"),
        ("smallnorb", "tfdisent.data.smallnorb:SmallNORB"),
        ("cars3d", "tfdisent.data.cars3d:Cars3D"),
        ("mpi3d_toy", "tfdisent.data.mpi3d:MPI3DToy"),
        ("mpi3d_realistic", "tfdisent.data.mpi3d:MPI3DRealistic"),
        ("mpi3d_real", "tfdisent.data.mpi3d:MPI3DReal"),
        ("celeba", "tfdisent.data.celeba:CelebA"),
        ("fashion_mnist", "tfdisent.data.fashion_mnist:FashionMNIST"),
        ("pinwheel", "tfdisent.data.pinwheel:Pinwheel"),
        ("dummy", "tfdisent.data.synthetic:DummyData"),
        ("identity", "tfdisent.data.synthetic:IdentityObservations")):
    register_dataset(_name, _target)

# name -> "module:Class" (read-only; kept for callers of the former dict).
_DATASETS = DATASETS.target_view()


def dataset_names() -> list:
    """Every registered dataset name (built-ins and plugins), sorted."""
    return DATASETS.names()


def load_dataset(name: str, **kwargs) -> GroundTruthData:
    """Builds the dataset registered as ``name``; keyword arguments go to its constructor.

    Raises DatasetError for an unknown name (listing the known ones) and for bad files.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")
    try:
        cls = DATASETS.get(name)
    except RegistryError as error:
        raise DatasetError(str(error)) from None
    return cls(**kwargs)
