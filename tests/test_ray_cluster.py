"""Studies and PBT on a real multi-node Ray cluster on this machine (issue 18): a head and a worker
node as separate raylets (``ray.cluster_utils.Cluster``), each with one CPU.

* a 4-model study run through ``tfdisent-study run --ray_address`` spreads its trials over both nodes
  (the node ids come from each model's own record, written by tfdisent);
* removing the worker node mid-trial: Ray Tune retries the trial on the head node, which resumes from
  the model's checkpoint (its recorded start step > 0); every model finishes once;
* the same for PBT: member actors on the lost node die with it, the driver recreates them from their
  own checkpoints in ``DIR/members/`` and the run finishes with the whole population.

Each test owns its cluster (never the session's ``ray_session``: a process holds one Ray
connection), in the xdist group ``ray_cluster``, and shuts Ray and the cluster down at the end.
"""

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tfdisent.study import runner, spec, trial

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray_cluster")]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def cluster(monkeypatch):
    """A head node and one worker node (1 CPU each); Ray and the cluster are shut down afterwards."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():   # e.g. the session's local Ray on this xdist worker
        ray.shutdown()
    # The nodes' workers at normal priority (Ray's default nice 15 starves them on a loaded machine),
    # as tfdisent.training.resources.init_ray does for a local Ray.
    monkeypatch.setenv("RAY_worker_niceness", "0")
    memory = 150 * 1024 * 1024
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": memory})
    worker = cluster.add_node(num_cpus=1, object_store_memory=memory)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


def _study(tmp_path, steps, checkpoint_every, name="cluster"):
    raw = json.load(open(os.path.join(ROOT, "flags", "studies", "cpu_small.json")))
    raw.update(name=name, seeds=[0, 1])
    raw["train"].update(steps=steps, log_every=checkpoint_every, checkpoint_every=checkpoint_every, latent_dim=4,
                        eval_batches=2)
    raw["configs"] = [{"method": "beta_vae", "grid": {"beta": [1, 4]}}]
    raw["evaluation"] = {"metrics": ["mig"], "representations": ["mean"], "seed": 0,
                         "settings": {"mig": {"num_train": 100}}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    return spec.load_study(str(path)), str(path)


def _alive_nodes(ray):
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def test_study_with_ray_address_spreads_over_both_nodes(tmp_path, cluster):
    import ray

    nodes, _ = cluster
    _, path = _study(tmp_path, steps=6, checkpoint_every=2)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "tfdisent.bin.study", "run", f"--study={path}", f"--output_dir={out}",
               f"--ray_address={nodes.address}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 done, 0 failed, 0 unfinished" in done.stdout
    records = [trial.read_record(str(out), n) for n in range(4)]
    assert all(r["status"] == "done" for r in records)
    ray.init(address=nodes.address)
    alive = _alive_nodes(ray)
    assert len(alive) == 2
    trained_on = {r["train_node"] for r in records}
    # Both raylets trained models: Tune placed the 2 concurrent 1-CPU trials on both nodes.
    assert trained_on == alive, (trained_on, alive)
    assert {r["evaluation_node"] for r in records} <= alive


def test_study_trial_moves_to_the_remaining_node_when_its_node_is_lost(tmp_path, cluster):
    import ray

    from tfdisent.training.resources import init_ray

    nodes, worker = cluster
    study, _ = _study(tmp_path, steps=300, checkpoint_every=10)
    models = spec.select_models(study)[:2]
    out = str(tmp_path / "out")
    init_ray(nodes.address)           # the drivers' own connection (runtime_env: this checkout's tfdisent)
    head_id = ray.get_runtime_context().get_node_id()
    worker_id = (_alive_nodes(ray) - {head_id}).pop()
    outcome, lines = {}, []

    def drive():
        try:
            outcome["summary"] = runner.run_study(study, models, out, ray_address=nodes.address, max_failures=3,
                                                  progress=lines.append)
        except BaseException as error:  # noqa: BLE001 - re-raised by the test below
            outcome["error"] = error

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    # Wait until a model trains on the worker node and has a checkpoint past step 0; then lose the node.
    deadline, victim = time.time() + 900, None
    while victim is None and time.time() < deadline and driver.is_alive():
        for model in models:
            attempts = trial.read_attempts(out, model.model_num)
            checkpoints = os.path.join(trial.model_dir(out, model.model_num), "checkpoints")
            if attempts and attempts[-1]["node"] == worker_id and os.path.isdir(checkpoints) and any(
                    name.startswith("ckpt-") and not name.startswith("ckpt-0.") for name in os.listdir(checkpoints)):
                victim = model.model_num
        time.sleep(0.5)
    assert victim is not None, f"no model trained on the worker node: {lines[-5:]}"
    nodes.remove_node(worker)
    driver.join(timeout=1800)
    assert not driver.is_alive(), "the study did not finish"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["summary"] == {"done": [0, 1], "failed": {}, "missing": []}
    attempts = trial.read_attempts(out, victim)
    assert [a["node"] for a in attempts][:1] == [worker_id] and attempts[-1]["node"] == head_id, attempts
    assert attempts[-1]["start_step"] > 0, attempts             # resumed from its checkpoint, not step 0
    assert trial.read_record(out, victim)["train_node"] == head_id
    for model in models:                                        # every model once: one record, one export
        assert trial.read_record(out, model.model_num)["status"] == "done"
        exports = os.listdir(os.path.join(trial.model_dir(out, model.model_num), "export"))
        assert len(exports) == 1, exports
        assert sum(line.endswith(f": model {model.model_num} done") for line in lines) == 1, lines


def test_pbt_member_is_recreated_on_the_remaining_node(tmp_path, cluster):
    import ray

    from tfdisent.pbt import records
    from tfdisent.pbt.runner import PBTSettings, run_pbt
    from tfdisent.training.resources import init_ray

    nodes, worker = cluster
    init_ray(nodes.address)
    head_id = ray.get_runtime_context().get_node_id()
    out = str(tmp_path / "pbt")
    settings = PBTSettings(fitness="mig", output_dir=out, population=4, generations=4, generation_samples=64,
                           backend="toy", toy_delay=3.0, cpus_per_member=1, ray_address=nodes.address)
    outcome, lines = {}, []

    def drive():
        try:
            outcome["summary"] = run_pbt(settings, progress=lines.append)
        except BaseException as error:  # noqa: BLE001
            outcome["error"] = error

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    population = os.path.join(out, records.POPULATION_FILE)
    deadline = time.time() + 600
    while time.time() < deadline and driver.is_alive() and not os.path.exists(population):
        time.sleep(0.2)
    assert os.path.exists(population), lines
    # Generation 1 is complete; members on the worker node die with it during generation 2.
    nodes.remove_node(worker)
    driver.join(timeout=900)
    assert not driver.is_alive() and "error" not in outcome, outcome.get("error")
    assert _alive_nodes(ray) == {head_id}
    rows = records.read_population(population)
    assert sorted((r["member"], r["generation"]) for r in rows) == [(m, g) for m in range(4) for g in (1, 2, 3, 4)]
    recreated = [line for line in lines if "recreating it from" in line]
    assert recreated, lines
    for line in recreated:
        member = int(line.split("member ")[1].split("'")[0])
        assert "its generation" in line                       # from DIR/members/, not from scratch
        generation = int(line.split("its generation ")[1].split()[0])
        before = np.load(os.path.join(records.checkpoint_dir(out, member, generation), "toy.npz"))
        after = np.load(os.path.join(records.checkpoint_dir(out, member, generation + 1), "toy.npz"))
        row = next(r for r in rows if r["member"] == member and r["generation"] == generation + 1)
        if row["copied_from"] is None:    # its own state went on: the step counter continued
            assert int(after["step"]) > int(before["step"]) > 0
    assert outcome["summary"]["members"] == 4 and outcome["summary"]["generations"] == 4
