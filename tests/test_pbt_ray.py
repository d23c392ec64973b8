"""PBT on local Ray Tune (Estermann et al. 2020 schedule): a 4-member x 2-generation run with
the numpy toy backend (the scheduling, exploit/explore, records and resume machinery), the
population halving, and resume after the driver is killed. The Trainer-backed exploit test is in
test_pbt_member.py."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfdisent.pbt import explore, member, records
from tfdisent.pbt.runner import PBTSettings, run_pbt

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.heavy]


def _explored_values(value, name):
    return {explore.perturb(name, value, f) for f in explore.PERTURBATION_FACTORS}


@pytest.fixture(scope="module")
def toy_run(ray_session, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pbt_toy"))
    settings = PBTSettings(fitness="mig", output_dir=out, population=4, generations=2, generation_samples=64,
                           backend="toy", cpus_per_member=1)
    summary = run_pbt(settings)
    return settings, out, summary


def test_four_members_two_generations(toy_run):
    settings, out, summary = toy_run
    rows = records.read_population(os.path.join(out, "population.csv"))
    assert sorted((r["member"], r["generation"]) for r in rows) == [(m, g) for m in range(4) for g in (1, 2)]
    initial = settings.initial_population()
    for row in rows:
        if row["generation"] == 1:
            assert row["learning_rate"] == pytest.approx(initial[row["member"]]["learning_rate"])
            assert row["batch_size"] == initial[row["member"]]["batch_size"]
    # quantile 0.2 of 4 -> exactly the worst member copies the best one after generation 1
    first = {r["member"]: r["score"] for r in rows if r["generation"] == 1}
    copies = [r for r in rows if r["copied_from"] is not None]
    assert len(copies) == 1 and summary["copies"] == 1
    receiver, donor = copies[0]["member"], copies[0]["copied_from"]
    assert receiver == min(first, key=first.get) and donor == max(first, key=first.get)
    assert copies[0]["generation"] == 2
    # explore: the receiver's new hyperparameters are the donor's times one of {2, 1.2, 0.8, 0.5}
    donor_hp = initial[donor]
    assert round(copies[0]["learning_rate"], 12) in {round(v, 12) for v in _explored_values(donor_hp["learning_rate"], "learning_rate")}
    assert copies[0]["batch_size"] in _explored_values(donor_hp["batch_size"], "batch_size")
    assert copies[0]["beta"] in _explored_values(donor_hp["beta"], "beta")


def test_exploit_continues_from_donor_weights(toy_run):
    _, out, _ = toy_run
    rows = records.read_population(os.path.join(out, "population.csv"))
    copy = next(r for r in rows if r["copied_from"] is not None)
    donor_state = np.load(os.path.join(records.checkpoint_dir(out, copy["copied_from"], 1), "toy.npz"))
    receiver_state = np.load(os.path.join(records.checkpoint_dir(out, copy["member"], 2), "toy.npz"))
    # one toy step with the receiver's own (explored) learning rate, from the donor's weights
    expected = donor_state["w"] - copy["learning_rate"] * (donor_state["w"] - member.ToyMember.TARGET)
    np.testing.assert_allclose(receiver_state["w"], expected, rtol=1e-12)
    assert int(receiver_state["step"]) == int(donor_state["step"]) + 1


def test_outputs_best_lineage_plot(toy_run):
    _, out, summary = toy_run
    rows = records.read_population(os.path.join(out, "population.csv"))
    best = records.best_row(rows)
    assert summary["best"]["member"] == best["member"] and summary["best"]["score"] == pytest.approx(best["score"])
    with open(os.path.join(out, "best", "lineage.json")) as stream:
        lineage = json.load(stream)
    assert lineage["schedule"][-1]["generation"] == best["generation"]
    assert os.path.exists(os.path.join(out, "best", "checkpoint", member.META_FILE))
    assert os.path.getsize(os.path.join(out, "plots", "population.png")) > 1000
    assert os.path.isdir(os.path.join(out, "logs", "pbt"))


def test_rerun_restores_finished_experiment(toy_run):
    """The resume code path in-process: the same settings again restore the Tuner, add nothing."""
    settings, out, summary = toy_run
    before = open(os.path.join(out, "population.csv")).read()
    again = run_pbt(settings)
    assert open(os.path.join(out, "population.csv")).read() == before
    assert again["best"] == summary["best"]
    changed = PBTSettings(**{**settings.__dict__, "population": 5})
    with pytest.raises(explore.PBTConfigError, match="other settings"):
        run_pbt(changed)


def test_trainer_members_on_ray(ray_session, tmp_path):
    """The production member path in the default suite: Trainer-backed members (``TrainerMember``) as Ray
    actors, scored by MIG on fixed labels, checkpointed, and the best one exported, on a tiny network (mlp,
    d=4, one step per generation). The paper-scale behaviour of the same path is in test_pbt_member.py."""
    out = str(tmp_path / "pbt")
    settings = PBTSettings(fitness="mig", output_dir=out, population=2, generations=2, generation_samples=64,
                           num_labels=200, latent_dim=4, architecture="mlp", log_every=1, backend="trainer",
                           cpus_per_member=1)
    summary = run_pbt(settings, progress=None)
    rows = records.read_population(os.path.join(out, "population.csv"))
    assert sorted((r["member"], r["generation"]) for r in rows) == [(m, g) for m in range(2) for g in (1, 2)]
    for row in rows:
        nan = str(row["nan"]).lower() == "true"   # population.csv's text column
        assert nan or (0.0 <= row["score"] <= 1.0 and not row["fitness_error"]), row
        assert int(row["steps"]) == max(1, 64 // row["batch_size"])
        meta = member.read_meta(records.checkpoint_dir(out, row["member"], row["generation"]))
        assert meta["method"] == "beta_tcvae" and meta["models_per_member"] == 1
        assert os.path.isdir(os.path.join(records.checkpoint_dir(out, row["member"], row["generation"]), "model_0"))
    if summary["best"] is not None:   # at least one member stayed finite (the paper's rates reach 1)
        assert summary["export"] and os.path.exists(os.path.join(summary["export"], "saved_model.pb"))


@pytest.mark.slow
def test_halving_keeps_best_half(ray_session, tmp_path):
    settings = PBTSettings(fitness="mig", output_dir=str(tmp_path), population=2, generations=2,
                           generation_samples=64, backend="toy", double_initial_population=True)
    run_pbt(settings)
    rows = records.read_population(os.path.join(str(tmp_path), "population.csv"))
    first = {r["member"]: r["score"] for r in rows if r["generation"] == 1}
    second = {r["member"] for r in rows if r["generation"] == 2}
    assert len(first) == 4
    assert second == set(sorted(first, key=first.get)[2:])


RESUME_SCRIPT = """
import sys
from tfdisent.pbt.runner import PBTSettings, run_pbt
run_pbt(PBTSettings(fitness="mig", output_dir=sys.argv[1], population=3, generations=4, generation_samples=8,
                    backend="toy", toy_delay=float(sys.argv[2]), num_cpus=2), progress=None)
"""
COMPARED = ("member", "generation", "score", "learning_rate", "batch_size", "beta", "copied_from", "steps")


def _table(path):
    return [{k: row[k] for k in COMPARED} for row in records.read_population(path)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pbt_whole") / "run")
    finished = subprocess.run([sys.executable, "-c", RESUME_SCRIPT, out, "0"], capture_output=True, text=True,
                              timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return _table(os.path.join(out, "population.csv"))


@pytest.mark.slow
@pytest.mark.parametrize("rows_before_kill", [0, 3, 6], ids=["before_exploit", "during_exploit", "after_exploit"])
def test_resume_after_driver_killed(tmp_path, uninterrupted, rows_before_kill):
    """kill -9 of the driver (its whole process group) while generation 1 trains (before any
    exploit), right after generation 1 was recorded (while the copy into the worst member and
    generation 2 run) and after generation 2; the rerun of the same command ends with exactly the
    population.csv of an uninterrupted run: same members, scores, copies and explored values."""
    out = str(tmp_path / "run")
    command = [sys.executable, "-c", RESUME_SCRIPT, out, "1.0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    csv = os.path.join(out, "population.csv")
    deadline = time.time() + 300
    while time.time() < deadline:
        if rows_before_kill == 0 and os.path.isdir(os.path.join(out, records.MEMBERS_DIR)):
            break
        if rows_before_kill and os.path.exists(csv) and len(records.read_population(csv)) >= rows_before_kill:
            break
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partial = records.read_population(csv)
    assert len(partial) == rows_before_kill                       # only complete generations are recorded
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert _table(csv) == uninterrupted
    assert any(row["copied_from"] is not None for row in uninterrupted)
