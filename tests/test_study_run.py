"""Running a study: one model in-process (the trainable's code path), a 3-model study on local Ray, and
resuming after the driver was killed. Tiny models (a handful of steps, one cheap metric)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tfdisent.study import runner, spec, trial


def _tiny_study(tmp_path, steps=4, name="tiny"):
    raw = json.load(open("flags/studies/cpu_small.json"))
    raw.update(name=name, seeds=[0, 1])
    raw["train"].update(steps=steps, log_every=2, checkpoint_every=2, latent_dim=4, eval_batches=2)
    raw["configs"] = [{"method": "beta_vae", "grid": {"beta": [1, 4]}}]
    raw["evaluation"] = {"metrics": ["mig"], "representations": ["mean"], "seed": 0,
                         "settings": {"mig": {"num_train": 100}}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    study = spec.load_study(str(path))
    return study, str(path)


def _evaluation(study):
    return {"metrics": study.evaluation.metrics, "representations": study.evaluation.representations,
            "settings": study.evaluation.settings, "seed": study.evaluation.seed}


def test_one_model_in_process_then_skipped_and_a_failure_recorded(tmp_path):
    study, _ = _tiny_study(tmp_path)
    out = str(tmp_path / "out")
    info = {"name": study.name, "fingerprint": study.fingerprint()}
    reports = []
    record = trial.run_model(out, study.model(1).to_dict(), _evaluation(study), info, report=reports.append)
    assert record["status"] == "done" and record["model_num"] == 1
    assert reports[-1]["done"] == 1 and reports[-1]["failed"] == 0
    run_dir = trial.model_dir(out, 1)
    assert os.path.isfile(os.path.join(run_dir, "config.json"))
    report = json.load(open(os.path.join(run_dir, "results", "evaluation_mean.json")))
    assert 0.0 <= report["metrics"]["mig"]["discrete_mig"] <= 1.0
    record_file = os.path.join(run_dir, trial.RECORD_FILE)
    stamp = os.stat(record_file).st_mtime_ns
    again = trial.run_model(out, study.model(1).to_dict(), _evaluation(study), info, report=reports.append)
    assert again == record and os.stat(record_file).st_mtime_ns == stamp and reports[-1]["skipped"] == 1
    # A setting the method refuses: recorded as failed with its reason, no exception.
    bad = study.model(0).to_dict()
    bad["hyperparameters"] = {"beta": -1.0}
    failed = trial.run_model(out, bad, _evaluation(study), info)
    assert failed["status"] == "failed" and "beta" in failed["reason"]
    assert trial.is_finished(out, 0, info["fingerprint"])
    # --retry_failed: the failure moves to the model's failure history and the model is pending again
    # (here retried with the study's own, valid setting); a done model or another study's is left alone.
    assert trial.clear_failure(out, 1, info["fingerprint"]) is None
    assert trial.clear_failure(out, 0, "another fingerprint") is None and trial.is_finished(out, 0, info["fingerprint"])
    cleared = trial.clear_failure(out, 0, info["fingerprint"])
    assert cleared == failed and not trial.is_finished(out, 0, info["fingerprint"])
    history = json.load(open(os.path.join(trial.model_dir(out, 0), trial.FAILURES_FILE)))
    assert history == [failed]
    retried = trial.run_model(out, study.model(0).to_dict(), _evaluation(study), info)
    assert retried["status"] == "done" and trial.read_record(out, 0)["status"] == "done"


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_three_models_on_local_ray(tmp_path, ray_session):
    study, _ = _tiny_study(tmp_path)
    models = spec.select_models(study, seeds=[0, 1])[:3]
    out = str(tmp_path / "out")
    lines = []
    summary = runner.run_study(study, models, out, progress=lines.append)
    assert summary == {"done": [0, 1, 2], "failed": {}, "missing": []}
    assert any("3/3 models finished" in line for line in lines)
    records = [trial.read_record(out, n) for n in (0, 1, 2)]
    # Trained in a Tune trial, scored in a CPU-only Ray task (issue 18): both on a Ray node, recorded.
    assert all(r["status"] == "done" and r["train_node"] and r["evaluation_node"] for r in records)
    assert any("trained, evaluating" in line for line in lines)
    # Same output directory, other study: refused before anything is written.
    other, _ = _tiny_study(tmp_path, steps=6, name="other")
    with pytest.raises(spec.StudyError, match="holds another study"):
        runner.run_study(other, spec.select_models(other), out)


@pytest.mark.slow
def test_resume_after_the_driver_is_killed(tmp_path):
    _, path = _tiny_study(tmp_path, steps=6)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tfdisent.bin.study", "run", f"--study={path}", f"--output_dir={out}"]
    # Own session: the kill takes the local Ray processes the driver started with it.
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 900
    first = out / "models" / "0" / "results" / "study_record.json"
    second = out / "models" / "1" / "results" / "study_record.json"
    while time.time() < deadline and not (first.exists() or second.exists()):
        time.sleep(1)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    finished = first if first.exists() else second
    assert finished.exists(), "no model finished before the deadline"
    stamp = finished.stat().st_mtime_ns
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "4 done, 0 failed, 0 unfinished" in rerun.stdout
    assert finished.stat().st_mtime_ns == stamp  # not retrained, not re-scored
    assert (out / "results.parquet").exists()
