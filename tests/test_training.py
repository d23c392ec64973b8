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
from tfdisent.training import (CHECKPOINT_DIR, CONFIG_FILE, NonFiniteLossError, RunConfigError, TrainConfig,
                                Trainer)

# The one-hidden-layer ``mlp`` network: what these tests check (resume, seeds, data streams, hyperparameters,
# exploit, lock-step) does not depend on the network, and it traces and steps several times faster than
# ``dlib_conv``, which trains in the warm-start, export, mixed-precision and kill -9 tests below (``CONV``).
# No image summaries (~0.5 s a run): test_every_method_trains_and_logs_its_terms writes and checks them per method.
FAST = dict(batch_size=16, log_every=5, image_every=0, checkpoint_every=5, checkpoint_secs=3600, eval_batches=2,
            export=False, architecture="mlp")
CONV = dict(architecture="auto")   # resolves to dlib_conv for images


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
    # The method's terms do not depend on the network (FAST's ``mlp``).
    trainer = Trainer(_config(method=method, image_every=5), str(tmp_path / method))
    results = trainer.train()
    assert results["step"] == 10
    for term in ("loss", "reconstruction", "kl", "elbo", "regularizer", METHOD_TERMS.get(method, "kl")):
        assert np.isfinite(results["train"][term]), term
    assert results["train"]["reconstruction"] > 0 and results["train"]["kl"] >= 0
    evaluation = results["eval"]  # held-out batches, inference mode
    assert evaluation["num_examples"] == 2 * 16 and len(evaluation["kl_per_dim"]) == 10
    assert evaluation["kl"] == pytest.approx(sum(evaluation["kl_per_dim"]), rel=1e-4)
    assert evaluation["elbo"] == pytest.approx(-(evaluation["reconstruction"] + evaluation["kl"]), rel=1e-4)
    assert 0 <= evaluation["active_latents"] <= 10
    assert tf.train.latest_checkpoint(str(tmp_path / method / CHECKPOINT_DIR)).endswith("-10")
    with open(tmp_path / method / "results" / "train_results.json") as f:
        assert json.load(f)["step"] == 10
    events = [os.path.join(tmp_path / method / "logs" / "train", name)
              for name in os.listdir(tmp_path / method / "logs" / "train") if name.startswith("events.out.tfevents")]
    assert events
    # Image summaries at steps 5 and 10 (image_every=5): reconstructions, traversals and prior samples.
    image_steps = {}
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    image_steps.setdefault(value.tag, set()).add(event.step)
    assert image_steps == {tag: {5, 10} for tag in ("reconstructions", "traversals", "prior_samples")}, image_steps


@pytest.mark.heavy
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
    # A directory holding other files (e.g. a Ray trial's) is fine; one holding checkpoints of no run is not.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    Trainer(_config(steps=5), str(tmp_path / "other")).train()
    (tmp_path / "other" / "config.json").unlink()
    with pytest.raises(RunConfigError, match="holds checkpoints but no config.json"):
        Trainer(_config(steps=5), str(tmp_path / "other"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunConfigError, match="is not a directory"):
        Trainer(_config(steps=5), str(tmp_path / "file"))


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
    source = Trainer(_config(steps=5, method="vae", **CONV), str(tmp_path / "vae"))
    source.train()
    target = Trainer(_config(steps=5, method="beta_tcvae", init_from=str(tmp_path / "vae"), **CONV),
                     str(tmp_path / "btc"))
    assert target.restore_or_initialize() == 0
    for a, b in zip(_weights(source), _weights(target)):
        np.testing.assert_array_equal(a, b)
    # A warm start that cannot work fails in the constructor and writes nothing.
    with pytest.raises(RunConfigError, match="do not match"):
        Trainer(_config(steps=5, latent_dim=4, init_from=str(tmp_path / "vae"), **CONV), str(tmp_path / "bad"))
    with pytest.raises(RunConfigError, match="no checkpoint found"):
        Trainer(_config(steps=5, init_from=str(tmp_path / "nowhere")), str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


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
    assert results["train"]["capacity"] == pytest.approx(np.mean([10.0 * s / 10 for s in range(5)]), rel=1e-5)


# --- the binary -------------------------------------------------------------------------------------
def _cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfdisent.bin.train", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


# Refused flags (tests/conftest.py TRAIN_COMMANDS, all run in one process) -> the text their error names.
BAD_FLAGS = {"method_nope": "--method=nope", "dataset_nope": "--dataset=nope", "beta_negative": "--beta=-1",
             "beta_text": "--beta=abc", "gamma_for_beta_tcvae": "--gamma does not apply", "steps_zero": "--steps=0"}


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_cli_rejects_bad_flags_in_one_line(case, cli_refusals):
    root, results = cli_refusals
    result = results[case]
    assert result["code"] != 0
    assert BAD_FLAGS[case] in result["stderr"] + result["error"]   # absl's own flag errors come back as "error"
    assert "Traceback" not in result["stderr"] + result["error"]
    assert not (root / case).exists()


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
def test_cli_refuses_other_methods_run_and_bad_data_file(cli_refusals):
    _, results = cli_refusals
    assert results["ok"]["code"] == 0, results["ok"]
    other = results["other_method"]
    assert other["code"] == 2 and "holds a beta_vae run" in other["stderr"] and other["error"] == "exit 2"
    bad = results["bad_data"]
    assert bad["code"] == 2
    assert "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz" in bad["stderr"] and "Traceback" not in bad["stderr"]


@pytest.mark.heavy
def test_cli_survives_kill_9_and_sigterm_then_resumes(tmp_path):
    run = tmp_path / "run"
    args = ["--method=beta_vae", "--steps=60", "--batch_size=16", "--log_every=5", "--checkpoint_every=5",
            "--image_every=0", "--export=false", "--eval_batches=1", f"--output_dir={run}"]
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
    # The rerun after kill -9 resumed from the last checkpoint ...
    assert "resumed from" in stderr and f"at step {killed_at}" in stderr
    # ... and SIGTERM stops it cleanly: a final checkpoint, exit 128 + 15, and what to do next.
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "rerun the same command to resume" in stderr
    stopped_at = int(tf.train.latest_checkpoint(str(run / CHECKPOINT_DIR)).rsplit("-", 1)[1])
    assert killed_at < stopped_at <= 60

    # The run resumes from the SIGTERM checkpoint and finishes (in this process: the CLI's resume path is
    # the one checked above; this saves a third TensorFlow start).
    final = Trainer(TrainConfig.load(str(run / CONFIG_FILE)), str(run))
    assert final.restore_or_initialize() == stopped_at
    assert final.train()["step"] == 60 and final.step == 60


@pytest.mark.heavy
@pytest.mark.parametrize("method,architecture", [("beta_tcvae", "auto"), ("factor_vae", "mlp")])
def test_mixed_precision_trains_with_float32_losses(method, architecture, tmp_path):
    # float16 convolutions are emulated on a CPU (~100x float32): 2 steps on 4 images, one held-out batch and
    # no image summaries prove the same (float16 networks, finite float32 loss, the policy restored). The
    # convolutional network once (beta_tcvae); FactorVAE's own part, the discriminator, is an MLP either way.
    tiny = dict(steps=2, batch_size=4, log_every=1, image_every=0, checkpoint_every=2, eval_batches=1)
    trainer = Trainer(_config(method=method, mixed_precision=True, architecture=architecture, **tiny),
                      str(tmp_path / method))
    first = {"auto": "conv1", "mlp": "dense1"}[architecture]
    assert trainer.model.encoder.get_layer(first).compute_dtype == "float16"
    results = trainer.train()
    assert np.isfinite(results["train"]["loss"])
    import keras
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for later models


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
def test_cli_corrupt_saved_config_is_a_one_line_error(cli_refusals):
    result = cli_refusals[1]["corrupt"]
    assert result["code"] == 2
    assert "cannot read run config" in result["stderr"] and "Traceback" not in result["stderr"] + result["error"]


# --- Training as a library (config records, export from Python, failed starts, drivers) ----------------

def test_config_json_and_export_record_resolved_hyperparameters_and_seeds(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(_config(steps=5, method="beta_tcvae", export=True, **CONV), str(run))
    results = trainer.train()
    saved = json.loads((run / "config.json").read_text())
    assert saved["hyperparameters"] == {"beta": 6.0, "tc_estimator": "mws"}  # defaults, resolved
    assert saved["architecture"] == "dlib_conv"  # "auto" resolved for images
    assert set(saved["seeds"]) == {"model", "data", "objective"}
    # The Python API exports like tfdisent-train (TrainConfig.export), with the run's settings as metadata.
    assert results["export"] == str(run / "export" / "5")
    metadata = json.loads((run / "export" / "5" / "assets.extra" / "tfdisent_export.json").read_text())
    assert metadata["hyperparameters"]["beta"] == 6.0 and metadata["method"] == "beta_tcvae"
    assert metadata["architecture"] == "dlib_conv" and metadata["seeds"] == saved["seeds"]
    model = tf.saved_model.load(results["export"])
    codes = model.signatures["serving_default"](images=tf.zeros([2, 64, 64, 1]))
    assert codes["mean"].shape == (2, 10)


def test_architecture_follows_the_data(tmp_path):
    trainer = Trainer(TrainConfig(method="decomposition", dataset="pinwheel", steps=2, log_every=1, image_every=0,
                                  eval_batches=1, export=False, hyperparameters={"prior": "mixture"}),
                      str(tmp_path / "pinwheel"))
    assert trainer.config.architecture == "mlp"
    assert trainer.train()["step"] == 2
    with pytest.raises(RunConfigError, match=r"dlib_conv needs images \[H, W, C\].*\(2,\)"):
        Trainer(TrainConfig(method="vae", dataset="pinwheel", architecture="dlib_conv"), str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_signals_only_on_the_main_thread_and_trainers_coexist(tmp_path):
    import threading
    outcome = {}

    def run():
        try:
            trainer = Trainer(_config(steps=5), str(tmp_path / "thread"))
            outcome["handles"] = trainer.handle_signals
            outcome["step"] = trainer.train()["step"]
        except Exception as e:  # noqa: BLE001 - reported below
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert outcome == {"handles": False, "step": 5}
    # Building a trainer leaves the process-wide random state alone (no keras.utils.set_random_seed).
    import random
    state = random.getstate()
    np_state = np.random.get_state()[1].copy()
    Trainer(_config(steps=5, seed=7), str(tmp_path / "other"))
    assert random.getstate() == state and np.array_equal(np.random.get_state()[1], np_state)


def test_train_steps_interval_callback_and_same_batches_for_shared_data_seed(tmp_path):
    a = Trainer(_config(steps=100, seed=1, data_seed=5), str(tmp_path / "a"))
    b = Trainer(_config(steps=100, seed=2, data_seed=5), str(tmp_path / "b"))
    c = Trainer(_config(steps=100, seed=1), str(tmp_path / "c"))
    batch_a, batch_b, batch_c = (next(t.iterator).numpy() for t in (a, b, c))
    np.testing.assert_array_equal(batch_a, batch_b)
    assert not np.array_equal(batch_a, batch_c)
    logs = a.train_steps(7)
    assert a.step == 7 and np.isfinite(logs["loss"])
    seen = []
    a.train(interval_callback=lambda step, logs: seen.append(step) or step >= 15)
    assert seen == [10, 15] and a.step == 15


def test_hyperparameters_change_between_steps_and_survive_checkpoints(tmp_path):
    trainer = Trainer(_config(steps=100, method="beta_tcvae"), str(tmp_path / "run"))
    trainer.train_steps(5)
    traced = trainer._train_loop.experimental_get_tracing_count()
    trainer.set_hyperparameters(beta=3.0, learning_rate=5e-4)
    assert trainer.hyperparameters == {"learning_rate": pytest.approx(5e-4), "batch_size": 16, "beta": 3.0}
    # The compiled step reads the new values: no retrace, and the loss uses beta = 3.
    trainer.train_steps(5)
    assert trainer._train_loop.experimental_get_tracing_count() == traced
    batch = next(trainer.iterator)
    terms = trainer.model.forward(batch, training=False)
    expected = float(terms["kl"]) + 2.0 * float(terms["total_correlation_mws"])
    assert float(terms["regularizer"]) == pytest.approx(expected, rel=1e-5)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["hyperparameters"]["beta"] == 3.0 and saved["learning_rate"] == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="tc_estimator cannot change"):
        trainer.set_hyperparameters(tc_estimator="mss")
    # A new batch size swaps the data stream.
    trainer.set_hyperparameters(batch_size=8)
    trainer.train_steps(5)
    assert next(trainer.iterator).shape[0] == 8
    trainer.save()
    resumed = Trainer(_config(steps=100, method="beta_tcvae", batch_size=8, learning_rate=5e-4,
                              hyperparameters={"beta": 3.0}), str(tmp_path / "run"))
    assert resumed.restore_or_initialize() == 15
    assert resumed.hyperparameters == trainer.hyperparameters


def test_exploit_copies_a_donor_then_explore_takes_effect(tmp_path):
    """PBT's exploit-then-explore: a member restores a donor's weights and optimizer state (not its data
    stream), then its own perturbed hyperparameters drive the next steps."""
    donor = Trainer(_config(steps=100, method="beta_vae", seed=1), str(tmp_path / "donor"))
    donor.train_steps(10)
    donor.set_hyperparameters(beta=2.0)
    snapshot = donor.save(str(tmp_path / "snapshot"))
    member = Trainer(_config(steps=100, method="beta_vae", seed=2, learning_rate=3e-4), str(tmp_path / "member"))
    member.train_steps(5)
    own_batch = next(member.iterator).numpy()
    member.restore(os.path.dirname(snapshot), data=False)
    assert member.step == 10 and member.hyperparameters["beta"] == 2.0
    for a, b in zip(_weights(donor), _weights(member)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(donor.model.optimizer.variables, member.model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    member.set_hyperparameters(beta=8.0, learning_rate=1e-3)
    member.train_steps(5)
    assert member.step == 15 and member.hyperparameters["beta"] == 8.0
    assert float(member.model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert not np.array_equal(next(member.iterator).numpy(), own_batch)  # its own stream moved on
    # data=True takes the donor's stream position too: both continue with the same batches.
    twin = Trainer(_config(steps=100, method="beta_vae", seed=3), str(tmp_path / "twin"))
    twin.restore(os.path.dirname(snapshot))
    fresh = Trainer(_config(steps=100, method="beta_vae", seed=1), str(tmp_path / "donor2"))
    fresh.restore(os.path.dirname(snapshot))
    np.testing.assert_array_equal(next(twin.iterator).numpy(), next(fresh.iterator).numpy())


def test_fit_and_evaluate_report_running_means():
    from tfdisent.methods import get_method
    from tfdisent.models import build_architecture
    import keras
    encoder, decoder = build_architecture("mlp", (2,), 2)
    model = get_method("beta_vae")(encoder, decoder, beta=1.0, likelihood="gaussian")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = np.random.RandomState(0).randn(64, 2).astype(np.float32)
    history = model.fit(data, batch_size=16, epochs=1, verbose=0, shuffle=False)
    per_batch = []
    for start in range(0, 64, 16):  # each batch's loss in inference mode vs evaluate's mean
        per_batch.append(float(model.forward(data[start:start + 16], training=False)["reconstruction"]))
    results = model.evaluate(data, batch_size=16, verbose=0, return_dict=True)
    assert results["reconstruction"] == pytest.approx(np.mean(per_batch), rel=0.05)
    assert np.isfinite(history.history["loss"][0]) and len(results["kl_per_dim"]) == 2


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
def test_cli_failed_start_writes_nothing_and_the_corrected_command_runs(cli_refusals):
    root, results = cli_refusals
    bad = results["no_init"]
    assert bad["code"] == 2 and "no checkpoint found at nowhere" in bad["stderr"]
    assert "Traceback" not in bad["stderr"] + bad["error"] and not (root / "no_init").exists()
    as_file = results["as_file"]
    assert as_file["code"] == 2 and "is not a directory" in as_file["stderr"]
    assert "Traceback" not in as_file["stderr"] + as_file["error"]
    # The corrected command, in the real console script's own process: exit code 0, what a terminal shows.
    run = root / "no_init"
    ok = _cli("--method=vae", "--steps=2", "--log_every=1", "--image_every=0", "--eval_batches=1", "--export=false",
              "--architecture=mlp", f"--output_dir={run}")
    assert ok.returncode == 0, ok.stderr
    # TensorFlow's own logging stays off the console; the next commands name the real run directory.
    assert "cuda" not in ok.stderr.lower() and "absl::InitializeLog" not in ok.stderr
    assert "Sharding callback" not in ok.stderr
    assert f"tensorboard --logdir {run / 'logs'}" in ok.stdout


def test_lockstep_trainers_match_separate_runs_on_the_same_batches(tmp_path):
    """K models in one compiled call equal the same K models trained one by one on the same batches."""
    from tfdisent.data import load_dataset
    from tfdisent.training import LockstepTrainers
    dataset = load_dataset("dsprites")
    configs = [_config(steps=100, method="beta_tcvae", seed=s, data_seed=9) for s in (1, 2)]
    group = LockstepTrainers([Trainer(c, str(tmp_path / f"lock{i}"), dataset=dataset) for i, c in enumerate(configs)])
    logs = group.train_steps(7)
    separate = [Trainer(c, str(tmp_path / f"alone{i}"), dataset=dataset) for i, c in enumerate(configs)]
    alone_logs = [trainer.train_steps(7) for trainer in separate]
    for locked, alone, log, alone_log in zip(group.trainers, separate, logs, alone_logs):
        assert locked.step == 7
        # Same batches and noise: the same terms (other batches would differ by ~1% in reconstruction) ...
        assert log["reconstruction"] == pytest.approx(alone_log["reconstruction"], rel=1e-5)
        # ... and the same weights up to the float rounding of a differently scheduled graph (measured
        # <= 3e-5 after 7 steps; each step moves a weight by up to the learning rate, 1e-4).
        for a, b in zip(_weights(locked), _weights(alone)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
    # Each member is an ordinary run directory: saved, it resumes alone.
    group.trainers[1].save()
    resumed = Trainer(configs[1], str(tmp_path / "lock1"), dataset=dataset)
    assert resumed.restore_or_initialize() == 7
    with pytest.raises(ValueError, match="same dataset object, batch_size"):
        LockstepTrainers([Trainer(_config(data_seed=1), str(tmp_path / "x"), dataset=dataset),
                          Trainer(_config(data_seed=2), str(tmp_path / "y"), dataset=dataset)])
