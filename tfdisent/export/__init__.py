"""SavedModel export of trained models for the evaluator, TensorBoard and TF Serving."""

from tfdisent.export.saved_model import (EXPORT_DIR, METADATA_FILE, EncoderDecoderModule, export_model,
                                         export_saved_model, latest_version)

__all__ = ["EXPORT_DIR", "METADATA_FILE", "EncoderDecoderModule", "export_model", "export_saved_model",
           "latest_version"]
