"""training.resources.configure_tensorflow sizes a fresh process's TensorFlow to its CPU share."""

import subprocess
import sys

CHILD = """
import tensorflow as tf
from tfdisent.training.resources import configure_tensorflow
configure_tensorflow({cpus})
configure_tensorflow(8)  # later calls are no-ops
tf.constant(1.0) + 1.0   # initialises the runtime with the pools set above
print(tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads())
"""


def _pools(cpus):
    output = subprocess.run([sys.executable, "-c", CHILD.format(cpus=cpus)], capture_output=True, text=True,
                            check=True).stdout.split()
    return int(output[-2]), int(output[-1])


def test_pool_sizes_for_a_cpu_share():
    from tfdisent.training.resources import thread_pools

    assert thread_pools(1) == (1, 1)          # a one-CPU trial gets one thread
    assert thread_pools(3.4) == (3, 2)        # a fractional share rounds; inter-op is capped at 2
    assert thread_pools(0.25) == (1, 1)       # never zero threads
    assert thread_pools(2.5) == (2, 2)        # Python's round half to even, as configure_tensorflow uses


def test_a_fresh_process_gets_its_shares_pools():
    """In a fresh process (TensorFlow's pools are fixed at its first op, so this needs its own process):
    the pools of thread_pools(3.4), and a later call does not change them."""
    assert _pools(3.4) == (3, 2)
