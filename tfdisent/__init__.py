"""tfdisent: disentangled representation learning with TensorFlow 2 and Keras 3.

Layers (each imports only the ones before it):
``data`` -> ``models`` -> ``methods`` -> ``training`` -> ``export`` (``serving_double``, the TF
Serving test double, just above it) ->
``metrics``/``evaluation`` -> ``visualize`` -> ``study``; ``bin`` is a thin absl shell.
"""

__version__ = "0.1.0"
