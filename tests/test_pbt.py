"""Pure parts of population-based training (Estermann et al. 2020): explore rule, truncation
selection, stop rules, gap/peak splitting, fitness functions, records. No Ray, no training."""

import math
import os
import random

import numpy as np
import pytest

from tfdisent.data import indices_to_factors
from tfdisent.data.subset import IndexedSubset
from tfdisent.pbt import explore, fitness, records, splitting, stopping


# -- explore ----------------------------------------------------------------------------------

@pytest.mark.parametrize("factor, expected", [(2.0, (2e-3, 128, 10.0)), (1.2, (1.2e-3, 77, 6.0)),
                                              (0.8, (0.8e-3, 52, 4.0)), (0.5, (0.5e-3, 32, 3.0))])
def test_perturb_factors_and_rounding(factor, expected):
    lr, batch, beta = expected
    assert explore.perturb("learning_rate", 1e-3, factor) == pytest.approx(lr)
    assert explore.perturb("batch_size", 64, factor) == batch            # ceil(64 f)
    assert explore.perturb("beta", 5, factor) == beta                   # ceil(5 f): 1.2*5 = 6 exactly, not 7


def test_perturb_caps_and_floors():
    assert explore.perturb("batch_size", 1000, 2.0) == 1024
    assert explore.perturb("batch_size", 1024, 1.2) == 1024
    assert explore.perturb("batch_size", 2, 0.5) == explore.MIN_BATCH_SIZE
    assert explore.perturb("beta", 1, 0.5) == 1.0                        # rounded up: never below 1
    with pytest.raises(explore.PBTConfigError):
        explore.perturb("gamma", 1, 2.0)


def test_explore_uses_only_paper_factors():
    rng = random.Random(0)
    seen = set()
    for _ in range(400):
        new = explore.explore({"learning_rate": 1.0, "batch_size": 100, "beta": 10.0, "other": 3}, rng)
        assert new["other"] == 3
        seen.add(round(new["learning_rate"], 6))
        assert new["batch_size"] in {200, 120, 80, 50}
        assert new["beta"] in {20.0, 12.0, 8.0, 5.0}
    assert seen == {2.0, 1.2, 0.8, 0.5}


def test_initial_draws_come_from_paper_lists():
    rng = random.Random(1)
    draws = [explore.initial_hyperparameters(rng) for _ in range(300)]
    assert len(explore.LEARNING_RATES) == 30
    assert explore.LEARNING_RATES[0] == pytest.approx(1e-5) and explore.LEARNING_RATES[-1] == pytest.approx(1.0)
    assert {d["batch_size"] for d in draws} == set(explore.BATCH_SIZES)
    assert {d["beta"] for d in draws} <= set(float(b) for b in explore.BETAS)
    assert len(explore.BETAS) == 23 and explore.BETAS[-1] == 437


def test_truncation_selection_bottom_copies_top():
    scores = {m: float(m) for m in range(10)}                  # member 9 best, 0 worst
    assert explore.quantile_size(10) == 2                       # ceil(0.2 * 10)
    assert explore.quantile_size(56) == 12
    assert explore.quantile_size(4) == 1 and explore.quantile_size(2) == 1
    rng = random.Random(3)
    donors = set()
    for _ in range(50):
        choice = explore.truncation_selection(scores, rng)
        assert set(choice) == {0, 1}
        donors |= set(choice.values())
    assert donors == {8, 9}
    nan_scores = {0: 0.5, 1: math.nan, 2: 0.9, 3: 0.7}
    assert set(explore.truncation_selection(nan_scores, rng)) == {1}


def test_population_too_small_for_quantile():
    with pytest.raises(explore.PBTConfigError, match="too small"):
        explore.check_population(1)
    explore.check_population(2)
    with pytest.raises(explore.PBTConfigError):
        explore.check_population(4, fraction=0.0)


def test_halving_keeps_the_best():
    assert explore.survivors_after_halving({0: 0.1, 1: 0.9, 2: 0.5, 3: math.nan}, 2) == [1, 2]


# -- stop rules -------------------------------------------------------------------------------

def test_convergence_needs_six_small_changes():
    flat = [0.5, 0.6, 0.61, 0.612, 0.613, 0.614, 0.615, 0.616, 0.617]
    assert not stopping.converged(flat[:8])          # last 6 pairs include 0.6 -> 0.61 (0.01)
    assert stopping.converged(flat)                  # last 6 pairs all < 0.005
    assert not stopping.converged([0.5] * 6)         # 5 pairs only
    assert stopping.converged([0.5] * 7)
    assert not stopping.converged([0.5] * 6 + [0.506])
    assert not stopping.converged([0.5] * 6 + [math.nan])


def test_stop_reason_budget_and_threshold():
    assert stopping.stop_reason([0.1, 0.2], 3) is None
    assert "budget" in stopping.stop_reason([0.1, 0.2, 0.3], 3)
    assert "converged" in stopping.stop_reason([0.3] * 7, None, convergence=True)
    assert stopping.stop_reason([0.3] * 7, None, convergence=False) is None
    assert stopping.below_threshold(0.05) and not stopping.below_threshold(0.1)
    assert stopping.below_threshold(math.nan)


# -- gap/peak splitting -----------------------------------------------------------------------

def _clusters(centres, per, spread, seed):
    rng = np.random.RandomState(seed)
    values = np.concatenate([c + spread * rng.uniform(-1, 1, per) for c in centres])
    truth = np.repeat(np.arange(len(centres)), per)
    order = rng.permutation(len(values))
    return values[order], truth[order]


def test_peaks_separate_known_clusters():
    values, truth = _clusters([-2.0, 0.0, 2.0], 400, 0.3, 0)
    peaks = splitting.gap_peaks(values)
    assert len(peaks) == 2
    intervals = splitting.latent_intervals(values)
    assert [np.unique(truth[i.indices]).tolist() for i in intervals] == [[0], [1], [2]]
    assert [i.size for i in intervals] == [400, 400, 400]      # index quirk fixed: nothing lost or borrowed


def test_single_latent_between_peaks_recovers_middle_cluster():
    values, truth = _clusters([-2.0, 0.0, 2.0], 400, 0.3, 1)
    kept = splitting.choose_subset(values[:, None], branch=0)
    assert sorted(kept.tolist()) == sorted(np.flatnonzero(truth == 1).tolist())


def test_single_latent_one_peak_branch_picks_half():
    values, truth = _clusters([-1.0, 1.0], 500, 0.4, 2)
    first = splitting.choose_subset(values[:, None], branch=0)
    second = splitting.choose_subset(values[:, None], branch=1)
    assert set(first.tolist()) == set(np.flatnonzero(truth == 0).tolist())
    assert set(second.tolist()) == set(np.flatnonzero(truth == 1).tolist())


def test_no_split_on_uniform_latent():
    for seed, size in [(3, 3000), (4, 20000), (5, 1000)]:
        values = np.random.RandomState(seed).uniform(-2, 2, size)
        assert splitting.gap_peaks(values).size == 0
    assert splitting.choose_subset(values[:, None]) is None
    assert splitting.choose_subset(np.linspace(0, 1, 500)[:, None]) is None   # perfectly regular


def test_two_latents_intersection_is_one_true_cell():
    rng = np.random.RandomState(4)
    a = rng.randint(2, size=2000)
    b = rng.randint(2, size=2000)
    labels = np.stack([a * 3.0 + 0.3 * rng.uniform(-1, 1, 2000), b * 3.0 + 0.3 * rng.uniform(-1, 1, 2000)], 1)
    kept = splitting.choose_subset(labels, branch=0)
    cells = set(zip(a[kept].tolist(), b[kept].tolist()))
    assert len(cells) == 1
    cell = cells.pop()
    assert sorted(kept.tolist()) == np.flatnonzero((a == cell[0]) & (b == cell[1])).tolist()


# -- fitness ----------------------------------------------------------------------------------

def test_mig_fitness_known_answers():
    factors = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    perfect = np.stack([factors[:, 1], factors[:, 0], np.zeros(len(factors))], 1).astype(float)
    assert fitness.mig_fitness(perfect, factors) == pytest.approx(1.0)
    duplicated = np.stack([factors[:, 0], factors[:, 0], factors[:, 1]], 1).astype(float)
    assert fitness.mig_fitness(duplicated, factors) == pytest.approx(0.5)   # factor 0 has no gap


def test_leaf_mig_known_answers():
    # level 0: two surrogate labels on a full 20 x 20 grid (exactly independent), level 1: one
    grid = np.stack(np.meshgrid(np.arange(20.0), np.arange(20.0), indexing="ij"), -1).reshape(-1, 2)
    level0 = grid
    level1 = np.arange(20.0)[:, None]
    # codes copy the surrogate labels dimension by dimension: leaf-MIG exactly 1
    codes0 = np.concatenate([level0, np.zeros((400, 1))], 1)
    codes1 = np.concatenate([np.zeros((20, 2)), level1], 1)
    assert fitness.leaf_mig_score([codes0, codes1], [level0, level1]) == pytest.approx(1.0)
    # two code dimensions carry level-0 label 0 equally well: its gap is 0
    entangled = np.concatenate([level0, level0[:, :1]], 1)
    assert fitness.leaf_mig_score([entangled], [level0[:, :1]]) == pytest.approx(0.0)
    good = ([codes0, codes1], [level0, level1])
    bad = ([entangled, codes1], [level0[:, :1], level1])
    # median over leaf runs: two perfect and one half-perfect run -> 1
    assert fitness.leaf_mig_fitness([good, good, bad]) == pytest.approx(1.0)
    assert fitness.leaf_mig_fitness([bad, bad, good]) == pytest.approx(fitness.leaf_mig_score(*bad))


def test_udr_fitness_permuted_copies_score_high():
    rng = np.random.RandomState(0)
    base = rng.normal(size=(500, 3))
    means = [np.concatenate([base, np.zeros((500, 2))], 1),
             np.concatenate([-base[:, [2, 0, 1]], np.zeros((500, 2))], 1),
             np.concatenate([base[:, [1, 2, 0]] * 2, np.zeros((500, 2))], 1)]
    kls = [np.array([2.0, 2.0, 2.0, 0.0, 0.0])] * 3
    score, scores = fitness.udr_fitness(means, kls)
    assert score > 0.8 and len(scores) == 3


def test_guarded_scores_zero_with_reason():
    failed = fitness.guarded(fitness.mig_fitness, np.zeros((3, 2)), np.zeros((4, 1), int))
    assert failed.score == 0.0 and failed.error and failed.result is None
    not_finite = fitness.guarded(lambda: math.nan)
    assert not_finite.score == 0.0 and "non-finite" in not_finite.error
    assert fitness.guarded(lambda: (0.4, [1])) == fitness.GuardedScore(0.4, (0.4, [1]), "")


# -- subset dataset ---------------------------------------------------------------------------

def test_indexed_subset_samples_only_its_indices():
    from tfdisent.data.synthetic import DummyData

    base = DummyData()
    grid = int(np.prod(base.factor_sizes))
    chosen = np.array([3, 17, grid - 1])
    subset = IndexedSubset(base, chosen)
    factors = subset.sample_factors(200, np.random.RandomState(0))
    from tfdisent.data import factors_to_indices

    assert set(factors_to_indices(factors, base.factor_sizes).tolist()) == set(chosen.tolist())
    assert subset.num_examples == 3
    assert subset.contains(indices_to_factors(np.array([3, 4]), base.factor_sizes)).tolist() == [True, False]
    assert subset.sample_observations(5, np.random.RandomState(1)).shape == (5,) + tuple(base.observation_shape)


# -- records ----------------------------------------------------------------------------------

def _rows():
    rows = []
    for g in (1, 2, 3):
        for m in range(3):
            rows.append({"member": m, "generation": g, "score": 0.1 * m + 0.01 * g, "learning_rate": 1e-3,
                         "batch_size": 64, "beta": 4.0, "copied_from": None})
    rows[3]["copied_from"] = 2      # member 0 started generation 2 from member 2's generation-1 model
    rows[3]["score"] = 0.9
    rows[7]["copied_from"] = 0      # member 1 started generation 3 from member 0's generation-2 model
    rows[7]["score"] = 0.95
    return rows


def test_population_csv_roundtrip_and_lineage(tmp_path):
    path = str(tmp_path / "population.csv")
    records.write_population(path, _rows())
    header = open(path).readline().strip().split(",")
    assert header[:7] == list(records.COLUMNS)
    rows = records.read_population(path)
    assert len(rows) == 9 and rows[3]["copied_from"] == 2 and rows[0]["copied_from"] is None
    best = records.best_row(rows)
    assert (best["member"], best["generation"]) == (1, 3)
    chain = records.lineage(rows, 1, 3)
    assert [(step["generation"], step["member"]) for step in chain] == [(1, 2), (2, 0), (3, 1)]
    payload = records.write_lineage(str(tmp_path / "lineage.json"), rows, 1, 3)
    assert [(c["generation"], c["from_member"], c["to_member"]) for c in payload["copies"]] == [(2, 2, 0), (3, 0, 1)]


def test_merge_rows_later_wins():
    merged = records.merge_rows([{"member": 0, "generation": 1, "score": 0.1}],
                                [{"member": 0, "generation": 1, "score": 0.2}, {"member": 1, "generation": 1, "score": 0.3}])
    assert [row["score"] for row in merged] == [0.2, 0.3]


def test_plan_generation_is_truncation_selection_and_explore_reproducibly():
    """The driver's step after a generation: the NaN member (worst) copies one of the top quantile
    and explores the donor's values; the others keep theirs; the same inputs plan the same step
    (what a resumed driver relies on)."""
    from tfdisent.pbt.runner import PBTSettings, plan_generation

    settings = PBTSettings(population=5, backend="toy", seed=3)
    hps = {m: {"learning_rate": 1e-4 * (m + 1), "batch_size": 64, "beta": float(m + 1)} for m in range(5)}
    scores = {0: 0.5, 1: math.nan, 2: 0.9, 3: 0.7, 4: 0.8}
    plan = plan_generation(settings, 4, scores, hps)
    assert plan == plan_generation(settings, 4, scores, hps)
    copied = {m: donor for m, (_, donor) in plan.items() if donor is not None}
    assert list(copied) == [1] and copied[1] == 2                 # ceil(0.2 * 5) = 1 copy, from the top 1
    assert plan[1][0]["beta"] in {explore.perturb("beta", 3.0, f) for f in explore.PERTURBATION_FACTORS}
    assert all(plan[m][0] == hps[m] for m in (0, 2, 3, 4))


def test_plan_generation_halves_a_doubled_population_without_exploit():
    from tfdisent.pbt.runner import PBTSettings, plan_generation

    settings = PBTSettings(population=2, backend="toy", double_initial_population=True)
    hps = {m: {"learning_rate": 1e-4, "batch_size": 64, "beta": 1.0} for m in range(4)}
    plan = plan_generation(settings, 1, {0: 0.1, 1: 0.9, 2: 0.5, 3: 0.2}, hps)
    assert plan == {1: (hps[1], None), 2: (hps[2], None)}
    assert len(plan_generation(settings, 2, {1: 0.9, 2: 0.5}, hps)) == 2   # then ordinary PBT


def test_member_nan_generation_is_reset_and_scored_nan(tmp_path):
    """A toy member whose loss diverges (learning rate > 1) goes back to its last good state and
    reports NaN; its checkpoint holds that good state, and it trains on after new values."""
    from tfdisent.pbt import member

    settings = {"backend": "toy", "seed": 0, "generation_samples": 8, "models_per_member": 1}
    good = {"learning_rate": 0.1, "batch_size": 4, "beta": 1.0}
    m = member.Member(settings, 0, str(tmp_path / "work"), good)
    first = m.run_generation(1, None, str(tmp_path / "g1"))
    assert not first["nan"] and first["steps"] == 2 and 0 < first["fitness"] <= 1
    m.set_hyperparameters({**good, "learning_rate": 2.0})
    second = m.run_generation(2, None, str(tmp_path / "g2"))
    assert second["nan"] and math.isnan(second["fitness"])
    saved = [np.load(str(tmp_path / g / "toy.npz")) for g in ("g1", "g2")]
    np.testing.assert_array_equal(saved[0]["w"], saved[1]["w"])
    assert not os.path.exists(str(tmp_path / "g2.partial"))
    m.exploit(str(tmp_path / "g1"), good)
    third = m.run_generation(3, 7, str(tmp_path / "g3"))
    assert not third["nan"] and third["copied_from"] == 7 and third["fitness"] > first["fitness"]
