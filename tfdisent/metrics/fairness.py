"""Unfairness of downstream predictors trained on a representation (Locatello, Abbati, Rainforth,
Bauer, Schölkopf & Bachem 2019, "On the Fairness of Disentangled Representations", NeurIPS, Sec. 4).

One classifier per *target* factor ``i`` is trained on ``num_train`` i.i.d. codes. For every
*sensitive* factor ``j != i``, ``num_test_points_per_class`` factor vectors are drawn once; for each
value ``c`` of factor ``j`` they are intervened on (``y_j := c``), rendered, encoded and classified,
giving counts ``N[pred, c]``. The unfairness of (i, j) is the total-variation distance between the
prediction distribution under ``y_j = c`` and the pooled one (Eq. 2 of the paper, demographic
parity under intervention):

    TV_c = 1/2 sum_pred | N[pred, c] / N[., c] - N[pred, .] / N[., .] |
    mean_fairness[i, j] = sum_c TV_c N[., c] / N[., .]        max_fairness[i, j] = max_c TV_c

Both matrices are then summarised over the off-diagonal (pred, sens) pairs by mean and max in every
combination; the paper's score is ``mean_fairness:mean_pred:mean_sens``.

Reference: disentanglement_lib ``evaluation/metrics/fairness.py`` (gin ``fairness``,
fairness_study_v1): num_train=10000, num_test_points_per_class=100, batch_size=16, predictor
``gradient_boosting_classifier`` (scikit-learn defaults). Output keys, exactly the reference's:
``{m}:pred{i}:sens{j}``, ``{m}:pred{i}:mean_sens``, ``{m}:pred{i}:max_sens``, ``{m}:sens{j}:mean_pred``,
``{m}:sens{j}:max_pred``, ``{m}:mean_sens:mean_pred``, ``{m}:mean_sens:max_pred``,
``{m}:max_sens:mean_pred``, ``{m}:max_sens:max_pred``, ``{m}:mean_pred:mean_sens``,
``{m}:mean_pred:max_sens``, ``{m}:max_pred:mean_sens``, ``{m}:max_pred:max_sens`` for
``m`` in ``mean_fairness``, ``max_fairness``.

Random-stream fidelity: the draws happen in the reference's order (the training sample, then for
each target ``i`` and sensitive ``j != i`` one ``sample_factors`` call followed by one
``sample_observations_from_factors`` call per value ``c``); fitting does not touch the stream, so
the classifiers are fitted first (in parallel over targets, ``n_jobs``) and all intervened
observations are encoded in large batches.

Deviations: the TV distances are computed in float64 (the reference uses float32); the GBT is
seeded (``utils.ESTIMATOR_SEED``) where the reference's is not; a target factor with a single value
in the training sample gets a constant classifier; fewer than two factors raise MetricError
(the reference averages an empty list).
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Tuple

import numpy as np

from tfdisent.metrics import utils

NAME = "fairness"
REFERENCE_NAME = "fairness"
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "num_test_points_per_class": 100, "batch_size": 16,
            "gbt_backend": "sklearn", "n_jobs": -1}
CHOICES = {"gbt_backend": utils.GBT_BACKENDS}
SCORE_KEYS = ("mean_fairness:mean_pred:mean_sens",)  # the paper's score; every combination is reported


def inter_group_fairness(counts: np.ndarray) -> Tuple[float, float]:
    """Count-weighted mean and maximum over sensitive classes of the TV distance between the
    prediction distribution within the class and the pooled one.

    ``counts`` is [num_predicted_classes, num_sensitive_classes]; every column must be non-empty.
    """
    counts = np.asarray(counts, dtype=np.float64)
    per_class = counts.sum(axis=0)                      # N[., c]
    overall = counts.sum(axis=1) / counts.sum()         # N[pred, .] / N
    within = counts / per_class[None, :]                # N[pred, c] / N[., c]
    tv = 0.5 * np.abs(within - overall[:, None]).sum(axis=0)
    return float(np.sum(tv * per_class) / per_class.sum()), float(np.max(tv))


def scores_dict(matrix: np.ndarray, prefix: str) -> Dict[str, float]:
    """All mean/max summaries of an unfairness matrix [pred, sens] over its off-diagonal entries,
    under the reference's key names (see the module docstring)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    num = matrix.shape[0]
    off_diagonal = ~np.eye(num, dtype=bool)
    result: Dict[str, float] = {}
    for i in range(num):
        for j in range(num):
            if i != j:
                result[f"{prefix}:pred{i}:sens{j}"] = float(matrix[i, j])
    row_means, row_maxs = [], []
    for i in range(num):
        values = matrix[i][off_diagonal[i]]
        row_means.append(values.mean())
        row_maxs.append(values.max())
        result[f"{prefix}:pred{i}:mean_sens"] = float(row_means[-1])
        result[f"{prefix}:pred{i}:max_sens"] = float(row_maxs[-1])
    column_means, column_maxs = [], []
    for j in range(num):
        values = matrix[:, j][off_diagonal[:, j]]
        column_means.append(values.mean())
        column_maxs.append(values.max())
        result[f"{prefix}:sens{j}:mean_pred"] = float(column_means[-1])
        result[f"{prefix}:sens{j}:max_pred"] = float(column_maxs[-1])
    result[f"{prefix}:mean_sens:mean_pred"] = float(np.mean(column_means))
    result[f"{prefix}:mean_sens:max_pred"] = float(np.mean(column_maxs))
    result[f"{prefix}:max_sens:mean_pred"] = float(np.max(column_means))
    result[f"{prefix}:max_sens:max_pred"] = float(np.max(column_maxs))
    result[f"{prefix}:mean_pred:mean_sens"] = float(np.mean(row_means))
    result[f"{prefix}:mean_pred:max_sens"] = float(np.mean(row_maxs))
    result[f"{prefix}:max_pred:mean_sens"] = float(np.max(row_means))
    result[f"{prefix}:max_pred:max_sens"] = float(np.max(row_maxs))
    return result


def _fit_target(codes_train: np.ndarray, labels: np.ndarray, gbt_backend: str):
    return utils.fit_classifier(lambda: utils.make_gradient_boosting(gbt_backend), codes_train, labels)


def unfairness_matrices(predict_fns, intervened_codes: Dict[Tuple[int, int], List[np.ndarray]],
                        factor_sizes) -> Tuple[np.ndarray, np.ndarray]:
    """``(mean_fairness, max_fairness)`` [K, K] from the codes of every intervention.

    ``intervened_codes[(i, j)][c]`` holds the codes of the test points with factor ``j`` set to
    ``c``; ``predict_fns[i]`` maps codes to predicted values of factor ``i``.
    """
    num = len(factor_sizes)
    mean_fairness = np.zeros((num, num))
    max_fairness = np.zeros((num, num))
    for (i, j), per_value in intervened_codes.items():
        counts = np.zeros((factor_sizes[i], factor_sizes[j]), dtype=np.int64)
        for c, codes in enumerate(per_value):
            predictions = np.asarray(predict_fns[i](codes)).astype(np.int64)
            counts[:, c] = np.bincount(predictions, minlength=factor_sizes[i])[:factor_sizes[i]]
        mean_fairness[i, j], max_fairness[i, j] = inter_group_fairness(counts)
    return mean_fairness, max_fairness


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "num_test_points_per_class", "batch_size")
    sizes = [int(size) for size in dataset.factor_sizes]
    if len(sizes) < 2:
        raise utils.MetricError(f"fairness needs at least two factors (a target and a sensitive one), "
                                f"the dataset has {len(sizes)}")
    codes_train, factors_train = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"], cache)
    models = utils.parallel_map(_fit_target, [(codes_train, factors_train[:, i], settings["gbt_backend"])
                                              for i in range(len(sizes))], settings["n_jobs"])

    pairs = [(i, j) for i in range(len(sizes)) for j in range(len(sizes)) if i != j]
    per_point = settings["num_test_points_per_class"]

    def intervened_observations() -> Iterator[np.ndarray]:
        # The reference's draw order: per (target, sensitive) one set of factors, then one
        # rendering per value of the sensitive factor.
        for _, j in pairs:
            original = np.asarray(dataset.sample_factors(per_point, random_state))
            for c in range(sizes[j]):
                intervened = original.copy()
                intervened[:, j] = c
                yield dataset.sample_observations_from_factors(intervened, random_state)

    codes = utils.encode_batches(representation_fn, intervened_observations())
    intervened_codes: Dict[Tuple[int, int], List[np.ndarray]] = {}
    offset = 0
    for i, j in pairs:
        intervened_codes[(i, j)] = [codes[offset + c * per_point:offset + (c + 1) * per_point]
                                    for c in range(sizes[j])]
        offset += sizes[j] * per_point
    mean_fairness, max_fairness = unfairness_matrices([model.predict for model in models], intervened_codes,
                                                      sizes)
    scores = scores_dict(mean_fairness, "mean_fairness")
    scores.update(scores_dict(max_fairness, "max_fairness"))
    return scores
