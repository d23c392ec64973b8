"""Trainers sharing machines: TensorFlow's share of a machine and the Ray cluster they run on.

Studies (:mod:`tfdisent.study`) and population-based training (:mod:`tfdisent.pbt`) both run many
Trainers as Ray Tune trials; both connect to Ray and size each trial's TensorFlow through this module.

Ray reserves CPUs and GPU fractions per trial and sets ``OMP_NUM_THREADS``, but TensorFlow sizes its
own thread pools to the whole machine and takes all of a GPU's memory; two trials on one machine then
oversubscribe the cores or fail to allocate (ray-project/ray#13680). Both must be set before the
process runs its first TensorFlow op.

Ray's console chatter (its start-up notices, Tune's experiment banner, "View detailed results here",
a TensorBoard hint pointing into Ray's session folder) is silenced unless ``verbose`` is asked for
(``--ray_verbose``): the drivers print their own progress and summary.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import warnings
from typing import Dict, Optional, Tuple

from tfdisent.errors import one_line

_configured = False


class RayAddressError(ValueError):
    """A ``--ray_address`` that is malformed, where no cluster answers, or where Ray fails to start or
    connect (one line)."""


def thread_pools(cpus: float) -> Tuple[int, int]:
    """``(intra_op, inter_op)`` thread counts for a CPU share: intra-op the share rounded (at least 1);
    inter-op at most 2, since more concurrent ops only oversubscribe a small share's cores."""
    threads = max(1, int(round(cpus)))
    return threads, max(1, min(2, threads))


def configure_tensorflow(cpus: float, gpus: float = 0.0, use_gpus: bool = True) -> None:
    """Sizes TensorFlow's intra-op pool to ``cpus`` threads (inter-op to at most 2) and turns on GPU
    memory growth; ``use_gpus=False`` hides the node's GPUs from TensorFlow (a CPU-only Ray task, e.g. a
    study's evaluation, must not take memory on a GPU a trial trains on). Later calls in the same
    process are no-ops; in a process whose TensorFlow is already initialised (in-process tests) the
    pools stay as they are."""
    global _configured
    if _configured:
        return
    import tensorflow as tf  # noqa: PLC0415 (keep importing this module cheap)

    intra, inter = thread_pools(cpus)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        pass  # TF already initialised in this process: keep its pools
    try:
        if not use_gpus:
            tf.config.set_visible_devices([], "GPU")
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass
    _configured = True


def tune_verbosity(verbose: bool = False) -> Optional[int]:
    """``RunConfig(verbose=...)`` for the drivers' Tuners: Ray's default (None) when ``verbose``, else 0
    with Tune's legacy console engine (``RAY_AIR_NEW_OUTPUT=0``, Tune's documented switch), the one
    whose verbosity 0 prints nothing: the newer engine prints its experiment banner, result location
    and TensorBoard hint at every verbosity. Call it just before ``Tuner.fit``."""
    if verbose:
        return None
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Tune's advice for PBT to reuse actors: our members are Trainers rebuilt from checkpoints on purpose.
    warnings.filterwarnings("ignore", message="Consider boosting PBT performance", category=UserWarning)
    return 0


def quiet_ray_logging() -> None:
    """Ray's own log records below ERROR off the console (its start-up notices, e.g. the token
    authentication one); Tune's warnings (a trial that cannot be scheduled, ...) stay."""
    logging.getLogger("ray").setLevel(logging.ERROR)
    logging.getLogger("ray.tune").setLevel(logging.WARNING)


def current_node() -> Optional[str]:
    """The Ray node id this process runs on (``ray.get_runtime_context().get_node_id()``), or None
    outside Ray; studies record it per model, so a run's spread over a cluster is visible."""
    ray = sys.modules.get("ray")  # a process that never imported Ray is not on a Ray node
    if ray is None or not ray.is_initialized():
        return None
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - a record field must not fail a model
        return None


def init_ray(address: Optional[str] = None, num_cpus: Optional[int] = None,
             env_vars: Optional[Dict[str, str]] = None, verbose: bool = False, **local_options) -> bool:
    """Connects to the Ray cluster at ``address`` (``auto`` or ``HOST:PORT``) or starts a local Ray
    (``address`` None or ``local``; ``num_cpus`` and ``local_options``, e.g. ``object_store_memory``,
    configure it). Returns True when this call initialised Ray
    (the caller shuts it down), False when Ray was already initialised in this process. Any failure is a
    one-line :class:`RayAddressError`.

    Every worker gets this checkout's ``tfdisent`` on its ``PYTHONPATH``, TensorFlow's log level, its
    working directory left alone (trials write to absolute paths, not into Ray's trial folders) and,
    locally, normal priority: Ray starts local workers at nice 15 (its ``worker_niceness`` default), so on
    a machine doing anything else the trials, the actual work, would starve. Unless ``verbose``, Ray's
    notices stay off the console (:func:`quiet_ray_logging`) and workers' output is not relayed to the
    driver (``log_to_driver``).
    """
    import ray  # noqa: PLC0415 (Ray is only needed by the drivers)

    if ray.is_initialized():
        return False
    check_ray_address(address)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
           "RAY_CHDIR_TO_TRIAL_DIR": "0", "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
           **(env_vars or {})}
    if not verbose:
        quiet_ray_logging()
    kwargs = dict(runtime_env={"env_vars": env}, log_to_driver=verbose, configure_logging=False)
    try:
        if address and address != "local":
            ray.init(address=address, **kwargs)
        else:
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs, **local_options)
    except Exception as error:  # noqa: BLE001 - ConnectionError, RuntimeError, ...: one line for the user
        raise RayAddressError(f"--ray_address {address or 'local'}: cannot connect to Ray "
                              f"({one_line(error, with_type=False)})") from None
    return True


def check_ray_address(address: Optional[str], timeout: float = 5.0) -> None:
    """A quick TCP check of ``HOST:PORT`` so an unreachable cluster is one line, not a long hang."""
    if not address or address in ("auto", "local"):
        return
    if ":" not in address:
        raise RayAddressError(f"--ray_address must be auto, local or HOST:PORT, got {address!r}")
    target = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = target.rpartition(":")
    try:
        port_number = int(port)
    except ValueError:
        raise RayAddressError(f"--ray_address must be auto, local or HOST:PORT, got {address!r}") from None
    try:
        with socket.create_connection((host, port_number), timeout=timeout):
            pass
    except OSError as error:
        raise RayAddressError(f"--ray_address {address}: cannot reach a Ray cluster there ({error})") from None
