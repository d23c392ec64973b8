"""Training: every method trains, runs resume exactly, bad input fails cleanly, exports load."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tfdisent.data import GroundTruthData
from tfdisent.methods import METHODS
from tfdisent.training import (CHECKPOINT_DIR, NonFiniteLossError, RunConfigError, TrainConfig, Trainer)

FAST = dict(batch_size=16, log_every=5, image_every=5, checkpoint_every=5, checkpoint_secs=3600)


def _config(**overrides):
    values = dict(FAST, steps=10)
    values.update(overrides)
    return TrainConfig(**values)


def _weights(trainer):
    return [v.numpy() for v in trainer.model.encoder.variables + trainer.model.decoder.variables]


METHOD_TERMS = {"beta_tcvae": "total_correlation", "factor_vae": "discriminator_loss", "dip_vae_i": "dip_diagonal",
                "dip_vae_ii": "dip_off_diagonal", "info_vae": "mmd", "annealed_vae": "capacity"}


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"decomposition"}))
def test_every_method_trains_and_logs_its_terms(method, tmp_path):
    trainer = Trainer(_config(method=method), str(tmp_path / method))
    results = trainer.train()
    assert results["step"] == 10
    for term in ("loss", "reconstruction", "kl", "elbo", "regularizer", METHOD_TERMS.get(method, "kl")):
        assert np.isfinite(results[term]), term
    assert results["reconstruction"] > 0 and results["kl"] >= 0
    assert tf.train.latest_checkpoint(str(tmp_path / method / CHECKPOINT_DIR)).endswith("-10")
    with open(tmp_path / method / "results" / "train_results.json") as f:
        assert json.load(f)["step"] == 10
    events = os.listdir(tmp_path / method / "logs" / "train")
    assert any(name.startswith("events.out.tfevents") for name in events)


def test_resume_continues_bit_for_bit(tmp_path):
    straight = Trainer(_config(steps=20), str(tmp_path / "straight"))
    straight.train()
    first = Trainer(_config(steps=10), str(tmp_path / "resumed"))
    first.train()
    second = Trainer(_config(steps=20), str(tmp_path / "resumed"))
    assert second.restore_or_initialize() == 10
    second.train()
    for a, b in zip(_weights(straight), _weights(second)):
        np.testing.assert_array_equal(a, b)
    opt_a = [v.numpy() for v in straight.model.optimizer.variables]
    opt_b = [v.numpy() for v in second.model.optimizer.variables]
    for a, b in zip(opt_a, opt_b):
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    runs = [Trainer(_config(steps=5, seed=s), str(tmp_path / f"r{i}")) for i, s in enumerate((3, 3, 4))]
    for run in runs:
        run.train()
    w = [_weights(r) for r in runs]
    assert all(np.array_equal(a, b) for a, b in zip(w[0], w[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(w[0], w[2]))


def test_output_dir_with_other_method_or_settings_is_refused(tmp_path):
    Trainer(_config(steps=5, method="beta_vae"), str(tmp_path / "run")).train()
    with pytest.raises(RunConfigError, match="holds a beta_vae run"):
        Trainer(_config(steps=5, method="factor_vae"), str(tmp_path / "run"))
    with pytest.raises(RunConfigError, match="latent_dim"):
        Trainer(_config(steps=5, method="beta_vae", latent_dim=5), str(tmp_path / "run"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(RunConfigError, match="not empty"):
        Trainer(_config(steps=5), str(tmp_path / "other"))


class _NaNData(GroundTruthData):
    name = "nan_data"
    factor_sizes = (4,)
    factor_names = ("f",)
    observation_shape = (64, 64, 1)

    def sample_observations_from_factors(self, factors, random_state):
        return np.full((len(factors), 64, 64, 1), np.nan, np.float32)


def test_non_finite_loss_stops_without_saving(tmp_path):
    trainer = Trainer(_config(steps=10), str(tmp_path / "nan"), dataset=_NaNData())
    with pytest.raises(NonFiniteLossError, match="non-finite loss"):
        trainer.train()
    assert tf.train.latest_checkpoint(str(tmp_path / "nan" / CHECKPOINT_DIR)) is None


def test_warm_start_copies_networks(tmp_path):
    source = Trainer(_config(steps=5, method="vae"), str(tmp_path / "vae"))
    source.train()
    target = Trainer(_config(steps=5, method="beta_tcvae", init_from=str(tmp_path / "vae")), str(tmp_path / "btc"))
    assert target.restore_or_initialize() == 0
    for a, b in zip(_weights(source), _weights(target)):
        np.testing.assert_array_equal(a, b)
    bad = Trainer(_config(steps=5, latent_dim=4, init_from=str(tmp_path / "vae")), str(tmp_path / "bad"))
    with pytest.raises((RunConfigError, ValueError)):
        bad.restore_or_initialize()


def test_learning_rate_reduced_on_plateau_and_state_checkpointed(tmp_path):
    trainer = Trainer(_config(steps=5, lr_plateau_patience=2, learning_rate=1e-3), str(tmp_path / "plateau"))
    trainer.train()
    lr0 = float(trainer.model.optimizer.learning_rate)
    for i, loss in enumerate([10.0, 11.0, 12.0]):
        trainer._maybe_reduce_lr(5 * (i + 2), {"loss": np.float32(loss)})
    assert float(trainer.model.optimizer.learning_rate) == pytest.approx(lr0 * 0.5)
    trainer._maybe_reduce_lr(25, {"loss": np.float32(13.0)})
    trainer.save()
    resumed = Trainer(_config(steps=5, lr_plateau_patience=2, learning_rate=1e-3), str(tmp_path / "plateau"))
    resumed.restore_or_initialize()
    assert float(resumed.model.optimizer.learning_rate) == pytest.approx(lr0 * 0.5)
    assert resumed.plateau_callback.best == pytest.approx(10.0)
    assert resumed.plateau_callback.wait == trainer.plateau_callback.wait == 1


def test_capacity_applies_to_any_method(tmp_path):
    trainer = Trainer(_config(steps=5, method="beta_vae", capacity_max=10.0, capacity_steps=10), str(tmp_path / "c"))
    results = trainer.train()
    assert results["capacity"] == pytest.approx(np.mean([10.0 * s / 10 for s in range(5)]), rel=1e-5)


# --- the binary -------------------------------------------------------------------------------------
def _cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfdisent.bin.train", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--method=nope"], "--method=nope"),
    (["--dataset=nope"], "--dataset=nope"),
    (["--beta=-1"], "--beta=-1"),
    (["--beta=abc"], "--beta=abc"),
    (["--method=beta_tcvae", "--gamma=3"], "--gamma does not apply"),
    (["--steps=0"], "--steps=0"),
])
def test_cli_rejects_bad_flags_in_one_line(args, message, tmp_path):
    result = _cli(*args, f"--output_dir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_cli_refuses_other_methods_run_and_bad_data_file(tmp_path):
    run = tmp_path / "run"
    ok = _cli("--method=beta_vae", "--steps=2", "--log_every=1", "--image_every=0", "--export=false",
              f"--output_dir={run}")
    assert ok.returncode == 0, ok.stderr
    other = _cli("--method=factor_vae", "--steps=4", f"--output_dir={run}")
    assert other.returncode == 2 and "holds a beta_vae run" in other.stderr and "Traceback" not in other.stderr
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz").write_bytes(b"not a zip file")
    bad = _cli("--steps=2", f"--data_dir={data_dir}", f"--output_dir={tmp_path / 'run2'}")
    assert bad.returncode == 2
    assert "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_survives_kill_9_and_sigterm_then_resumes(tmp_path):
    run = tmp_path / "run"
    args = ["--method=beta_vae", "--steps=60", "--batch_size=16", "--log_every=5", "--checkpoint_every=5",
            "--image_every=0", "--export=false", f"--output_dir={run}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-m", "tfdisent.bin.train", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not tf.train.latest_checkpoint(str(run / CHECKPOINT_DIR)):
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    killed_at = int(tf.train.latest_checkpoint(str(run / CHECKPOINT_DIR)).rsplit("-", 1)[1])
    assert 0 < killed_at < 60

    proc = subprocess.Popen([sys.executable, "-m", "tfdisent.bin.train", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while time.time() < deadline:
        latest = tf.train.latest_checkpoint(str(run / CHECKPOINT_DIR))
        if latest and int(latest.rsplit("-", 1)[1]) > killed_at:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "rerun the same command to resume" in stderr
    stopped_at = int(tf.train.latest_checkpoint(str(run / CHECKPOINT_DIR)).rsplit("-", 1)[1])
    assert killed_at < stopped_at <= 60

    final = subprocess.run([sys.executable, "-m", "tfdisent.bin.train", *args], env=env, capture_output=True,
                           text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert "resumed from" in final.stderr and f"at step {stopped_at}" in final.stderr
    assert "done:" in final.stdout and "(step 60;" in final.stdout


@pytest.mark.parametrize("method", ["beta_tcvae", "factor_vae"])
def test_mixed_precision_trains_with_float32_losses(method, tmp_path):
    trainer = Trainer(_config(steps=5, method=method, mixed_precision=True), str(tmp_path / method))
    assert trainer.model.encoder.conv1.compute_dtype == "float16"
    results = trainer.train()
    assert np.isfinite(results["loss"])
    import keras
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for later models


def test_cli_corrupt_saved_config_is_a_one_line_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{not json")
    result = _cli(f"--output_dir={run}")
    assert result.returncode == 2
    assert "cannot read run config" in result.stderr and "Traceback" not in result.stderr
