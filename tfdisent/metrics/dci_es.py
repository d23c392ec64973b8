"""DCI-ES: DCI with explicitness E and size S (Eastwood, Nicolicioiu, von Kügelgen, Kekić,
Träuble, Dittadi & Schölkopf, ICLR 2023, "DCI-ES: An Extended Disentanglement Framework with
Connections to Identifiability").

Reference: andreinicolicioiu/DCI-ES (``src/train_probe.py``, ``loss_capacity/*``,
``metrics/explitcitness.py``, ``src/simple_gather.py``, ``configs/*``). One probe per factor is
trained at every capacity of a grid; each factor's **loss–capacity curve** gives its explicitness:

* targets: a discrete (categorical) factor is classified (score = test accuracy), every other factor
  regressed on ``index / (size - 1)`` (score = ``R^2 = 1 - MSE / Var`` with ``Var`` the variance of
  the normalised **full factor grid**, ``(K + 1) / (12 (K - 1))``); loss ``l = 1 - score``; the
  baseline loss of a probe that knows nothing is ``l_b = 1 - 1/K`` (discrete) or 1 (continuous);
* explicitness of factor k (``metrics/explitcitness.py``): x = capacity (random forests) or
  ln(capacity) (MLPs); the curve is made monotone (``l_i <- min(l_1..l_i)``); ``AULCC`` = trapezoid
  area of ``l - min l`` over x; ``E_k = 1 - 2 AULCC / ((x_max - x_min) l_b)``, in [-1, 1]; E = mean.
  E is 1 for a curve that is flat at *any* level (a code with no information too), so always read
  the informativeness I beside it;
* I = mean test score at the capacity with the highest mean test score; D and C are the Eastwood &
  Williams formulas (:func:`tfdisent.metrics.dci.disentanglement`, ``completeness``) on the
  importance matrix of that capacity;
* size ``S = K / L`` (number of factors over code dimensions). The reference repository does not
  compute S; this is the paper's ``dim(z) / dim(c)`` as the reference notes recall it (**unverified**
  against the paper's text).

Probe families (``family``):

* ``random_forest`` (default; the reference's ``configs/random_forest`` and the family
  ``simple_gather`` reports): scikit-learn ``RandomForest{Classifier,Regressor}``, capacity =
  ``max_depth`` over ``forest_depths`` = the reference grid (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20,
  32); importances |Gini importance|.
* ``mlp``: scikit-learn ``MLP{Classifier,Regressor}``, two ReLU hidden layers of width w over
  ``mlp_widths`` (the reference grid up to 243; 0 = linear probe), Adam, learning rate 4e-3 (the
  reference's default), batch 128, ``mlp_epochs`` epochs; capacity = trainable parameters of the
  probe, x = ln(capacity).
* ``rff``: random Fourier features with a learned linear head (:mod:`tfdisent.metrics.rff_probe`;
  the reference's ``RFFProbeIndividual``, sigma 0.08), capacity = number of random features D over
  ``rff_features``, x = ln(D). The reference grid is 16 ... 131,072 (``rff_probe.REFERENCE_FEATURES``);
  the default stops at 1024 (``DEFAULT_RFF_FEATURES``): the head is fitted exactly (ridge through
  an eigendecomposition of the D x D Gram matrix, or softmax regression by L-BFGS), whose cost grows
  as D^3 and N D^2 (the ridge fit of one factor at N = 10,000 took ~9 s with 2048 features and
  ~160 s with 4096 on the 2-core development box at load average ~10). Pass larger grids in
  ``rff_features`` to run them.

D and C of the ``mlp`` and ``rff`` probes come from ``importance``: ``sage`` (default, the
reference's choice) = SAGE values (Covert et al. 2020; :mod:`tfdisent.metrics.sage`, the reference's
settings: the first 32 test rows as marginal background, 128 permutations per batch, convergence
threshold ``sage_thresh`` 0.1, at most ``sage_max_permutations``), or ``permutation`` = permutation
importance (the earlier stand-in). Either way ``R[:, k] = |importance| / sum |importance|`` and
only the probe at the best capacity is explained (the reference computes SAGE at every capacity
and reads D and C at the best one). Random forests always use their Gini importances.

Left out, with reasons: RFF grids above 1024 and MLP widths 467 to 3603 by default (see above;
scikit-learn MLPs of those widths take minutes per fit on CPU); the reference's 10 seeds per
configuration (run the metric with several seeds).

Deviations from the reference:
* the forests of all depths come from one forest per factor grown to the largest depth and cut at
  each depth (:func:`_fit_forest_curve`: the same trees for regressors, the same distribution of
  trees for classifiers), not one fit per depth;
* ``n_estimators`` defaults to 10 trees instead of 100 so that the 12-depth sweep takes seconds
  (``benchmarks/evaluate_speed.py``; pass ``n_estimators=100`` for the reference);
* the probes train on ``num_train`` i.i.d. draws and are scored on ``num_test`` others (the
  reference: 30% of the full dataset, its 'random' split, 5% of it as validation);
* the MLPs train for ``mlp_epochs`` (default 50) epochs, not the reference's ``10 * 295488 // N``
  epochs (295 at N = 10,000), with a constant learning rate (no MultiStepLR);
* the RFF heads are fitted in closed form / by L-BFGS with a validation-chosen ridge (continuous)
  or the best-validation iterate (categorical), not by AdamW at lr 2e-5 with the best validation
  epoch kept (:mod:`tfdisent.metrics.rff_probe`);
* which factors are categorical: the reference's list (dSprites shape; Shapes3D the three hues and
  the shape; MPI3D object colour, shape and background colour; Cars3D object) for those datasets
  (``discrete_factors=auto``), else none; or name them in ``discrete_factors``.

Keys: ``explicitness``, ``size``, ``disentanglement``, ``completeness``, ``informativeness_test``,
``informativeness_train``, ``best_capacity``, and the full curves: ``capacities`` [m],
``test_losses`` [K][m], ``explicitness_per_factor`` [K], ``discrete_factors`` (names or indices).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from tfdisent.metrics import dci as dci_metric
from tfdisent.metrics import rff_probe
from tfdisent.metrics import sage as sage_lib
from tfdisent.metrics import utils

NAME = "dci_es"
REFERENCE_NAME = None  # not part of disentanglement_lib
NEEDS_FACTORS = True
FAMILIES = ("random_forest", "mlp", "rff")
IMPORTANCES = ("sage", "permutation")
REFERENCE_FOREST_DEPTHS = (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32)
REFERENCE_MLP_WIDTHS = (0, 14, 21, 28, 33, 47, 75, 103, 131, 243, 467, 915, 1811, 3603)
# The reference's RFF grid (rff_probe.REFERENCE_FEATURES) reaches 131,072 features; the default stops
# at 1024: the ridge head's Gram eigendecomposition grows as D^3 (BUILD_NOTES "Modern metrics").
DEFAULT_RFF_FEATURES = (16, 32, 64, 128, 256, 512, 1024)
# num_train / num_test / batch_size equal dci's, so a shared SampleCache reuses its draws.
DEFAULTS = {"num_train": 10000, "num_test": 5000, "batch_size": 16, "family": "random_forest",
            "forest_depths": REFERENCE_FOREST_DEPTHS, "n_estimators": 10,
            "mlp_widths": REFERENCE_MLP_WIDTHS[:10], "mlp_epochs": 50,
            "rff_features": DEFAULT_RFF_FEATURES, "rff_sigma": rff_probe.REFERENCE_SIGMA, "rff_max_iter": 200,
            "importance": "sage", "sage_thresh": sage_lib.REFERENCE_THRESHOLD, "sage_max_permutations": 2048,
            "discrete_factors": ("auto",), "n_jobs": -1}
CHOICES = {"family": FAMILIES, "importance": IMPORTANCES}
SCORE_KEYS = ("explicitness", "size", "disentanglement", "completeness", "informativeness_test",
              "informativeness_train", "best_capacity", "capacities", "test_losses", "explicitness_per_factor")

# The reference's categorical factors per dataset (``load_dataset.py``), by our factor names.
REFERENCE_DISCRETE_FACTORS = {
    "dsprites": ("shape",),
    "shapes3d": ("floor_hue", "wall_hue", "object_hue", "shape"),
    "mpi3d": ("object_color", "object_shape", "background_color"),
    "cars3d": ("object",),
}


def explicitness_from_curve(capacities: Sequence[float], losses: Sequence[float], baseline_loss: float,
                            log_capacity: bool = False) -> float:
    """E of one loss–capacity curve (reference ``metrics/explitcitness.py``, the ICLR version that
    assumes the optimal loss 0 in the normaliser): ``1 - 2 AULCC / ((x_max - x_min) l_b)``.

    ``capacities`` increasing; ``losses`` the test losses; ``baseline_loss`` ``l_b`` > 0.
    A single capacity has no curve: E = 1.
    """
    x = np.asarray(capacities, dtype=np.float64)
    if log_capacity:
        x = np.log(x)
    losses = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    if len(x) < 2 or x[-1] == x[0]:
        return 1.0
    excess = losses - losses.min()
    area = float(np.sum((excess[1:] + excess[:-1]) * np.diff(x)) / 2.0)
    return 1.0 - 2.0 * area / ((x[-1] - x[0]) * float(baseline_loss))


def grid_variance(size: int) -> float:
    """Variance of ``index / (size - 1)`` over a uniform grid of ``size`` values."""
    return (size + 1.0) / (12.0 * (size - 1.0)) if size > 1 else 0.0


def resolve_discrete_factors(spec: Sequence[str], dataset_name: Optional[str],
                             factor_names: Sequence[str], num_factors: int) -> Tuple[int, ...]:
    """Indices of the categorical factors: ``("auto",)`` = the reference's list for the dataset;
    ``("none",)`` or ``()`` = none; else names (or integer indices as strings)."""
    spec = tuple(spec)
    if spec == ("auto",):
        base = (dataset_name or "").split("_")[0]
        spec = tuple(name for name in REFERENCE_DISCRETE_FACTORS.get(base, ()) if name in factor_names)
    if spec in ((), ("none",)):
        return ()
    indices = []
    for item in spec:
        if item in factor_names:
            indices.append(list(factor_names).index(item))
        elif str(item).isdigit() and int(item) < num_factors:
            indices.append(int(item))
        else:
            raise utils.MetricError(f"dci_es.discrete_factors: unknown factor {item!r}; factors are "
                                    f"{', '.join(factor_names) or f'0..{num_factors - 1}'}")
    return tuple(sorted(set(indices)))


def _make_probe(family: str, capacity: int, discrete: bool, n_estimators: int, mlp_epochs: int):
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        kind = RandomForestClassifier if discrete else RandomForestRegressor
        return lambda: kind(n_estimators=n_estimators, max_depth=int(capacity), random_state=utils.ESTIMATOR_SEED,
                            n_jobs=1)
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    kind = MLPClassifier if discrete else MLPRegressor
    hidden = (int(capacity),) * 2 if capacity > 0 else ()
    return lambda: kind(hidden_layer_sizes=hidden, activation="relu", solver="adam", learning_rate_init=4e-3,
                        batch_size=128, max_iter=mlp_epochs, shuffle=True, random_state=utils.ESTIMATOR_SEED)


def _ancestors_at_depths(tree, depths: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """``(ancestors [node_count, len(depths)], node depth [node_count])``: each node's ancestor at
    depth ``d`` (itself when not deeper), i.e. the leaf it falls into when the tree is cut at depth
    ``d``. Built level by level from the root."""
    left, right = tree.children_left, tree.children_right
    ancestors = np.zeros((tree.node_count, len(depths)), dtype=np.int64)
    node_depth = np.zeros(tree.node_count, dtype=np.int64)
    depths = np.asarray(depths)
    level, frontier = 0, np.array([0])
    while frontier.size:
        split = frontier[left[frontier] >= 0]
        children = np.concatenate([left[split], right[split]])
        parents = np.concatenate([split, split])
        level += 1
        deeper = level > depths  # children below depth d keep their parent's ancestor at d
        ancestors[children] = np.where(deeper[None, :], ancestors[parents], children[:, None])
        node_depth[children] = level
        frontier = children
    return ancestors, node_depth


def _truncated_importances(tree, node_depth: np.ndarray, node_depth_limits: np.ndarray,
                           num_features: int) -> np.ndarray:
    """[len(depths), L] impurity-decrease importances of the tree cut at each depth, each normalised
    to sum 1 (sklearn ``DecisionTree*.feature_importances_``; zeros for a single-leaf tree)."""
    left, right = tree.children_left, tree.children_right
    weighted = tree.weighted_n_node_samples * tree.impurity
    internal = np.flatnonzero(left >= 0)
    decrease = weighted[internal] - weighted[left[internal]] - weighted[right[internal]]
    node_depth = node_depth[internal]
    result = np.zeros((len(node_depth_limits), num_features))
    for k, limit in enumerate(node_depth_limits):
        keep = node_depth < limit
        totals = np.bincount(tree.feature[internal[keep]], decrease[keep], minlength=num_features)
        if totals.sum() > 0:
            result[k] = totals / totals.sum()
    return result


def _fit_forest_curve(depths, discrete, n_estimators, x_train, y_train, x_test, y_test, variance):
    """Train/test scores [m] and importances [m, L] of random forests of every depth in ``depths``.

    One forest is grown to the largest depth and each tree is cut at every smaller depth. A tree is
    grown greedily node by node, and a node's split depends only on the samples reaching it, so the
    cut tree is a tree grown with that ``max_depth``: for regressors (all features at every node)
    it is the same tree, up to ties between equally good splits; for classifiers (a random
    ``sqrt(L)`` features per node) the features drawn for a node differ from a separate fit, but
    come from the same distribution. Cut leaves predict their node's value (the bootstrap mean, or
    class proportions), as a leaf of a depth-limited tree does. One fit instead of 12 makes the
    reference's 100-tree sweep affordable (BUILD_NOTES "Modern metrics").
    """
    model = utils.fit_classifier(_make_probe("random_forest", max(depths), discrete, n_estimators, 0),
                                 x_train, y_train)
    num_codes, m = x_train.shape[1], len(depths)
    if isinstance(model, utils.ConstantClassifier):
        train = utils.accuracy(model, x_train, y_train)
        test = utils.accuracy(model, x_test, y_test)
        return np.full(m, train), np.full(m, test), np.zeros((m, num_codes))
    leaves_train, leaves_test = model.apply(x_train), model.apply(x_test)
    outputs = model.n_classes_ if discrete else 1
    predictions_train = np.zeros((m, len(x_train), outputs))
    predictions_test = np.zeros((m, len(x_test), outputs))
    importances, split_trees = np.zeros((m, num_codes)), np.zeros(m)
    limits = np.asarray(depths)
    for t, estimator in enumerate(model.estimators_):
        tree = estimator.tree_
        ancestors, node_depth = _ancestors_at_depths(tree, depths)
        values = tree.value[:, 0, :]  # regression: means; classification: class proportions
        for k in range(m):
            predictions_train[k] += values[ancestors[leaves_train[:, t], k]]
            predictions_test[k] += values[ancestors[leaves_test[:, t], k]]
        per_depth = _truncated_importances(tree, node_depth, limits, num_codes)
        importances += per_depth
        split_trees += per_depth.sum(axis=1) > 0
    # Forest importances: mean over the trees that split, renormalised (sklearn BaseForest).
    importances /= np.maximum(split_trees, 1)[:, None]
    totals = importances.sum(axis=1, keepdims=True)
    importances = np.where(totals > 0, importances / np.where(totals > 0, totals, 1.0), 0.0)

    def scores(predictions, y):
        if discrete:
            return np.mean(model.classes_[np.argmax(predictions, axis=2)] == y[None, :], axis=1)
        mean = predictions[:, :, 0] / len(model.estimators_)
        return 1.0 - np.mean((mean - y[None, :]) ** 2, axis=1) / variance

    return scores(predictions_train, y_train), scores(predictions_test, y_test), importances


def fit_network_probe(family: str, capacity: int, discrete: bool, size: int, probe_settings: dict,
                      x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                      variance: float) -> tuple:
    """(train score, test score, fitted probe, trainable parameters) of one ``mlp`` or ``rff`` probe."""
    if family == "rff":
        sigma, max_iter = probe_settings["rff_sigma"], probe_settings["rff_max_iter"]
        classes = size if discrete else 0
        model = utils.fit_classifier(lambda: rff_probe.RFFProbe(capacity, x_train.shape[1], classes, sigma, max_iter),
                                     x_train, y_train)
    else:
        model = utils.fit_classifier(_make_probe("mlp", capacity, discrete, 0, probe_settings["mlp_epochs"]),
                                     x_train, y_train)

    def score(x, y):
        if discrete:
            return utils.accuracy(model, x, y)
        return 1.0 - float(np.mean((model.predict(x) - y) ** 2)) / variance

    if isinstance(model, utils.ConstantClassifier):
        parameters = 0
    elif family == "rff":
        parameters = model.num_parameters
    else:
        parameters = sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)
    return score(x_train, y_train), score(x_test, y_test), model, parameters


def class_probabilities(model, x: np.ndarray, size: int) -> np.ndarray:
    """[n, size] probabilities of the labels ``0..size-1`` (a scikit-learn probe gives the classes it
    never saw in training 0; an RFF probe has an output for every label)."""
    if isinstance(model, rff_probe.RFFProbe):
        return model.predict_proba(x)
    full = np.zeros((len(x), size))
    full[:, np.asarray(model.classes_, np.int64)] = model.predict_proba(x)
    return full


def permutation_importance(model, x: np.ndarray, y: np.ndarray, discrete: bool, repeats: int = 3) -> np.ndarray:
    """[L] mean drop of the probe's score (accuracy, or minus the MSE) when one column of ``x`` is
    shuffled, over ``repeats`` shuffles (Breiman 2001; the definition of scikit-learn's
    ``permutation_importance``, with its own shuffles, for any probe with ``predict``)."""
    def score(rows):
        predictions = model.predict(rows)
        return float(np.mean(predictions == y)) if discrete else -float(np.mean((predictions - y) ** 2))

    rng = np.random.RandomState(utils.ESTIMATOR_SEED)
    baseline, drops = score(x), np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        shuffled = x.copy()
        for _ in range(repeats):
            shuffled[:, j] = x[rng.permutation(len(x)), j]
            drops[j] += (baseline - score(shuffled)) / repeats
    return drops


def probe_importance(model, discrete: bool, size: int, importance: str, sage_thresh: float,
                     sage_max_permutations: int, x_test: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """Importances [L] of the code dimensions for one fitted probe, normalised to sum 1 (the
    reference's ``|SAGE| / sum |SAGE|``); zeros for a probe that predicts a constant.

    ``sage``: SAGE values (:func:`tfdisent.metrics.sage.sage_values`) with the reference's settings —
    the first 32 test rows as the marginal background, batches of 128 permutations, convergence
    threshold ``sage_thresh`` (0.1), loss cross-entropy (categorical) or MSE. ``permutation``:
    :func:`permutation_importance`, the pre-SAGE stand-in.
    """
    num_codes = x_test.shape[1]
    if isinstance(model, utils.ConstantClassifier):
        return np.zeros(num_codes)
    if importance == "sage":
        if discrete:
            predict, loss, y = (lambda rows: class_probabilities(model, rows, size)), "cross_entropy", y_test
        else:
            predict, loss, y = model.predict, "mse", y_test
        values = sage_lib.sage_values(predict, x_test, y, loss, thresh=sage_thresh,
                                      max_permutations=sage_max_permutations,
                                      random_state=utils.ESTIMATOR_SEED).values
    else:
        values = permutation_importance(model, x_test, y_test, discrete)
    values = np.abs(np.asarray(values, np.float64))
    total = values.sum()
    return values / total if total > 0 else np.zeros(num_codes)


def dci_es_from_codes(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                      factors_test: np.ndarray, factor_sizes: Sequence[int], discrete_factors: Sequence[int] = (),
                      family: str = "random_forest", capacities: Sequence[int] = REFERENCE_FOREST_DEPTHS,
                      n_estimators: int = 10, mlp_epochs: int = 50, n_jobs: int = -1, importance: str = "sage",
                      rff_sigma: float = rff_probe.REFERENCE_SIGMA, rff_max_iter: int = 200,
                      sage_thresh: float = sage_lib.REFERENCE_THRESHOLD, sage_max_permutations: int = 2048) -> dict:
    """DCI-ES of codes against integer factors (sizes ``factor_sizes``); see the module docstring."""
    if family not in FAMILIES:
        raise utils.MetricError(f"dci_es: unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    if importance not in IMPORTANCES:
        raise utils.MetricError(f"dci_es: unknown importance {importance!r}; choose one of {', '.join(IMPORTANCES)}")
    capacities = sorted(set(int(c) for c in capacities))
    smallest = {"random_forest": 1, "mlp": 0, "rff": 2}[family]
    if not capacities or capacities[0] < smallest or (family == "rff" and any(c % 2 for c in capacities)):
        raise utils.MetricError(f"dci_es: capacities must be non-empty and >= {smallest}"
                                f"{' and even' if family == 'rff' else ''}, got {capacities}")
    codes_train, codes_test = np.asarray(codes_train, np.float64), np.asarray(codes_test, np.float64)
    # Probes see standardised codes (the reference standardises the cached representations).
    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = (codes_train - mean) / std, (codes_test - mean) / std
    sizes = [int(s) for s in factor_sizes]
    discrete = set(int(k) for k in discrete_factors)
    targets = []
    for k, size in enumerate(sizes):
        if k in discrete:
            targets.append((factors_train[:, k], factors_test[:, k], 1.0, 1.0 - 1.0 / size if size > 1 else 1.0))
        else:
            scale = max(size - 1, 1)
            targets.append((factors_train[:, k] / scale, factors_test[:, k] / scale,
                            grid_variance(size) or 1.0, 1.0))
    num_factors, num_capacities = len(sizes), len(capacities)
    train_scores = np.zeros((num_factors, num_capacities))
    test_scores = np.zeros((num_factors, num_capacities))
    parameters = np.zeros((num_factors, num_capacities))
    informative = np.array([size > 1 for size in sizes])
    if family == "random_forest":
        importances = np.zeros((num_capacities, codes_train.shape[1], num_factors))
        tasks = [(capacities, k in discrete, n_estimators, x_train, y_train, x_test, y_test, variance)
                 for k, (y_train, y_test, variance, _) in enumerate(targets)]
        for k, (train, test, importance_k) in enumerate(utils.parallel_map(_fit_forest_curve, tasks, n_jobs)):
            train_scores[k], test_scores[k], importances[:, :, k] = train, test, importance_k
        best = int(np.argmax(test_scores[informative].mean(axis=0))) if informative.any() else 0
        importance_matrix = importances[best]
    else:
        probe_settings = {"mlp_epochs": mlp_epochs, "rff_sigma": rff_sigma, "rff_max_iter": rff_max_iter}
        tasks, where = [], []
        for k, (y_train, y_test, variance, _) in enumerate(targets):
            for c, capacity in enumerate(capacities):
                tasks.append((family, capacity, k in discrete, sizes[k], probe_settings, x_train, y_train, x_test,
                              y_test, variance))
                where.append((k, c))
        # Largest probes first so that parallel workers finish together.
        order = sorted(range(len(tasks)), key=lambda t: -tasks[t][1])
        results = utils.parallel_map(fit_network_probe, [tasks[t] for t in order], n_jobs)
        models = {}
        for t, (train, test, model, count) in zip(order, results):
            k, c = where[t]
            train_scores[k, c], test_scores[k, c], parameters[k, c], models[k, c] = train, test, count, model
        best = int(np.argmax(test_scores[informative].mean(axis=0))) if informative.any() else 0
        # Importances only where D and C are read: the capacity with the best mean test score (the
        # reference computes SAGE at every capacity and reports the best one's).
        importance_tasks = [(models[k, best], k in discrete, sizes[k], importance, sage_thresh, sage_max_permutations,
                             x_test, targets[k][1]) for k in range(num_factors)]
        importance_matrix = np.stack(utils.parallel_map(probe_importance, importance_tasks, n_jobs), axis=1)
    losses = 1.0 - test_scores
    if family == "random_forest":
        x_values, log_capacity = np.asarray(capacities, np.float64), False
    elif family == "rff":  # capacity = number of random features (the reference's hidden_dim), x = ln
        x_values, log_capacity = np.asarray(capacities, np.float64), True
    else:  # capacity = trainable parameters of the probe (the reference: parameter count per factor)
        x_values, log_capacity = parameters.mean(axis=0)[None, :].repeat(num_factors, 0), True
    per_factor = np.array([
        explicitness_from_curve(x_values if x_values.ndim == 1 else x_values[k], losses[k], targets[k][3],
                                log_capacity) if informative[k] else np.nan
        for k in range(num_factors)])
    importance_matrix = importance_matrix[:, informative]
    plotted = parameters.mean(axis=0) if family == "mlp" else np.asarray(capacities)
    return {
        "explicitness": float(np.nanmean(per_factor)) if informative.any() else 0.0,
        "size": float(num_factors / codes_train.shape[1]),
        "disentanglement": dci_metric.disentanglement(importance_matrix),
        "completeness": dci_metric.completeness(importance_matrix),
        "informativeness_test": float(test_scores[informative, best].mean()) if informative.any() else 0.0,
        "informativeness_train": float(train_scores[informative, best].mean()) if informative.any() else 0.0,
        "best_capacity": int(capacities[best]),
        "capacities": [float(v) for v in plotted],
        "test_losses": losses.tolist(),
        "explicitness_per_factor": [None if np.isnan(v) else float(v) for v in per_factor],
    }


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "num_test", "batch_size", "n_estimators", "mlp_epochs",
                             "rff_max_iter", "sage_max_permutations")
    if not 0.0 < float(settings["sage_thresh"]) < 1.0 or not float(settings["rff_sigma"]) > 0.0:
        raise utils.MetricError(f"dci_es: need 0 < sage_thresh < 1 and rff_sigma > 0, got "
                                f"{settings['sage_thresh']!r} and {settings['rff_sigma']!r}")
    sizes = tuple(int(s) for s in dataset.factor_sizes)
    names = tuple(getattr(dataset, "factor_names", ()) or ())
    discrete = resolve_discrete_factors(settings["discrete_factors"], getattr(dataset, "name", None), names,
                                        len(sizes))
    family = settings["family"]
    capacities = {"random_forest": settings["forest_depths"], "mlp": settings["mlp_widths"],
                  "rff": settings["rff_features"]}[family]
    codes_train, factors_train, codes_test, factors_test = utils.train_test_codes(
        dataset, representation_fn, random_state, settings, cache)
    scores = dci_es_from_codes(codes_train, factors_train, codes_test, factors_test, sizes, discrete, family,
                               capacities, settings["n_estimators"], settings["mlp_epochs"], settings["n_jobs"],
                               settings["importance"], float(settings["rff_sigma"]), settings["rff_max_iter"],
                               float(settings["sage_thresh"]), settings["sage_max_permutations"])
    scores["discrete_factors"] = [names[k] if k < len(names) else k for k in discrete]
    return scores
