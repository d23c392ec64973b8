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


def test_one_cpu_trial_gets_one_thread():
    assert _pools(1) == (1, 1)


def test_fractional_share_rounds_and_caps_inter_op():
    assert _pools(3.4) == (3, 2)
    assert _pools(0.25) == (1, 1)
