"""SavedModel export of trained models, TF Serving warmup and a serving client.

Modules:

* :mod:`~tfdisent.export.saved_model`: ``export_saved_model``/``export_model`` write ``<base>/<version>/``.
* :mod:`~tfdisent.export.warmup`: ``assets.extra/tf_serving_warmup_requests``.
* :mod:`~tfdisent.export.client`: REST (row/columnar JSON) and gRPC clients of TF Serving.

The in-process stand-in for ``tensorflow_model_server`` used by tests lives in :mod:`tfdisent.serving_double`.

Names are resolved lazily (PEP 562) so that ``tfdisent.export.client`` can be used over REST
without paying the ~10 s ``import tensorflow``.
"""

from tfdisent.lazy import lazy_attributes

_EXPORTS = {
    "EXPORT_DIR": "tfdisent.export.layout",
    "ExportNotFoundError": "tfdisent.export.layout",
    "latest_export": "tfdisent.export.layout",
    "METADATA_FILE": "tfdisent.export.layout",
    "EncoderDecoderModule": "tfdisent.export.saved_model",
    "export_model": "tfdisent.export.saved_model",
    "export_trainer": "tfdisent.export.saved_model",
    "export_saved_model": "tfdisent.export.saved_model",
    "latest_version": "tfdisent.export.layout",
    "WARMUP_FILE": "tfdisent.export.warmup",
    "write_warmup_file": "tfdisent.export.warmup",
    "replay_warmup": "tfdisent.export.warmup",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_attributes(__name__, _EXPORTS)
