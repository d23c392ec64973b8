"""TensorFlow's share of a machine that several trainers use at once (Ray trials, PBT members).

Ray reserves CPUs and GPU fractions per trial and sets ``OMP_NUM_THREADS``, but TensorFlow sizes its
own thread pools to the whole machine and takes all of a GPU's memory; two trials on one machine then
oversubscribe the cores or fail to allocate (ray-project/ray#13680). Both must be set before the
process runs its first TensorFlow op.
"""

from __future__ import annotations

_configured = False


def configure_tensorflow(cpus: float, gpus: float = 0.0) -> None:
    """Sizes TensorFlow's intra-op pool to ``cpus`` threads (inter-op to at most 2) and turns on GPU
    memory growth. Later calls in the same process are no-ops; in a process whose TensorFlow is already
    initialised (in-process tests) the pools stay as they are."""
    global _configured
    if _configured:
        return
    import tensorflow as tf  # noqa: PLC0415 (keep importing this module cheap)

    threads = max(1, int(round(cpus)))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
    except RuntimeError:
        pass  # TF already initialised in this process: keep its pools
    try:
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass
    _configured = True
