"""ExactGradientBoosting against scikit-learn's GradientBoostingClassifier on small problems: the
same trees, importances, decision values and predictions for the same seed."""

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from tfdisent.metrics.gradient_boosting import ExactGradientBoosting


def sklearn_heap(tree, depth=3):
    """A fitted sklearn tree as heap-ordered (feature, threshold) arrays (-1 / inf: no split)."""
    features, thresholds = np.full(2 ** depth - 1, -1), np.full(2 ** depth - 1, np.inf)

    def visit(node, slot):
        if tree.children_left[node] == -1:
            return
        features[slot], thresholds[slot] = tree.feature[node], tree.threshold[node]
        visit(tree.children_left[node], 2 * slot + 1)
        visit(tree.children_right[node], 2 * slot + 2)

    visit(0, 0)
    return features, thresholds


def problem(num_classes, num_points=600, seed=0, decimals=1):
    """Two informative features and a noise feature, rounded so that values repeat."""
    rs = np.random.RandomState(seed)
    labels = rs.randint(num_classes, size=num_points)
    features = np.stack([labels + rs.randn(num_points), rs.randn(num_points),
                         0.5 * labels + rs.randn(num_points)], axis=1)
    return np.round(features, decimals), labels


def assert_same_model(ours, reference, x):
    np.testing.assert_allclose(ours.feature_importances_, reference.feature_importances_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.decision_function(x), reference.decision_function(x), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(x), reference.predict(x))


@pytest.mark.parametrize("num_classes", [2, 3])
def test_exact_ties_are_broken_like_sklearn_with_the_same_seed(num_classes):
    # Three copies of one feature (monotone transforms): every split ties exactly between them
    # and scikit-learn's random feature order decides; the replayed generator decides the same,
    # so trees, importances and predictions are identical.
    rs = np.random.RandomState(1)
    base = rs.randn(300)
    x = np.stack([base, 2 * base, base + 1, rs.randn(300)], axis=1)
    y = (np.sin(3 * base) + 0.3 * rs.randn(300) > 0).astype(int) + (x[:, 3] > 0.5)
    if num_classes == 2:
        y = (y > 0).astype(int)
    for seed in (0, 3):
        reference = GradientBoostingClassifier(random_state=seed, n_estimators=20).fit(x, y)
        ours = ExactGradientBoosting(random_state=seed, n_estimators=20).fit(x, y)
        assert_same_model(ours, reference, x)
        for stage in (0, 7, 19):
            for k in range(ours.n_trees_per_iteration_):
                features, thresholds = sklearn_heap(reference.estimators_[stage, k].tree_)
                split = features >= 0
                np.testing.assert_array_equal(ours.split_feature_[stage, k][split], features[split])
                np.testing.assert_array_equal(ours.threshold_[stage, k][split], thresholds[split])
        # The tied copies share the credit.
        assert min(ours.feature_importances_[:3]) > 0.02


@pytest.mark.parametrize("num_classes", [2, 3, 6])
def test_same_decisions_as_sklearn_and_importances_up_to_near_ties(num_classes):
    # Features with repeated values; 100 stages at DCI's settings. The training decision values
    # (hence every tree's partition of the training set and every leaf value) agree to rounding.
    # Importances agree up to near-ties: a tiny node that two features separate identically, whose
    # proxies then differ only in the last bits of scikit-learn's summation order (documented).
    x, y = problem(num_classes)
    reference = GradientBoostingClassifier(random_state=0).fit(x, y)
    ours = ExactGradientBoosting(random_state=0).fit(x, y)
    trees = 1 if num_classes == 2 else num_classes
    assert ours.split_feature_.shape == (100, trees, 7)
    np.testing.assert_allclose(ours.decision_function(x), reference.decision_function(x), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.feature_importances_, reference.feature_importances_, rtol=0, atol=3e-3)
    test_x, _ = problem(num_classes, num_points=400, seed=1)
    assert np.mean(ours.predict(test_x) == reference.predict(test_x)) > 0.99
    np.testing.assert_array_equal(ours.predict(x), reference.predict(x))
    # The first stage has no near-ties yet: identical trees.
    for k in range(trees):
        features, thresholds = sklearn_heap(reference.estimators_[0, k].tree_)
        np.testing.assert_array_equal(np.where(ours.is_split_[0, k], ours.split_feature_[0, k], -1), features)
        np.testing.assert_array_equal(ours.threshold_[0, k], thresholds)


def test_labels_are_kept_and_binary_decision_is_one_dimensional():
    x, y = problem(2, num_points=200)
    names = np.array(["no", "yes"])[y]
    model = ExactGradientBoosting(n_estimators=5, random_state=0).fit(x, names)
    assert model.decision_function(x).shape == (200,)
    assert set(model.predict(x)) <= {"no", "yes"}
    assert model.feature_importances_.sum() == pytest.approx(1.0)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="two classes"):
        ExactGradientBoosting().fit(np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        ExactGradientBoosting().fit(np.array([[np.nan], [1.0]]), np.array([0, 1]))
    model = ExactGradientBoosting(n_estimators=2).fit(np.arange(10.0)[:, None], np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"\[n, 1\]"):
        model.predict(np.zeros((3, 2)))
