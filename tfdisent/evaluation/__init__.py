"""Evaluation of exported models: SavedModel representation functions (``representation``,
imports TensorFlow when used) and metric runs with a JSON report (``evaluate``, no TensorFlow).

Import the submodules directly; this package imports nothing heavy on its own.
"""
