"""DCI-ES (Eastwood et al. 2023): explicitness of loss–capacity curves (the reference notes'
table, §1.3), grid variance, categorical factors, and the probe families on known codes."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import dci_es
from tfdisent.metrics.synthetic import SyntheticRepresentation

X = np.arange(1, 11)


@pytest.mark.parametrize("losses, expected", [
    (np.zeros(10), 1.0),                       # flat at 0
    (np.ones(10), 1.0),                        # flat at l_b: no information, still 1
    (np.linspace(1, 0, 10), 0.0),              # linear from 1 to 0
    (np.r_[1.0, np.zeros(9)], 0.8889),         # drops to 0 after the first point
    (np.r_[np.ones(9), 0.0], -0.8889),         # drops only at the last point
])
def test_explicitness_reference_table(losses, expected):
    assert dci_es.explicitness_from_curve(X, losses, 1.0) == pytest.approx(expected, abs=1e-4)


def test_curve_is_made_monotone_and_log_capacity_is_used_for_networks():
    bumpy = dci_es.explicitness_from_curve(X, np.r_[1.0, 0.0, 0.5, np.zeros(7)], 1.0)
    assert bumpy == pytest.approx(0.8889, abs=1e-4)
    # log x: capacities 1, e, e^2 behave like 0, 1, 2
    assert dci_es.explicitness_from_curve(np.exp([0, 1, 2]), [1, 0, 0], 1.0, log_capacity=True) == pytest.approx(0.5)
    assert dci_es.explicitness_from_curve([3], [0.4], 1.0) == 1.0


def test_grid_variance_and_discrete_factor_lists():
    assert dci_es.grid_variance(2) == pytest.approx(0.25)
    assert dci_es.grid_variance(3) == pytest.approx(1 / 6)
    assert dci_es.grid_variance(40) == pytest.approx(0.08761, abs=1e-5)
    names = ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert dci_es.resolve_discrete_factors(("auto",), "dsprites", names, 5) == (0,)
    assert dci_es.resolve_discrete_factors(("auto",), "mpi3d_toy", (), 7) == ()
    assert dci_es.resolve_discrete_factors(("none",), "dsprites", names, 5) == ()
    assert dci_es.resolve_discrete_factors(("pos_x", "1"), None, names, 5) == (1, 3)
    with pytest.raises(metrics.MetricError, match="unknown factor"):
        dci_es.resolve_discrete_factors(("colour",), None, names, 5)


SIZES = (3, 6, 10)


def run(kind, family="random_forest", **extra):
    settings = {"num_train": 1500, "num_test": 500, "n_jobs": 1, "family": family}
    if family == "mlp":
        settings.update(mlp_widths=(0, 8, 32), mlp_epochs=20)
    if family == "rff":
        settings.update(rff_features=(4, 32, 128), num_test=300)
    settings.update(extra)
    return metrics.compute("dci_es", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind, **(
        {"noise_dims": 0} if kind != "noise" else {})), 0, discrete_factors=("0",), **settings)


def test_random_forest_probes_on_known_codes():
    top, rotated, noise = run("disentangled"), run("rotated"), run("noise")
    assert top["informativeness_test"] > 0.98 and top["explicitness"] > 0.95
    assert top["disentanglement"] > 0.9 and top["completeness"] > 0.9
    assert rotated["disentanglement"] < top["disentanglement"] - 0.3
    assert rotated["explicitness"] < top["explicitness"]      # needs deeper trees to decode the rotation
    assert noise["informativeness_test"] < 0.2                # R^2 ~ 0, accuracy ~ 1/3 on the shape factor
    assert top["size"] == pytest.approx(1.0)
    assert len(top["test_losses"]) == 3 and len(top["test_losses"][0]) == len(top["capacities"]) == 12
    assert top["discrete_factors"] == ["factor_0"]


def test_duplicated_and_inactive_codes():
    def duplicated(observations):
        codes = SyntheticRepresentation(SIZES, noise_dims=0)(observations)
        return np.c_[codes[:, :1], codes, np.zeros(len(codes))]

    scores = metrics.compute("dci_es", IdentityObservations(SIZES), duplicated, 0, num_train=1500, num_test=500,
                             n_jobs=1, discrete_factors=("0",))
    assert scores["size"] == pytest.approx(3 / 5)
    assert scores["informativeness_test"] > 0.98
    assert scores["completeness"] < 0.9 < scores["disentanglement"]  # factor 0 split over two codes


def test_mlp_probes_on_known_codes():
    top = run("disentangled", "mlp")  # SAGE importances (the default)
    assert top["informativeness_test"] > 0.95 and top["disentanglement"] > 0.7
    assert top["capacities"][0] < top["capacities"][1] < top["capacities"][2]  # parameter counts
    permutation = run("disentangled", "mlp", importance="permutation")
    assert permutation["informativeness_test"] == top["informativeness_test"]  # same probes
    assert permutation["disentanglement"] > 0.7


def test_rff_probes_on_known_codes():
    top, rotated = run("disentangled", "rff"), run("rotated", "rff")
    assert top["capacities"] == [4.0, 32.0, 128.0] and top["best_capacity"] == 128
    assert top["informativeness_test"] > 0.95
    # SAGE of the best probe: each factor's probe leans on its own code.
    assert top["disentanglement"] > 0.85 and top["completeness"] > 0.85
    assert rotated["disentanglement"] < top["disentanglement"] - 0.3
    assert rotated["informativeness_test"] > 0.9  # the rotation loses nothing, only disentanglement
    # 4 random features cannot decode a 10-valued factor, 128 can: the curve falls, E < 1.
    losses = np.asarray(top["test_losses"])
    assert np.all(losses[:, 0] > losses[:, 2]) and top["explicitness"] < 1.0
    permutation = run("disentangled", "rff", importance="permutation")
    assert permutation["test_losses"] == top["test_losses"] and permutation["disentanglement"] > 0.85


def test_rff_probe_heads():
    from tfdisent.metrics import rff_probe

    rs = np.random.RandomState(1)
    x, x_test = rs.randn(800, 2), rs.randn(400, 2)

    def target(v):
        return np.sin(2 * v[:, 0]) + 0.5 * v[:, 1]

    wide = rff_probe.RFFProbe(256, 2, sigma=0.2).fit(x, target(x))
    narrow = rff_probe.RFFProbe(2, 2, sigma=0.2).fit(x, target(x))
    error = np.mean((wide.predict(x_test) - target(x_test)) ** 2) / np.var(target(x_test))
    assert error < 0.02 < np.mean((narrow.predict(x_test) - target(x_test)) ** 2) / np.var(target(x_test))
    assert wide.num_parameters == 257
    labels = (x[:, 0] * x[:, 1] > 0).astype(int)  # XOR: no linear head on the raw codes separates it
    classifier = rff_probe.RFFProbe(256, 2, num_classes=3, sigma=0.2).fit(x, labels)
    probabilities = classifier.predict_proba(x_test)
    assert probabilities.shape == (400, 3) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.mean(classifier.predict(x_test) == (x_test[:, 0] * x_test[:, 1] > 0)) > 0.9
    assert probabilities[:, 2].mean() < 0.05  # a class never seen in training
    with pytest.raises(metrics.MetricError, match="even"):
        rff_probe.RFFProbe(7, 2)


@pytest.mark.parametrize("num_features, n", [(64, 600), (512, 200)])  # primal (D < n) and dual (D > n) solves
def test_rff_ridge_head_equals_scikit_learn_ridge(num_features, n):
    from sklearn.linear_model import Ridge

    from tfdisent.metrics import rff_probe

    rs = np.random.RandomState(2)
    x, x_test = rs.randn(n, 3), rs.randn(100, 3)
    y = np.cos(x[:, 0]) + 0.3 * x[:, 2] + 0.1 * rs.randn(n)
    probe = rff_probe.RFFProbe(num_features, 3, sigma=0.15).fit(x, y)
    # The same 95% training rows the probe used (its own seeded split), the strength it chose.
    train = np.random.default_rng(probe.seed).permutation(n)[int(round(0.05 * n)):]
    features = rff_probe.fourier_features(x[train], probe.frequencies)
    reference = Ridge(alpha=probe.ridge_alpha, solver="svd").fit(features, y[train])
    np.testing.assert_allclose(probe.weights, reference.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probe.predict(x_test), reference.predict(
        rff_probe.fourier_features(x_test, probe.frequencies)), atol=1e-4)  # float32 predictions


def test_bad_probe_settings_are_one_line_errors():
    with pytest.raises(metrics.MetricError, match="is not one of sage, permutation"):
        run("disentangled", "rff", importance="gini")
    with pytest.raises(metrics.MetricError, match="even"):
        run("disentangled", "rff", rff_features=(3, 8))
    with pytest.raises(metrics.MetricError, match="sage_thresh"):
        run("disentangled", "rff", sage_thresh=2.0)


def test_cutting_one_deep_forest_equals_fitting_each_depth_for_regressors():
    """Regression trees consider every feature at every node, so the forest grown to depth 32 and
    cut at depth d is the forest fitted with max_depth=d (same bootstrap draws, same splits)."""
    from sklearn.ensemble import RandomForestRegressor

    rs = np.random.RandomState(0)
    x, x_test = rs.randn(600, 4), rs.randn(200, 4)
    y, y_test = x[:, 0] + np.sin(2 * x[:, 1]), x_test[:, 0] + np.sin(2 * x_test[:, 1])
    depths = (1, 2, 3, 32)
    _, test, importances = dci_es._fit_forest_curve(depths, False, 5, x, y, x_test, y_test, 1.0)
    for k, depth in enumerate(depths):
        forest = RandomForestRegressor(n_estimators=5, max_depth=depth, random_state=0).fit(x, y)
        assert test[k] == pytest.approx(1 - np.mean((forest.predict(x_test) - y_test) ** 2), abs=1e-12)
        np.testing.assert_allclose(importances[k], forest.feature_importances_, atol=1e-12)
