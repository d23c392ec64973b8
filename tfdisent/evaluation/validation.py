"""Validation metrics of semi-supervised runs on their held-out labels (Locatello et al. 2020,
"Disentangling Factors of Variation Using Few Labels", Sec. 4: model selection with the 10% of the
labels kept out of training; disentanglement_lib computes MIG/DCI/SAP on them with 20 bins).

:func:`validation_metrics_callback` returns a Trainer step callback (same contract as
:func:`tfdisent.evaluation.progress.metric_progress_callback`) that encodes the model's held-out
labelled examples (``model.labelled.validation_observations``) and scores the posterior means
against their *labels* (``validation_labels``: what the labeller says, the only ground truth a
practitioner with few labels has), logging ``validation/<metric>/<score>`` to TensorBoard. DCI and
SAP need a train/test split: the held-out set is split in halves (first half fits, second tests).
Models without a labelled subset (unsupervised methods) are skipped silently.
"""

from __future__ import annotations

import time
from typing import Dict, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from tfdisent.evaluation.encoding import encode_in_batches, keras_encoder_function
from tfdisent.metrics import dci, mig, sap

VALIDATION_METRICS = ("mig", "dci", "sap")


def validation_scores(codes: np.ndarray, labels: np.ndarray, metric_names: Sequence[str] = VALIDATION_METRICS,
                      num_bins: int = 20) -> Dict[str, float]:
    """MIG / DCI / SAP of ``codes`` [N, d] against discrete ``labels`` [N, L]: ``{"<metric>/<key>": value}``."""
    codes = np.asarray(codes, np.float64)
    labels = np.asarray(labels, np.int64)
    half = len(codes) // 2
    scores: Dict[str, float] = {}
    for name in metric_names:
        if name == "mig":
            result = mig.mig_from_codes(codes, labels, num_bins)
        elif name == "dci":
            result = dci.dci_from_codes(codes[:half], labels[:half], codes[half:], labels[half:], n_jobs=1)
        elif name == "sap":
            result = sap.sap_from_codes(codes[:half], labels[:half], codes[half:], labels[half:], n_jobs=1)
        else:
            raise ValueError(f"unknown validation metric {name!r}; choose from {', '.join(VALIDATION_METRICS)}")
        scores.update({f"{name}/{key}": float(value) for key, value in result.items()})
    return scores


def validation_metrics_callback(metric_names: Sequence[str] = VALIDATION_METRICS, num_bins: int = 20,
                                batch_size: int = 256):
    """A Trainer step callback ``(step, model, dataset, writer) -> scores`` for semi-supervised models."""
    unknown = sorted(set(metric_names) - set(VALIDATION_METRICS))
    if unknown:
        raise ValueError(f"unknown validation metric {', '.join(unknown)}; choose from {', '.join(VALIDATION_METRICS)}")

    def callback(step: int, model, dataset, writer) -> Dict[str, float]:
        del dataset
        labelled = getattr(model, "labelled", None)
        if labelled is None or len(labelled.validation_labels) < 4:
            return {}
        start = time.time()
        observations = labelled.validation_observations
        # dtype=None: the held-out observations go to the encoder as stored, as the training batches do.
        codes, _ = encode_in_batches(keras_encoder_function(model.encoder), observations, batch_size, dtype=None)
        try:
            scores = validation_scores(codes, labelled.validation_labels, metric_names, num_bins)
        except ValueError as e:  # e.g. a label constant on the held-out set: the classifiers refuse it
            logging.warning("step %d: validation metrics failed: %s", step, e)
            return {}
        with writer.as_default(step=step):
            for key, value in scores.items():
                tf.summary.scalar(f"validation/{key}", value)
        writer.flush()
        logging.info("step %d: validation on %d held-out labels in %.1f s: %s", step, len(codes),
                     time.time() - start, ", ".join(f"{k}={v:.4g}" for k, v in scores.items()))
        return scores

    return callback
