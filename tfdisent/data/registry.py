"""Maps ``--dataset`` names to dataset classes, imported lazily so a name costs nothing until used."""

from __future__ import annotations

import importlib
from typing import Dict

from tfdisent.data.ground_truth import DatasetError, GroundTruthData

# name -> "module:Class". Each class takes keyword arguments (data_dir=... for file-backed ones).
_DATASETS: Dict[str, str] = {
    "dsprites": "tfdisent.data.dsprites:DSprites",
    "color_dsprites": "tfdisent.data.dsprites_variants:ColorDSprites",
    "noisy_dsprites": "tfdisent.data.dsprites_variants:NoisyDSprites",
    "scream_dsprites": "tfdisent.data.dsprites_variants:ScreamDSprites",
    "shapes3d": "tfdisent.data.shapes3d:Shapes3D",
    "smallnorb": "tfdisent.data.smallnorb:SmallNORB",
    "cars3d": "tfdisent.data.cars3d:Cars3D",
    "mpi3d_toy": "tfdisent.data.mpi3d:MPI3DToy",
    "mpi3d_realistic": "tfdisent.data.mpi3d:MPI3DRealistic",
    "mpi3d_real": "tfdisent.data.mpi3d:MPI3DReal",
    "celeba": "tfdisent.data.celeba:CelebA",
    "fashion_mnist": "tfdisent.data.fashion_mnist:FashionMNIST",
    "pinwheel": "tfdisent.data.pinwheel:Pinwheel",
    "dummy": "tfdisent.data.synthetic:DummyData",
    "identity": "tfdisent.data.synthetic:IdentityObservations",
}


def dataset_names() -> list:
    return sorted(_DATASETS)


def register_dataset(name: str, target: str) -> None:
    """Registers a user dataset class as ``"package.module:Class"`` under ``name``."""
    _DATASETS[name] = target


def load_dataset(name: str, **kwargs) -> GroundTruthData:
    """Builds the dataset registered as ``name``; keyword arguments go to its constructor.

    Raises DatasetError for an unknown name (listing the known ones) and for bad files.
    """
    if name not in _DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")
    module_name, class_name = _DATASETS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**kwargs)
