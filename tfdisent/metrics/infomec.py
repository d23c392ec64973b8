"""InfoMEC: InfoM (modularity), InfoE (explicitness) and InfoC (compactness) (Hsu, Dorrell,
Whittington, Wu & Finn, NeurIPS 2023, "Disentanglement via Latent Quantization", Sec. 5).

Reference: kylehkhsu/latent_quantization ``disentangle/metrics/infomec.py``
(``compute_infomec(sources, latents, discrete_latents)``), the paper's standalone file:

* **NMI** ``P_ij = I(s_i; z_j) / H(s_i)``. Sources (our factors) are label-encoded, i.e. always
  discrete. Continuous latents are z-scored and ``I`` is the kNN estimate of
  ``sklearn.feature_selection.mutual_info_classif(z_j, s_i, discrete_features=False,
  n_neighbors=10)`` (Ross 2014, nats, clipped at 0; computed by
  :func:`tfdisent.metrics.utils.knn_mutual_information`, the same numbers by sorted 1-D searches);
  discrete latents (``discrete_latents=True``)
  are label-encoded and ``I`` is the plug-in estimate. ``H(s_i)`` is the plug-in entropy. No binning.
* **Inactive latents are pruned** for InfoM and InfoC: latent ``j`` is active when its range (on the
  raw latents, as the reference) exceeds ``max range / 20`` (``active_ratio``; discrete: range > 0).
* With ``P`` restricted to the ``L_a`` active latents and ``K`` sources::

      InfoM = (mean_j [max_i P_ij / sum_i P_ij] - 1/K)   / (1 - 1/K)
      InfoC = (mean_i [max_j P_ij / sum_j P_ij] - 1/L_a) / (1 - 1/L_a)

* **InfoE** uses every latent (no pruning): per source a multinomial logistic regression
  (``penalty=None``, ``class_weight="balanced"``, lbfgs, ``max_iter=100``) on the standardised
  latents (one-hot if discrete); ``CE_i`` = its log loss in nats on the **same** data it was fitted
  on; the null model's loss (balanced weights make its optimum uniform) is ``ln K_i``;
  ``InfoE = mean_i (1 - CE_i / ln K_i)``.

All three are in [0, 1], higher is better. Eval set: 10,000 points (the reference's
``data.num_val_data``).

Deviations (the reference is undefined there; reference notes §3.2):
* A row or column of ``P`` that sums to 0 (a source no latent informs about, or an active latent
  informative about nothing: likely under noise, as the kNN MI is clipped at 0) counts as uniform,
  i.e. contributes 0 to the normalised mean, instead of 0/0 = NaN. Pure noise therefore gives 0.
* With ``L_a = 1`` InfoC is 1 when that latent is informative (each source sits in one latent), 0
  otherwise, instead of a division by zero; with ``K = 1`` InfoM likewise. With no active latent
  InfoM = InfoC = 0.
* Sources with one value in the sample are left out (no entropy to normalise by).
* ``mutual_info_classif`` is seeded (``random_state=0``; the reference leaves its 1e-10 jitter
  unseeded).

Keys: ``infom``, ``infoe``, ``infoc``, ``num_active_latents``, ``nmi`` ([K][L], all latents).
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics import utils

NAME = "infomec"
REFERENCE_NAME = None  # not part of disentanglement_lib
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "batch_size": 16, "discrete_latents": False, "n_neighbors": 10,
            "active_ratio": 20.0, "logistic_max_iter": 100, "n_jobs": -1}
SCORE_KEYS = ("infom", "infoe", "infoc", "num_active_latents", "nmi")


def label_encode(values: np.ndarray) -> np.ndarray:
    """Each column mapped to 0..(number of distinct values - 1) (sklearn's ``LabelEncoder``)."""
    values = np.asarray(values)
    return np.stack([np.unique(values[:, j], return_inverse=True)[1].reshape(-1)
                     for j in range(values.shape[1])], axis=1)


def normalized_mutual_information(sources: np.ndarray, latents: np.ndarray, discrete_latents: bool = False,
                                  n_neighbors: int = 10) -> np.ndarray:
    """``P_ij = I(s_i; z_j) / H(s_i)`` [K, L] (nats over nats); rows of constant sources are 0."""
    labels = label_encode(sources)
    latents = np.asarray(latents, dtype=np.float64)
    entropies = utils.discrete_entropy(labels)
    if discrete_latents:
        mutual_information = utils.mutual_information_matrix(labels, label_encode(latents))
    else:
        std = latents.std(axis=0)
        scaled = (latents - latents.mean(axis=0)) / np.where(std > 0, std, 1.0)
        mutual_information = np.zeros((labels.shape[1], latents.shape[1]))
        for i in range(labels.shape[1]):
            if entropies[i] > 0:
                mutual_information[i] = utils.knn_mutual_information(scaled, labels[:, i], n_neighbors,
                                                                     utils.ESTIMATOR_SEED)
    safe = np.where(entropies > 0, entropies, 1.0)[:, None]
    return np.where(entropies[:, None] > 0, np.maximum(mutual_information, 0.0) / safe, 0.0)


def active_latents(latents: np.ndarray, discrete_latents: bool = False, active_ratio: float = 20.0) -> np.ndarray:
    """Boolean [L]: range above ``max range / active_ratio`` (continuous) or above 0 (discrete)."""
    latents = np.asarray(latents, dtype=np.float64)
    ranges = latents.max(axis=0) - latents.min(axis=0)
    if discrete_latents:
        return ranges > 0
    return ranges > ranges.max() / active_ratio


def _normalized_peak(weights: np.ndarray) -> float:
    """``(mean over rows of max/sum - 1/n) / (1 - 1/n)`` with n the row length; an all-zero row
    counts as uniform (0). n = 1: 1 per informative row."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape[0] == 0:
        return 0.0
    totals = weights.sum(axis=1)
    width = weights.shape[1]
    peak = np.where(totals > 0, weights.max(axis=1) / np.where(totals > 0, totals, 1.0), 1.0 / width)
    if width == 1:
        return float(np.mean(totals > 0))
    return float((np.mean(peak) - 1.0 / width) / (1.0 - 1.0 / width))


def info_m_and_c(nmi: np.ndarray, active: np.ndarray) -> tuple:
    """``(InfoM, InfoC)`` from the NMI [K, L] and the active-latent mask [L]."""
    nmi = np.asarray(nmi, dtype=np.float64)[:, np.asarray(active, bool)]
    if nmi.shape[1] == 0:
        return 0.0, 0.0
    return _normalized_peak(nmi.T), _normalized_peak(nmi)


def info_e(sources: np.ndarray, latents: np.ndarray, discrete_latents: bool = False, max_iter: int = 100,
           n_jobs: int = 1) -> float:
    """InfoE: mean over sources of ``1 - CE / ln K`` for an in-sample balanced multinomial logistic
    regression from all latents (reference ``compute_infoe``); sources fitted in ``n_jobs`` processes."""
    labels = label_encode(sources)
    latents = np.asarray(latents, dtype=np.float64)
    if discrete_latents:
        encoded = label_encode(latents)
        features = np.concatenate([np.eye(int(encoded[:, j].max()) + 1)[encoded[:, j]]
                                   for j in range(encoded.shape[1])], axis=1)
    else:
        std = latents.std(axis=0)
        features = (latents - latents.mean(axis=0)) / np.where(std > 0, std, 1.0)
    tasks = [(features, labels[:, i], max_iter) for i in range(labels.shape[1]) if labels[:, i].max() > 0]
    scores = utils.parallel_map(_explicitness_of_source, tasks, n_jobs)
    return float(np.mean(scores)) if scores else 0.0


def _explicitness_of_source(features: np.ndarray, labels: np.ndarray, max_iter: int) -> float:
    """``1 - CE / ln K`` of a balanced, unpenalised multinomial logistic regression, in-sample."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    model = utils.fit_classifier(
        lambda: LogisticRegression(penalty=None, class_weight="balanced", solver="lbfgs", max_iter=max_iter,
                                   tol=1e-4), features, labels)
    cross_entropy = log_loss(labels, model.predict_proba(features), labels=model.classes_)
    return 1.0 - cross_entropy / np.log(int(labels.max()) + 1)


def infomec_from_codes(codes: np.ndarray, factors: np.ndarray, discrete_latents: bool = False,
                       n_neighbors: int = 10, active_ratio: float = 20.0, logistic_max_iter: int = 100,
                       n_jobs: int = 1) -> dict:
    """InfoM, InfoE, InfoC of latents ``codes`` [N, L] for sources ``factors`` [N, K]."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise utils.MetricError(f"infomec: codes {codes.shape} and factors {factors.shape} must be [N, L] "
                                "and [N, K] with the same N")
    varying = np.array([len(np.unique(factors[:, i])) > 1 for i in range(factors.shape[1])])
    factors = factors[:, varying]
    nmi = normalized_mutual_information(factors, codes, discrete_latents, n_neighbors)
    active = active_latents(codes, discrete_latents, active_ratio)
    infom, infoc = info_m_and_c(nmi, active)
    return {"infom": infom, "infoe": info_e(factors, codes, discrete_latents, logistic_max_iter, n_jobs),
            "infoc": infoc, "num_active_latents": int(active.sum()), "nmi": nmi.tolist()}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "batch_size", "n_neighbors", "logistic_max_iter")
    if not settings["active_ratio"] >= 1.0:
        raise utils.MetricError(f"infomec.active_ratio must be >= 1, got {settings['active_ratio']!r}")
    codes, factors = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"], cache)
    return infomec_from_codes(codes, factors, settings["discrete_latents"], settings["n_neighbors"],
                              settings["active_ratio"], settings["logistic_max_iter"], settings["n_jobs"])
