"""rPU-VAE's recursion (Estermann et al. 2020, Algorithm 1) with stand-ins for the PBT stages: each
stage's "best model" encodes one true factor of an identity dataset, so the labels, splits, stage
files, leaf manifest and the final leaf-MIG stage can be checked exactly, in a second."""

import json
import os

import numpy as np
import pytest

from tfdisent.data.synthetic import IdentityObservations
from tfdisent.pbt import member, records, rpu
from tfdisent.pbt.runner import PBTSettings

DATASET = IdentityObservations(factor_sizes=(4, 5, 6, 20))


class _Encoder:
    """Latent k (of 4) = 3 sqrt(1 + factor k) of stage k (plus tiny noise), active (KL > 1); others
    inactive. (Unevenly spaced values: evenly spaced ones sit exactly on 20-bin histogram edges.)"""

    def __init__(self, factor):
        self.factor = factor

    def encode(self, observations):
        observations = np.asarray(observations, np.float64)
        mean = np.zeros((len(observations), 4))
        logvar = np.zeros((len(observations), 4))
        # Tiny noise that is a function of the observation alone (as a real encoder's output is), so the
        # codes do not depend on how the caller batches the observations.
        rows = observations.reshape(len(observations), -1)
        noise = 1e-4 * np.sin(rows @ (1.0 + np.arange(rows.shape[1])) * 12.9898)
        mean[:, self.factor] = 3.0 * np.sqrt(1.0 + observations[:, self.factor]) + noise
        logvar[:, self.factor] = -4.0
        return mean, logvar


@pytest.fixture
def fake_stages(monkeypatch):
    calls = []

    def fake_run_pbt(settings):
        calls.append(settings)
        os.makedirs(settings.output_dir, exist_ok=True)
        records.write_population(os.path.join(settings.output_dir, "population.csv"),
                                 [{"member": 0, "generation": 1, "score": 0.6, "learning_rate": 1e-3,
                                   "batch_size": 64, "beta": 4.0, "copied_from": None}])
        os.makedirs(os.path.join(settings.output_dir, "best"), exist_ok=True)
        summary = {"generations": 1, "members": 1, "copies": 0, "best": {"member": 0, "generation": 1, "score": 0.6}}
        with open(os.path.join(settings.output_dir, "summary.json"), "w") as stream:
            json.dump(summary, stream)
        return summary

    def fake_encoder(path, observation_shape=None, batch_size=1024):
        stage = path.split(os.sep)
        level = 0 if "x_run" in stage else int(stage[-2].split("_")[1])
        return _Encoder(level)

    monkeypatch.setattr(rpu, "run_pbt", fake_run_pbt)
    monkeypatch.setattr(member, "load_data", lambda settings: DATASET)
    import tfdisent.evaluation.representation as representation
    monkeypatch.setattr(representation, "load_gaussian_encoder", fake_encoder)
    return calls


def test_recursion_labels_one_factor_per_level(tmp_path, fake_stages):
    settings = rpu.RPUSettings(PBTSettings(output_dir=str(tmp_path), population=2, generations=1, backend="trainer"),
                               leaf_runs=2, max_depth=2)
    report = rpu.run_rpu(settings)
    root = os.path.join(str(tmp_path), "rpu")
    # x-run labels factor_0; leaf levels 1 and 2 label factor_1 and factor_2
    with open(os.path.join(root, "x_run", "labels", "stage.json")) as stream:
        x_stage = json.load(stream)
    assert x_stage["active_latents"] == [0] and x_stage["tracks"][0]["factor"] == "factor_0"
    assert x_stage["points"] == 4 * 5 * 6 * 20
    for leaf in (1, 2):
        subset = np.load(os.path.join(root, f"leaf_{leaf}", "level_1", "subset.npy"))
        factors = np.stack(np.unravel_index(subset, DATASET.factor_sizes), 1)
        assert len(np.unique(factors[:, 0])) == 1 and len(subset) == 600    # one value of factor_0 kept
        with open(os.path.join(root, f"leaf_{leaf}", "level_1", "labels", "stage.json")) as stream:
            assert json.load(stream)["tracks"][0]["factor"] == "factor_1"
        level2 = np.load(os.path.join(root, f"leaf_{leaf}", "level_2", "subset.npy"))
        assert set(level2.tolist()) < set(subset.tolist())
    # the two leaf runs take different branches at the first split
    first = [set(np.load(os.path.join(root, f"leaf_{leaf}", "level_1", "subset.npy")).tolist()) for leaf in (1, 2)]
    assert first[0] != first[1]
    with open(os.path.join(root, rpu.MANIFEST)) as stream:
        manifest = json.load(stream)
    assert [len(chain) for chain in manifest["leaf_runs"]] == [3, 3]
    # stages: x-run, 2 x (2 levels), final leaf_mig
    fitnesses = [call.fitness for call in fake_stages]
    assert fitnesses == ["udr"] * 5 + ["leaf_mig"]
    assert fake_stages[-1].leaf_manifest == os.path.join(root, rpu.MANIFEST) and fake_stages[-1].subset_path is None
    assert report["final"]["best"]["score"] == 0.6
    # the leaf-MIG fitness reads the manifest: codes equal to the true factors score 1 on every leaf run
    runs = member.load_leaf_runs(os.path.join(root, rpu.MANIFEST), 5000, 0)   # all points: exact MI
    from tfdisent.pbt import fitness
    leaf_inputs = [([np.stack(np.unravel_index(idx, DATASET.factor_sizes), 1).astype(float) for idx, _ in levels],
                    [labels for _, labels in levels]) for levels in runs]
    assert fitness.leaf_mig_fitness(leaf_inputs) == pytest.approx(1.0)


def test_rerun_skips_finished_stages(tmp_path, fake_stages):
    settings = rpu.RPUSettings(PBTSettings(output_dir=str(tmp_path), population=2, generations=1),
                               leaf_runs=1, max_depth=1)
    rpu.run_rpu(settings)
    count = len(fake_stages)
    rpu.run_rpu(settings)
    assert len(fake_stages) == count     # every stage's summary.json exists: nothing retrained


def test_a_stage_where_every_member_diverged_ends_its_leaf_run(tmp_path, fake_stages, monkeypatch):
    """Seen on the CPU-scale run: both members of a level drew learning rates >= 0.2 and went NaN in every
    generation, so the stage has no best model. The leaf run ends there; the final stage still runs."""
    fake_run_pbt = rpu.run_pbt

    def diverging_levels(settings):
        if "level_" not in settings.output_dir:
            return fake_run_pbt(settings)
        fake_stages.append(settings)
        os.makedirs(settings.output_dir, exist_ok=True)
        records.write_population(os.path.join(settings.output_dir, "population.csv"),
                                 [{"member": m, "generation": 1, "score": float("nan"), "learning_rate": 0.5,
                                   "batch_size": 8, "beta": 4.0, "copied_from": None, "nan": True} for m in (0, 1)])
        summary = {"generations": 1, "members": 2, "copies": 0, "best": None}
        with open(os.path.join(settings.output_dir, "summary.json"), "w") as stream:
            json.dump(summary, stream)
        return summary

    monkeypatch.setattr(rpu, "run_pbt", diverging_levels)
    settings = rpu.RPUSettings(PBTSettings(output_dir=str(tmp_path), population=2, generations=1),
                               leaf_runs=1, max_depth=2)
    report = rpu.run_rpu(settings)
    ends = [stage for stage in report["stages"] if "end" in stage]
    assert ends == [{"stage": "leaf_1", "end": "no member reached a finite fitness", "levels": 1}]
    assert [call.fitness for call in fake_stages] == ["udr", "udr", "leaf_mig"]   # no level 2; final ran
    assert report["final"]["best"]["score"] == 0.6
