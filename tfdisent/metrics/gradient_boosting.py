"""scikit-learn's ``GradientBoostingClassifier`` re-implemented exactly, on presorted features and
compiled with numba (the ``"exact"`` backend of DCI and the downstream task).

The model (Friedman 2001, "Greedy Function Approximation: A Gradient Boosting Machine", Alg. 6,
multinomial deviance / scikit-learn's ``log_loss``), at scikit-learn's defaults as
disentanglement_lib's DCI uses them (``GradientBoostingClassifier()``):

* ``init`` = class priors clipped to ``[eps, 1 - eps]``: ``F_k = log p_k - mean_j log p_j``
  (scikit-learn's symmetric multinomial logit); binary: ``F = logit(p_1)``, one tree per stage;
* 100 stages; at each, for each class ``k``, a depth-3 least-squares regression tree is fitted to
  the negative gradient ``r_k = 1[y = k] - softmax(F)_k`` (binary: ``y - sigmoid(F)``), grown
  depth first as scikit-learn's ``DepthFirstTreeBuilder`` with ``BestSplitter``:

  - candidate thresholds are ``v_i / 2 + v_{i+1} / 2`` (float64 of the float32 feature values)
    between consecutive sorted values of the node that differ by more than 1e-7 (float32);
  - the best split maximises the squared-error proxy ``S_L^2 / n_L + S_R^2 / n_R`` — the
    criterion scikit-learn >= 1.9 uses for gradient boosting; friedman_mse's
    ``n_L n_R / n (mean_L - mean_R)^2`` differs from it by the node constant ``S^2 / n``, so
    both pick the same split;
  - a node is a leaf below 2 samples, at impurity <= machine epsilon, or when the best
    improvement is below -epsilon;
* each leaf is set to one Newton step (scikit-learn's ``_update_terminal_regions``):
  ``(K - 1) / K * mean(r) / mean(p (1 - p))`` (binary: without the factor; 0 when the
  denominator is below 1e-150), and ``F_k += learning_rate * leaf value``;
* ``feature_importances_``: per tree, ``sum over splits of (n imp - n_L imp_L - n_R imp_R) / N``
  (impurity = variance of the residuals in the node), averaged over the trees that split at all,
  normalised to sum 1 (``BaseGradientBoosting.feature_importances_``);
* ``predict``: ``argmax_k F_k`` (binary: class 1 when ``F >= 0``); a sample goes left when
  ``x <= threshold``.

Ties: scikit-learn visits the features of every node in a random order drawn from
``random_state`` (each tree seeds its own ``rand_r`` state with one ``randint`` from the
estimator's ``RandomState``) and keeps the first strictly best split, so the random order decides
between equally good splits on different features. This module replays that generator (Fisher-
Yates draws with scikit-learn's constant-feature bookkeeping), so with the same ``random_state``
it breaks exact ties as scikit-learn does. Sums follow scikit-learn's order too (node totals over
its sample order after its sort and partition, leaf means with numpy's pairwise summation in
sample order), so the raw scores stay bit-identical (binary: exactly; multiclass: to ~1e-16, a
residual difference not tracked down). What can still differ: near-ties at rounding level —
two features that separate a tiny node identically, whose proxies then differ only in the last
bit, e.g. when scikit-learn's introsort leaves repeated feature values in an order we do not
reproduce. They move that tree's importance between those two features (tests: importances
within 3e-3 on multiclass 600-point problems, identical on tie-only problems).

Speed: scikit-learn sorts the node's samples for every feature at every node. Here each feature
is sorted once per fit; every node keeps, per feature, its samples in sorted order (the same
contiguous range for every feature), and a split stably partitions those ranges — linear work
per level. The loops are compiled with numba (``cache=True``: compiled once per installation,
a few seconds). Measured in ``benchmarks/dci_speed.py``.

Not supported (DCI needs none of them): sample weights, subsampling, missing values,
``max_features``, other losses.
"""

from __future__ import annotations

import os

from tfdisent.data.dsprites import resolve_cache_dir

NUMBA_CACHE_SUBDIR = "numba"


def shared_numba_cache() -> str:
    """Sets ``NUMBA_CACHE_DIR`` (unless the user has) to ``<tfdisent cache>/numba`` and returns it.

    The ``cache=True`` kernels below are otherwise cached in ``__pycache__`` beside the installed
    sources, which a site-packages install may not let a worker write: then every fresh trial, Ray
    task or evaluation process compiles them again (seconds each; ``benchmarks/dci_speed.py
    --first_call``). The tfdisent cache is ``$TFDISENT_CACHE_DIR``, else ``~/.cache/tfdisent``
    (:func:`tfdisent.data.dsprites.resolve_cache_dir`). numba reads the variable when it is imported,
    so this runs at this module's import, before ``import numba``, in every process that scores DCI
    (a driver, each Ray worker, each joblib worker) and on every node of a cluster (its own cache)."""
    if not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(resolve_cache_dir(), NUMBA_CACHE_SUBDIR)
    return os.environ["NUMBA_CACHE_DIR"]


shared_numba_cache()  # before numba is imported (issue 18)
import numba  # noqa: E402
import numpy as np
import scipy.special

# scikit-learn: tree/_partitioner.pxd FEATURE_THRESHOLD (float32), tree/_tree.pyx EPSILON,
# tree/_utils.pxd RAND_R_MAX.
_FEATURE_THRESHOLD = np.float32(1e-7)
_EPSILON = float(np.finfo(np.float64).eps)
_RAND_R_MAX = 2147483647


@numba.njit(cache=True, nogil=True)
def _rand_int(low, high, state):
    """scikit-learn's ``rand_int``: ``low + our_rand_r(state) % (high - low)`` (32-bit xorshift)."""
    seed = state[0]
    if seed == 0:
        seed = 1  # DEFAULT_SEED
    seed ^= (seed << 13) & 0xFFFFFFFF
    seed ^= seed >> 17
    seed ^= (seed << 5) & 0xFFFFFFFF
    state[0] = seed
    return low + (seed % (_RAND_R_MAX + 1)) % (high - low)


@numba.njit(cache=True, nogil=True)
def _negative_gradient(raw, labels, binary, out):
    """``-gradient`` of scikit-learn's HalfBinomialLoss / HalfMultinomialLoss, same formulas."""
    trees, num_points = raw.shape
    for i in range(num_points):
        if binary:
            y = 1.0 if labels[i] == 1 else 0.0
            r = raw[0, i]
            if r > -37:
                e = np.exp(-r)
                out[0, i] = -(((1 - y) - y * e) / (1 + e))
            else:
                out[0, i] = -(np.exp(r) - y)
        else:
            largest = raw[0, i]
            for k in range(1, trees):
                if largest < raw[k, i]:
                    largest = raw[k, i]
            total = 0.0
            for k in range(trees):
                out[k, i] = np.exp(raw[k, i] - largest)
                total += out[k, i]
            for k in range(trees):
                out[k, i] = -(out[k, i] / total - (1.0 if labels[i] == k else 0.0))


@numba.njit(cache=True, nogil=True)
def _pairwise_sum(values, low, count):
    """``np.add.reduce(values[low:low + count])`` bit for bit: numpy's pairwise summation (blocks
    of 128 summed in 8 interleaved partial sums, halves above that)."""
    if count < 8:
        result = -0.0
        for i in range(low, low + count):
            result += values[i]
        return result
    if count <= 128:
        r0, r1, r2, r3 = values[low], values[low + 1], values[low + 2], values[low + 3]
        r4, r5, r6, r7 = values[low + 4], values[low + 5], values[low + 6], values[low + 7]
        i = 8
        while i < count - count % 8:
            r0 += values[low + i]
            r1 += values[low + i + 1]
            r2 += values[low + i + 2]
            r3 += values[low + i + 3]
            r4 += values[low + i + 4]
            r5 += values[low + i + 5]
            r6 += values[low + i + 6]
            r7 += values[low + i + 7]
            i += 8
        result = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < count:
            result += values[low + i]
            i += 1
        return result
    half = count // 2
    half -= half % 8
    return _pairwise_sum(values, low, half) + _pairwise_sum(values, low + half, count - half)


@numba.njit(cache=True, nogil=True)
def _left_sum(residual, row, start, end, pos, new_pos, sum_left, sum_total):
    """scikit-learn's ``RegressionCriterion.update``: adds from the left, or restarts from the
    node total and subtracts from the right when that is shorter."""
    if new_pos - pos <= end - new_pos:
        for q in range(pos, new_pos):
            sum_left += residual[row[q]]
    else:
        sum_left = sum_total
        for q in range(end - 1, new_pos - 1, -1):
            sum_left -= residual[row[q]]
    return sum_left


@numba.njit(cache=True, nogil=True)
def _grow_tree(columns, order, residual, seed, max_depth, features, constant_features, goes_left,
               buffer, node_samples, split_feature, threshold, is_split, leaf_start, leaf_end, leaf_id, leaf_row,
               importance):
    """Grows one regression tree on ``residual`` depth first, exactly as scikit-learn.

    ``order`` [F, N] (int32) holds every feature's sorted sample order and is partitioned in
    place: a node owns positions ``[start, end)`` of every row. Writes the heap-ordered tree
    (``split_feature``, ``threshold``, ``is_split`` over ``2**max_depth - 1`` slots), the leaves'
    ranges, ids and the row of ``order`` that holds each leaf's samples, and the tree's unnormalised importances. Returns the number of leaves.
    """
    num_features, num_points = order.shape
    state = np.empty(1, dtype=np.int64)
    state[0] = seed
    for f in range(num_features):
        features[f] = f
    # Stack of (start, end, depth, slot, n_constant_features, sorted row) and impurity. The
    # "sorted row" is -1 when every feature's row is partitioned for the node, else the one
    # feature whose row is (children at max_depth are leaves: only that row is partitioned).
    stack_int = np.empty((2 * max_depth + 2, 6), dtype=np.int64)
    stack_impurity = np.empty(2 * max_depth + 2)
    # The node's residual sum and sum of squares, summed as scikit-learn's Criterion.init does:
    # over the node's samples in the order its parent's split left them in.
    stack_sum = np.empty(2 * max_depth + 2)
    stack_square = np.empty(2 * max_depth + 2)
    stack_int[0, 0] = 0
    stack_int[0, 1] = num_points
    stack_int[0, 2] = 0
    stack_int[0, 3] = 0
    stack_int[0, 4] = 0
    stack_int[0, 5] = -1
    stack_impurity[0] = np.inf
    stack_sum[0] = 0.0  # the root's are summed in sample order below
    stack_square[0] = 0.0
    top = 1
    leaves = 0
    first = True
    while top > 0:
        top -= 1
        start, end, depth, slot, n_known, sorted_row = (
            stack_int[top, 0], stack_int[top, 1], stack_int[top, 2], stack_int[top, 3],
            stack_int[top, 4], stack_int[top, 5])
        if sorted_row < 0:
            sorted_row = 0
        impurity = stack_impurity[top]
        sum_total = stack_sum[top]
        square_total = stack_square[top]
        count = end - start
        if first:
            # The root's totals in sample order, as scikit-learn's first node_reset.
            sum_total = 0.0
            square_total = 0.0
            for i in range(num_points):
                sum_total += residual[i]
                square_total += residual[i] * residual[i]
            impurity = square_total / count - (sum_total / count) ** 2
            first = False
        is_leaf = depth >= max_depth or count < 2 or impurity <= _EPSILON
        best_feature = -1
        best_pos = end
        best_threshold = 0.0
        last_sorted = 0
        n_total_constants = n_known
        n_left = 0
        n_right = 0
        impurity_left = 0.0
        impurity_right = 0.0
        if not is_leaf:
            best_proxy = -np.inf
            # BestSplitter.node_split with max_features = n_features: the random visiting order.
            f_i = num_features
            n_visited = 0
            n_found_constants = 0
            n_drawn_constants = 0
            while f_i > n_total_constants and (n_visited < num_features
                                               or n_visited <= n_found_constants + n_drawn_constants):
                n_visited += 1
                f_j = _rand_int(n_drawn_constants, f_i - n_found_constants, state)
                if f_j < n_known:
                    tmp = features[n_drawn_constants]
                    features[n_drawn_constants] = features[f_j]
                    features[f_j] = tmp
                    n_drawn_constants += 1
                    continue
                f_j += n_found_constants
                feature = features[f_j]
                last_sorted = feature  # scikit-learn sorts the node's samples by it
                row = order[feature]
                values = columns[feature]
                if values[row[end - 1]] <= values[row[start]] + _FEATURE_THRESHOLD:
                    features[f_j] = features[n_total_constants]
                    features[n_total_constants] = feature
                    n_found_constants += 1
                    n_total_constants += 1
                    continue
                f_i -= 1
                features[f_j] = features[f_i]
                features[f_i] = feature
                # Evaluate every threshold of this feature: Criterion.reset, then update(p) at
                # each candidate p (inlined: a call per position costs 10x the loop).
                sum_left = 0.0
                pos = start
                for p in range(start + 1, end):
                    sum_left += residual[row[p - 1]]
                    if values[row[p]] <= values[row[p - 1]] + _FEATURE_THRESHOLD:
                        continue
                    if p - pos > end - p:
                        # update() restarts from the node total and subtracts from the right.
                        sum_left = sum_total
                        for q in range(end - 1, p - 1, -1):
                            sum_left -= residual[row[q]]
                    pos = p
                    n_left = p - start
                    n_right = end - p
                    sum_right = sum_total - sum_left
                    proxy = sum_left * sum_left / n_left + sum_right * sum_right / n_right
                    if proxy > best_proxy:
                        best_proxy = proxy
                        best_feature = feature
                        best_pos = p
                        best_threshold = values[row[p - 1]] / 2.0 + values[row[p]] / 2.0
            # Restore the known constants and record the newly found ones (for the children).
            for f in range(n_known):
                features[f] = constant_features[f]
            for f in range(n_known, n_known + n_found_constants):
                constant_features[f] = features[f]
            if best_pos < end:
                # scikit-learn's sample order now: sorted by the last feature it sorted by, then
                # partition_samples_final's swaps (equal to it when that feature has no ties).
                row = order[last_sorted]
                values = columns[best_feature]
                for q in range(start, end):
                    node_samples[q] = row[q]
                low = start
                high = end
                while low < high:
                    if values[node_samples[low]] <= best_threshold:
                        low += 1
                    else:
                        high -= 1
                        tmp = node_samples[low]
                        node_samples[low] = node_samples[high]
                        node_samples[high] = tmp
                # Criterion.reset + update(best_pos) and children_impurity in that order.
                sum_left = _left_sum(residual, node_samples, start, end, start, best_pos, 0.0, sum_total)
                square_left = 0.0
                for q in range(start, best_pos):
                    value = residual[node_samples[q]]
                    square_left += value * value
                n_left = best_pos - start
                n_right = end - best_pos
                sum_right = sum_total - sum_left
                impurity_left = square_left / n_left - (sum_left / n_left) ** 2
                impurity_right = (square_total - square_left) / n_right - (sum_right / n_right) ** 2
                improvement = (count / num_points) * (impurity - n_right / count * impurity_right
                                                      - n_left / count * impurity_left)
                if improvement + _EPSILON < 0.0:
                    is_leaf = True
            else:
                is_leaf = True
        if is_leaf:
            level_first = (1 << depth) - 1
            leaf_start[leaves] = start
            leaf_row[leaves] = sorted_row
            leaf_end[leaves] = end
            leaf_id[leaves] = (slot - level_first) << (max_depth - depth)
            leaves += 1
            continue
        split_feature[slot] = best_feature
        threshold[slot] = best_threshold
        is_split[slot] = True
        importance[best_feature] += (count * impurity - n_left * impurity_left
                                     - n_right * impurity_right) / num_points
        # Stable partition of every feature's range: left child's samples first (not needed
        # when the children are leaves: the best feature's row already lists them in order).
        children_sorted_row = best_feature
        if depth + 1 < max_depth:
            children_sorted_row = -1
        row = order[best_feature]
        for q in range(start, end):
            goes_left[row[q]] = q < best_pos
        for f in range(num_features):
            if children_sorted_row >= 0:
                break
            if f == best_feature:
                continue
            row = order[f]
            left_at = start
            right_at = 0
            for q in range(start, end):
                sample = row[q]
                if goes_left[sample]:
                    row[left_at] = sample
                    left_at += 1
                else:
                    buffer[right_at] = sample
                    right_at += 1
            for q in range(right_at):
                row[left_at + q] = buffer[q]
        # Push right, then left (the left child is grown first).
        for child in range(2):
            stack_int[top, 0] = best_pos if child == 0 else start
            stack_int[top, 1] = end if child == 0 else best_pos
            stack_int[top, 2] = depth + 1
            stack_int[top, 3] = 2 * slot + 2 - child
            stack_int[top, 4] = n_total_constants
            stack_int[top, 5] = children_sorted_row
            stack_impurity[top] = impurity_right if child == 0 else impurity_left
            # The child's Criterion.init sums, in the partitioned order.
            child_sum = 0.0
            child_square = 0.0
            for q in range(stack_int[top, 0], stack_int[top, 1]):
                value = residual[node_samples[q]]
                child_sum += value
                child_square += value * value
            stack_sum[top] = child_sum
            stack_square[top] = child_square
            top += 1
    return leaves


@numba.njit(cache=True, nogil=True)
def _fit_stages(columns, presorted, labels, raw, seeds, learning_rate, max_depth, num_classes,
                split_feature, threshold, is_split, leaf_value, importance_sum):
    """All boosting stages; returns the number of trees that split (for the importance mean)."""
    trees, num_points = raw.shape
    num_features = columns.shape[0]
    binary = num_classes == 2
    residual = np.empty((trees, num_points))
    order = np.empty_like(presorted)
    features = np.empty(num_features, dtype=np.int64)
    constant_features = np.empty(num_features, dtype=np.int64)
    goes_left = np.empty(num_points, dtype=np.bool_)
    buffer = np.empty(num_points, dtype=presorted.dtype)
    node_samples = np.empty(num_points, dtype=presorted.dtype)
    max_leaves = 1 << max_depth
    leaf_start = np.empty(max_leaves, dtype=np.int64)
    leaf_end = np.empty(max_leaves, dtype=np.int64)
    leaf_id = np.empty(max_leaves, dtype=np.int64)
    leaf_row = np.empty(max_leaves, dtype=np.int64)
    leaf_of = np.empty(num_points, dtype=np.int64)
    offset = np.empty(max_leaves, dtype=np.int64)
    leaf_residual = np.empty(num_points)
    leaf_hessian = np.empty(num_points)
    importance = np.empty(num_features)
    relevant = 0
    factor = (num_classes - 1) / num_classes
    for stage in range(seeds.shape[0]):
        _negative_gradient(raw, labels, binary, residual)
        for k in range(trees):
            order[:, :] = presorted
            importance[:] = 0.0
            leaves = _grow_tree(columns, order, residual[k], seeds[stage, k], max_depth, features,
                                constant_features, goes_left, buffer, node_samples, split_feature[stage, k],
                                threshold[stage, k], is_split[stage, k], leaf_start, leaf_end,
                                leaf_id, leaf_row, importance)
            if is_split[stage, k, 0]:
                relevant += 1
                importance_sum += importance
            # Newton step per leaf (_update_terminal_regions): np.average of the residuals and
            # of p (1 - p), p = y - residual, over the leaf's samples in index order, with
            # numpy's pairwise sums (so that the raw scores stay bit-identical).
            for leaf in range(leaves):
                row = order[leaf_row[leaf]]
                for q in range(leaf_start[leaf], leaf_end[leaf]):
                    leaf_of[row[q]] = leaf
                offset[leaf] = leaf_start[leaf]  # leaves partition 0..N-1 as their ranges do
            for i in range(num_points):
                leaf = leaf_of[i]
                r = residual[k, i]
                if binary:
                    y = 1.0 if labels[i] == 1 else 0.0
                else:
                    y = 1.0 if labels[i] == k else 0.0
                probability = y - r
                leaf_residual[offset[leaf]] = r
                leaf_hessian[offset[leaf]] = probability * (1.0 - probability)
                offset[leaf] += 1
            for leaf in range(leaves):
                n = leaf_end[leaf] - leaf_start[leaf]
                numerator = _pairwise_sum(leaf_residual, leaf_start[leaf], n) / n
                denominator = _pairwise_sum(leaf_hessian, leaf_start[leaf], n) / n
                if not binary:
                    numerator *= factor
                value = 0.0 if abs(denominator) < 1e-150 else numerator / denominator
                leaf_value[stage, k, leaf_id[leaf]] = value
                row = order[leaf_row[leaf]]
                for q in range(leaf_start[leaf], leaf_end[leaf]):
                    i = row[q]
                    raw[k, i] += learning_rate * value
    return relevant


@numba.njit(cache=True, nogil=True)
def _decision(x, init_raw, learning_rate, max_depth, split_feature, threshold, is_split,
              leaf_value, out):
    """Raw scores [n, T]: init + sum over stages of learning_rate * leaf value, in stage order."""
    stages, trees = split_feature.shape[0], split_feature.shape[1]
    for i in range(x.shape[0]):
        for k in range(trees):
            out[i, k] = init_raw[k]
        for stage in range(stages):
            for k in range(trees):
                node = 0
                for depth in range(max_depth):
                    slot = (1 << depth) - 1 + node
                    right = 0
                    if is_split[stage, k, slot]:
                        if x[i, split_feature[stage, k, slot]] > threshold[stage, k, slot]:
                            right = 1
                    node = 2 * node + right
                out[i, k] += learning_rate * leaf_value[stage, k, node]


class ExactGradientBoosting:
    """``GradientBoostingClassifier(n_estimators, learning_rate, max_depth, random_state)`` with
    scikit-learn's other defaults (log_loss, min_samples_split=2, min_samples_leaf=1,
    subsample=1.0, prior init, all features at every split).

    ``random_state``: an int or ``None`` as scikit-learn's (``None``: fresh OS entropy); with the
    same int both build the same trees (see the module docstring for rounding near-ties).

    Attributes after ``fit``: ``classes_``, ``feature_importances_``, ``n_trees_per_iteration_``,
    ``init_raw_`` [T]; the trees as heap-ordered arrays over the ``2**max_depth - 1`` internal
    slots: ``split_feature_``, ``threshold_``, ``is_split_`` [stages, T, slots], and leaf values
    ``leaf_value_`` [stages, T, 2**max_depth] (an unsplit node sends its samples left).
    """

    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.1, max_depth: int = 3,
                 random_state=None):
        if n_estimators < 1 or max_depth < 1 or not learning_rate > 0:
            raise ValueError("n_estimators and max_depth must be >= 1 and learning_rate > 0")
        self.n_estimators = int(n_estimators)
        self.learning_rate = float(learning_rate)
        self.max_depth = int(max_depth)
        self.random_state = random_state

    def fit(self, x: np.ndarray, y: np.ndarray) -> "ExactGradientBoosting":
        # scikit-learn validates X to float32; thresholds are float64 midpoints of those.
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0 or x.shape[1] == 0:
            raise ValueError(f"x must be [N, F] and y [N] with N, F > 0; got {x.shape} and {y.shape}")
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
        self.classes_, labels = np.unique(y, return_inverse=True)
        labels = labels.ravel().astype(np.int64)
        num_classes = len(self.classes_)
        if num_classes < 2:
            raise ValueError("y needs at least two classes")
        num_points, num_features = x.shape
        self.n_features_in_ = num_features
        self.binary_ = num_classes == 2
        trees = 1 if self.binary_ else num_classes
        self.n_trees_per_iteration_ = trees

        # DummyClassifier(strategy="prior") and the loss's link, as _init_raw_predictions.
        eps = np.finfo(np.float64).eps
        prior = np.clip(np.bincount(labels, minlength=num_classes) / num_points, eps, 1 - eps)
        if self.binary_:
            self.init_raw_ = scipy.special.logit(prior[1:])
        else:
            log_prior = np.log(prior)[None, :]
            self.init_raw_ = (log_prior - np.mean(log_prior, axis=1)[:, None])[0]

        # One rand_r seed per tree, drawn as each scikit-learn tree's splitter draws it.
        generator = np.random.mtrand._rand if self.random_state is None else (
            self.random_state if isinstance(self.random_state, np.random.RandomState)
            else np.random.RandomState(self.random_state))
        seeds = np.array([[generator.randint(0, _RAND_R_MAX) for _ in range(trees)]
                          for _ in range(self.n_estimators)], dtype=np.int64)

        columns = np.ascontiguousarray(x.T)  # [F, N] float32
        presorted = np.argsort(columns, axis=1, kind="stable").astype(np.int32)
        slots, leaves = 2 ** self.max_depth - 1, 2 ** self.max_depth
        shape = (self.n_estimators, trees)
        self.split_feature_ = np.zeros(shape + (slots,), dtype=np.int64)
        self.threshold_ = np.full(shape + (slots,), np.inf)
        self.is_split_ = np.zeros(shape + (slots,), dtype=bool)
        self.leaf_value_ = np.zeros(shape + (leaves,))
        raw = np.ascontiguousarray(np.repeat(self.init_raw_[:, None], num_points, axis=1))
        importance_sum = np.zeros(num_features)
        relevant = _fit_stages(columns, presorted, labels, raw, seeds, self.learning_rate,
                               self.max_depth, num_classes, self.split_feature_, self.threshold_,
                               self.is_split_, self.leaf_value_, importance_sum)
        if relevant == 0:
            self.feature_importances_ = np.zeros(num_features)
        else:
            mean = importance_sum / relevant
            self.feature_importances_ = mean / mean.sum()
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw scores [n, K] (binary: [n]), as scikit-learn's ``decision_function``."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"x must be [n, {self.n_features_in_}], got {x.shape}")
        out = np.empty((len(x), self.n_trees_per_iteration_))
        _decision(np.ascontiguousarray(x), self.init_raw_, self.learning_rate, self.max_depth,
                  self.split_feature_, self.threshold_, self.is_split_, self.leaf_value_, out)
        return out[:, 0] if self.binary_ else out

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = self.decision_function(x)
        if self.binary_:
            return self.classes_[(raw >= 0).astype(int)]
        return self.classes_[np.argmax(raw, axis=1)]
