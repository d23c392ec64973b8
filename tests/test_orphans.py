"""A killed driver leaves nothing training behind (issue 18).

* :class:`tfdisent.study.trial.ModelLock`: a second process waits for a live owner of a model directory
  and then refuses (so Ray retries later) instead of training alongside it; a dead owner's lock is
  taken over;
* kill -9 of ``tfdisent-study run`` mid-trial: within a bounded time no process of its Ray session
  (every descendant of the driver: GCS, raylet, trial and task workers within 30 s, Ray's node agents
  within 120 s) is left; the rerun finishes
  every model once (one export, one record, no attempt of the rerun while the killed run's trial
  lived).
"""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tfdisent.study import trial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_model_lock_waits_for_a_live_owner_and_takes_over_a_dead_ones(tmp_path):
    run_dir = str(tmp_path / "models" / "0")
    os.makedirs(run_dir)
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_path = os.path.join(run_dir, trial.LOCK_FILE)
        with open(lock_path, "w") as stream:   # a live process of this host holds the model
            json.dump({"host": __import__("socket").gethostname(), "pid": owner.pid,
                       "started": psutil.Process(owner.pid).create_time()}, stream)
        start = time.time()
        with pytest.raises(trial.ModelBusyError, match=f"process {owner.pid}"):
            with trial.ModelLock(run_dir, wait_seconds=1.5):
                pass
        assert time.time() - start >= 1.5                        # it waited for the owner first
        assert json.load(open(lock_path))["pid"] == owner.pid     # and left the owner's lock alone
    finally:
        owner.kill()
        owner.wait()
    # The owner is gone: its lock is stale and taken over; released on exit.
    with trial.ModelLock(run_dir, wait_seconds=0) as lock:
        assert json.load(open(lock_path))["pid"] == os.getpid()
        lock.refresh()
    assert not os.path.exists(lock_path)
    # Another host's lock: live while refreshed, stale after stale_seconds.
    with open(lock_path, "w") as stream:
        json.dump({"host": "another-host", "pid": 1}, stream)
    with pytest.raises(trial.ModelBusyError, match="another-host"):
        with trial.ModelLock(run_dir, wait_seconds=0, stale_seconds=60):
            pass
    old = time.time() - 120
    os.utime(lock_path, (old, old))
    with trial.ModelLock(run_dir, wait_seconds=0, stale_seconds=60):
        assert json.load(open(lock_path))["host"] != "another-host"


def _tiny_study(tmp_path, steps):
    raw = json.load(open(os.path.join(ROOT, "flags", "studies", "cpu_small.json")))
    raw.update(name="orphans", seeds=[0, 1])
    raw["train"].update(steps=steps, log_every=5, checkpoint_every=5, latent_dim=4, eval_batches=2)
    raw["configs"] = [{"method": "beta_vae", "grid": {"beta": [1, 4]}}]
    raw["evaluation"] = {"metrics": ["mig"], "representations": ["mean"], "seed": 0,
                         "settings": {"mig": {"num_train": 100}}}
    path = tmp_path / "orphans.json"
    path.write_text(json.dumps(raw))
    return str(path)


def _left(pids, psutil):
    """The processes of ``pids`` still running (a zombie nobody reaped has stopped: not counted)."""
    alive = []
    for pid, started in pids.items():
        try:
            process = psutil.Process(pid)
            if abs(process.create_time() - started) < 1.0 and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
def test_killed_driver_leaves_no_ray_process_and_the_rerun_trains_each_model_once(tmp_path):
    path = _tiny_study(tmp_path, steps=400)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "tfdisent.bin.study", "run", f"--study={path}", f"--output_dir={out}"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              start_new_session=True)
    descendants = {}
    deadline = time.time() + 900
    training = False
    try:
        while time.time() < deadline and driver.poll() is None and not training:
            try:
                for child in psutil.Process(driver.pid).children(recursive=True):
                    descendants[child.pid] = child.create_time()
            except psutil.NoSuchProcess:
                break
            # Mid-trial: some model has trained past its first checkpoint.
            training = any(a["start_step"] >= 0 and os.path.isdir(out / "models" / str(n) / "checkpoints")
                           and len(os.listdir(out / "models" / str(n) / "checkpoints")) > 1
                           for n in range(4) for a in trial.read_attempts(str(out), n))
            time.sleep(0.5)
        for child in psutil.Process(driver.pid).children(recursive=True):
            descendants[child.pid] = child.create_time()
        killed_attempts = {n: trial.read_attempts(str(out), n) for n in range(4)}
    finally:
        driver.kill()      # kill -9 of the driver alone (not its process group): Ray must clean up itself
        driver.wait()
    assert training, "no model started training before the deadline"
    assert descendants, "the driver started no Ray process"
    killed = time.time()
    # Everything that runs our code (trial and task workers: they could still write a model) and Ray's
    # GCS and raylet go within seconds (Ray ties their lives to the driver's and the raylet's).
    workers = [p for p in _left(descendants, psutil) if "Agent" not in p]
    while workers and time.time() < killed + 30:
        time.sleep(1)
        workers = [p for p in _left(descendants, psutil) if "Agent" not in p]
    assert not workers, f"processes of the killed driver's Ray still running after 30 s: {workers}"
    # Ray's per-node agents (DashboardAgent, RuntimeEnvAgent) see their raylet gone and exit after trying
    # for 60 s to tell the (dead) GCS about it (ray/_private/process_watcher.py); they do no work meanwhile.
    left = _left(descendants, psutil)
    while left and time.time() < killed + 120:
        time.sleep(1)
        left = _left(descendants, psutil)
    assert not left, f"processes of the killed driver's Ray still running after 120 s: {left}"
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "4 done, 0 failed, 0 unfinished" in rerun.stdout
    for n in range(4):
        run_dir = out / "models" / str(n)
        assert trial.read_record(str(out), n)["status"] == "done"
        assert len(os.listdir(run_dir / "export")) == 1
        attempts = trial.read_attempts(str(out), n)
        # The killed run's attempts are kept; the rerun added at most one, after them, resuming where
        # the killed one had saved (never from 0 when a checkpoint past 0 existed).
        assert attempts[:len(killed_attempts[n])] == killed_attempts[n]
        assert len(attempts) - len(killed_attempts[n]) <= 1
        assert not os.path.exists(run_dir / trial.LOCK_FILE)
