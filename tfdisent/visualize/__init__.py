"""Pictures of trained models: latent traversals (PNG/GIF), reconstructions, prior samples, KL per
latent, and a TensorBoard Embedding Projector run (disentanglement_lib ``visualize_model``).

Functions return numpy images (uint8 RGB) so they can also go to ``tf.summary.image``; the pure
numpy pieces that training needs live in :mod:`tfdisent.models.traversals` and
:mod:`tfdisent.models.images` (layering: training
cannot import this package). Names resolve lazily (PEP 562) so that the light
:mod:`~tfdisent.visualize.run_dir` check runs without importing TensorFlow.
"""

from tfdisent.lazy import lazy_attributes

_EXPORTS = {
    "RunDirError": "tfdisent.visualize.run_dir",
    "locate_run": "tfdisent.visualize.run_dir",
    "ExportedModel": "tfdisent.visualize.exported",
    "traversal_image": "tfdisent.visualize.traversals",
    "animation_frames": "tfdisent.visualize.traversals",
    "GIF_KINDS": "tfdisent.visualize.traversals",
    "reconstruction_image": "tfdisent.visualize.reconstructions",
    "prior_samples_image": "tfdisent.visualize.reconstructions",
    "kl_per_dimension": "tfdisent.visualize.kl",
    "kl_bar_chart": "tfdisent.visualize.kl",
    "write_projector": "tfdisent.visualize.projector",
    "visualize_run": "tfdisent.visualize.visualize_model",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_attributes(__name__, _EXPORTS)
