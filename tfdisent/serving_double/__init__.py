"""A test double of TensorFlow Serving: ``tensorflow_model_server``'s gRPC PredictionService and REST
API served in-process from a SavedModel export, for developing and testing clients without Docker.

It is not part of exporting a model (that is :mod:`tfdisent.export`); it sits just above it (it
reads the export layout) and below nothing else. ``tfdisent-serve-local`` and
``python -m tfdisent.serving_double`` run :func:`tfdisent.serving_double.server.main`.
"""

from tfdisent.serving_double.server import LocalServing, ModelServer, ServableVersion, main

__all__ = ["LocalServing", "ModelServer", "ServableVersion", "main"]
