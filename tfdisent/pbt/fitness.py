"""Fitness functions of population-based training for disentanglement (Estermann et al. 2020,
Sec. 3-4; reference pbt4vae ``MigVaeTrainer``, ``UdrVaeTrainer``, ``LeafMigVaeTrainer``).

Each is a small pure function over encodings and labels (numpy in, a number out) built on the
library's metric functions, never a copy of them:

* ``mig``: discrete MIG (Chen et al. 2018, Eq. 7; :func:`tfdisent.metrics.mig.mig_from_codes`) of the
  encoder means on a fixed labelled subset (50,000 images in the paper, ``num_labels=1000`` for
  the few-label 1000-PBT-S-VAE). PBT-S-VAE.
* ``udr``: the mean over a member's K lock-step models of their UDR model scores (Duan et al.
  2020; :func:`tfdisent.metrics.udr.udr_from_representations`, lasso, 1000 points, KL threshold).
  PBT-U-VAE.
* ``leaf_mig``: MIG against rPU-VAE's surrogate labels. For one leaf run the MI columns of every
  recursion level (codes and continuous surrogate labels both discretised in 20-bin histograms)
  are concatenated into one [d x sum_t a_t] matrix; leaf-MIG is the mean over surrogate factors
  of (top-1 - top-2 MI) / H(label). The fitness is the median over the leaf runs.
* ``mig_sup``, ``dcimig``, ``jemmig``, ``mcc`` (issue 20; not in Estermann et al.): the library's
  score of the encoder means on the same fixed labelled subset as ``mig``, at each metric's default
  settings (:func:`labelled_fitness`; MCC: in-sample Pearson). The other modern metrics are not
  fitnesses: a fitness must score a code without information low, and InfoM / InfoC (0.58 / 0.34)
  and DCI-ES's D with forest probes (0.47) score pure N(0, 1) noise codes against 5,000 labels
  far above MIG-sup's 0.004 (BUILD_NOTES "Modern metrics", PBT fitness); DCI-ES's E is 1 for a
  flat curve, so also for a code with no information; InfoE and the MLP / RFF probe sweeps fit
  models per factor (minutes per generation); flatness / factored components need factor
  traversals, not a labelled subset.

A fitness that cannot be computed scores 0 and the reason is returned to be logged
(:func:`guarded`), as the reference scores 0 on a ValueError during evaluation.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, List, Sequence, Tuple

import numpy as np

from tfdisent.errors import one_line
from tfdisent.metrics import mig as mig_metric
from tfdisent.metrics import udr as udr_metric
from tfdisent.metrics import utils as metric_utils

FITNESSES = ("mig", "udr", "leaf_mig", "mig_sup", "dcimig", "jemmig", "mcc")
NEEDS_LABELS = {"mig": True, "udr": False, "leaf_mig": False, "mig_sup": True, "dcimig": True, "jemmig": True,
                "mcc": True}
NUM_BINS = 20
PAPER_NUM_LABELS = 50000
UDR_POINTS = 1000
UDR_MODELS = 5
LEAF_POINTS = 50000


def mig_fitness(codes: np.ndarray, factors: np.ndarray, num_bins: int = NUM_BINS) -> float:
    """Discrete MIG of ``codes`` [N, d] (encoder means) against integer ``factors`` [N, K]."""
    codes = metric_utils.check_codes(codes, len(factors), "mig fitness codes")
    return float(mig_metric.mig_from_codes(codes, np.asarray(factors), num_bins)["discrete_mig"])


def labelled_fitness(name: str, codes: np.ndarray, factors: np.ndarray) -> float:
    """Fitness ``name`` (mig_sup, dcimig, jemmig or mcc) of ``codes`` [N, d] (encoder means) against
    integer ``factors`` [N, K], from the metric's pure function at its default settings."""
    from tfdisent.metrics import dcimig, jemmig, mcc, mig_sup  # noqa: PLC0415

    codes = metric_utils.check_codes(codes, len(factors), f"{name} fitness codes")
    factors = np.asarray(factors)
    if name == "mig":
        return mig_fitness(codes, factors)
    if name == "mig_sup":
        return float(mig_sup.mig_sup_from_codes(codes, factors)["mig_sup"])
    if name == "dcimig":
        return float(dcimig.dcimig_from_codes(codes, factors)["dcimig"])
    if name == "jemmig":
        return float(jemmig.jemmig_from_codes(codes, factors)["jemmig"])
    if name == "mcc":
        return float(mcc.mean_correlation_coefficient(codes, factors, "pearson")[0])
    raise metric_utils.MetricError(f"{name} is not a labelled fitness; choose from "
                                   f"{', '.join(k for k, v in NEEDS_LABELS.items() if v)}")


def udr_fitness(means: Sequence[np.ndarray], kls: Sequence[np.ndarray],
                kl_threshold: float = 0.01, lasso_alpha: float = 0.1) -> Tuple[float, List[float]]:
    """``(mean of the K models' UDR scores, the K scores)`` from means [N, d] on shared points and
    per-dimension KL [d] (lasso correlation, low-KL filtering as in Duan et al. 2020)."""
    if len(means) < 2:
        raise metric_utils.MetricError("udr fitness needs at least 2 lock-step models per member")
    result = udr_metric.udr_from_representations(list(means), list(kls), "lasso", True,
                                                 float(kl_threshold), float(lasso_alpha))
    scores = [float(s) for s in result["model_scores"]]
    return float(np.mean(scores)), scores


def leaf_mutual_information(codes: np.ndarray, labels: np.ndarray,
                            num_bins: int = NUM_BINS) -> Tuple[np.ndarray, np.ndarray]:
    """MI matrix [d, a] between histogram-discretised codes and continuous surrogate labels, and
    the labels' entropies [a] (both discretised with ``num_bins`` equal-width bins)."""
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or codes.ndim != 2 or len(codes) != len(labels):
        raise metric_utils.MetricError(f"leaf_mig: codes {codes.shape} and labels {labels.shape} must be "
                                       "[N, d] and [N, a] with the same N")
    discrete_codes = metric_utils.histogram_discretize(codes, num_bins)
    discrete_labels = metric_utils.histogram_discretize(labels, num_bins)
    return (metric_utils.mutual_information_matrix(discrete_codes, discrete_labels),
            metric_utils.discrete_entropy(discrete_labels))


def leaf_mig_score(level_codes: Sequence[np.ndarray], level_labels: Sequence[np.ndarray],
                   num_bins: int = NUM_BINS) -> float:
    """Leaf-MIG of one leaf run: the MI columns of all its levels side by side, then MIG."""
    columns, entropies = [], []
    for codes, labels in zip(level_codes, level_labels):
        if np.asarray(labels).size == 0:
            continue
        mutual_information, entropy = leaf_mutual_information(codes, labels, num_bins)
        columns.append(mutual_information)
        entropies.append(entropy)
    if not columns:
        raise metric_utils.MetricError("leaf_mig: the leaf run has no surrogate labels")
    return mig_metric.mutual_information_gap(np.concatenate(columns, axis=1), np.concatenate(entropies))


def leaf_mig_fitness(leaf_runs: Sequence[Tuple[Sequence[np.ndarray], Sequence[np.ndarray]]],
                     num_bins: int = NUM_BINS) -> float:
    """Median over leaf runs of :func:`leaf_mig_score`; each run is ``(level_codes, level_labels)``."""
    if not leaf_runs:
        raise metric_utils.MetricError("leaf_mig: no leaf runs")
    return float(np.median([leaf_mig_score(codes, labels, num_bins) for codes, labels in leaf_runs]))


@dataclasses.dataclass(frozen=True)
class GuardedScore:
    """What :func:`guarded` returns: ``score`` (0.0 when the fitness could not be computed or was not
    finite), the fitness function's full ``result`` (None when it raised; e.g. UDR's per-model scores)
    and ``error`` (the reason in one line; "" when the score is good)."""

    score: float
    result: object
    error: str


def guarded(function: Callable[..., object], *args, **kwargs) -> GuardedScore:
    """``function(*args, **kwargs)`` as a :class:`GuardedScore`: a failing or non-finite fitness scores
    0 with the reason, as the reference scores 0 on a ValueError during evaluation.

    ``function`` returns a float or a tuple whose first entry is the score.
    """
    try:
        result = function(*args, **kwargs)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:  # MetricError is a ValueError
        return GuardedScore(0.0, None, one_line(error))
    score = float(result[0] if isinstance(result, tuple) else result)
    if not math.isfinite(score):
        return GuardedScore(0.0, result, f"non-finite fitness {score}")
    return GuardedScore(score, result, "")
