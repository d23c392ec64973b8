"""Training precision: float32 where it matters under every policy, bfloat16 resumes exactly, and a CPU
without native bfloat16 is refused in one line."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdisent.data import load_dataset
from tfdisent.methods import METHODS
from tfdisent.training import RunConfigError, TrainConfig, Trainer, build_model, resolve_config
from tfdisent.training.precision import (PrecisionError, check_precision, cpu_flags, native_bfloat16_flags,
                                         speed_factor)

# Tiny networks: one hidden layer of 100 (the ``mlp`` architecture) on dSprites, batch 16.
TINY = dict(architecture="mlp", latent_dim=6, batch_size=16, log_every=5, image_every=0, checkpoint_every=5,
            checkpoint_secs=3600, eval_batches=1, export=False)
MIXED = ("mixed_bfloat16", "mixed_float16")

X86_AMX = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
X86_PLAIN = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
ARM_PLAIN = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("dsprites")


# --- detection and refusal --------------------------------------------------------------------------
@pytest.mark.parametrize("text, native", [(X86_AMX, ("amx_bf16", "avx512_bf16")), (X86_PLAIN, ()),
                                          (ARM_BF16, ("bf16",)), (ARM_PLAIN, ()), ("", ())])
def test_native_bfloat16_flags_from_cpuinfo(text, native):
    assert set(native_bfloat16_flags(cpu_flags(text))) == set(native)


def test_bfloat16_refused_on_a_cpu_without_it_unless_an_accelerator_is_there():
    with pytest.raises(PrecisionError) as error:
        check_precision("mixed_bfloat16", cpuinfo=X86_PLAIN, devices=[])
    message = str(error.value)
    assert "\n" not in message and "amx_bf16" in message and "avx512_bf16" in message and "bf16 (ARM)" in message
    check_precision("mixed_bfloat16", cpuinfo=X86_PLAIN, devices=["GPU"])  # GPUs and TPUs run it natively
    check_precision("mixed_bfloat16", cpuinfo=X86_PLAIN, devices=["TPU"])
    check_precision("mixed_bfloat16", cpuinfo=X86_AMX, devices=[])
    check_precision("mixed_bfloat16", cpuinfo=ARM_BF16, devices=[])
    for precision in ("float32", "mixed_float16"):  # never refused
        check_precision(precision, cpuinfo=X86_PLAIN, devices=[])
    with pytest.raises(PrecisionError):
        check_precision("bfloat16", cpuinfo=X86_AMX, devices=[])
    assert speed_factor("float32") == 1.0 and speed_factor("mixed_bfloat16") > 1.0


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
def test_cli_refuses_bfloat16_on_a_simulated_cpu_without_it_in_one_line(cli_refusals):
    # tests/conftest.py runs tfdisent-train with TFDISENT_CPUINFO naming a CPU like X86_PLAIN, no GPU.
    root, results = cli_refusals
    result = results["bfloat16_without_native"]
    assert result["code"] == 2, result
    lines = [line for line in result["stderr"].splitlines() if line.startswith("tfdisent-train")]
    assert len(lines) == 1 and "amx_bf16" in lines[0] and "Traceback" not in result["stderr"] + result["error"]
    assert not (root / "bfloat16_without_native").exists()  # nothing half-written


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
def test_cli_deprecated_mixed_precision_contradicting_precision_is_one_line(cli_refusals):
    result = cli_refusals[1]["mixed_precision_contradiction"]
    assert result["code"] == 2 and "contradicts --precision=mixed_bfloat16" in result["stderr"]
    assert "Traceback" not in result["stderr"] + result["error"]


# --- the setting -----------------------------------------------------------------------------------
def test_precision_setting_and_the_deprecated_boolean(tmp_path):
    assert TrainConfig().precision == "float32"
    assert TrainConfig(mixed_precision=True).precision == "mixed_float16"
    assert TrainConfig(mixed_precision=False).precision == "float32"
    with pytest.raises(RunConfigError, match="contradicts"):
        TrainConfig(mixed_precision=True, precision="mixed_bfloat16")
    with pytest.raises(RunConfigError, match="--precision must be one of"):
        TrainConfig(precision="bfloat16").validate()
    saved = TrainConfig(precision="mixed_bfloat16").to_dict()
    assert saved["precision"] == "mixed_bfloat16" and "mixed_precision" not in saved
    # A config.json written before the setting existed still loads (and resumes as the same run).
    for old, precision in ((True, "mixed_float16"), (False, "float32")):
        values = TrainConfig().to_dict()
        del values["precision"]
        values["mixed_precision"] = old
        path = tmp_path / f"config_{old}.json"
        path.write_text(json.dumps(values))
        loaded = TrainConfig.load(str(path))
        assert loaded.precision == precision
        TrainConfig(precision=precision).check_resumable_from(loaded, "run")
    with pytest.raises(RunConfigError, match="precision"):
        TrainConfig(precision="mixed_bfloat16").check_resumable_from(TrainConfig(), "run")


# --- float32 where it matters -----------------------------------------------------------------------
def _batch(model, dataset):
    return next(iter(model.training_dataset(dataset, 16, 0)))


@pytest.mark.parametrize("precision", MIXED)
@pytest.mark.parametrize("method", sorted(set(METHODS) - {"decomposition"}))
def test_every_loss_term_and_estimator_is_float32_under_mixed_policies(method, precision, dataset):
    config = resolve_config(TrainConfig(method=method, precision=precision, **TINY), dataset)
    model = build_model(config, dataset)
    assert keras.mixed_precision.global_policy().name == "float32"  # set only while building
    compute = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[precision]
    assert model.encoder.dense1.compute_dtype == compute  # the networks do run in the mixed policy
    floats = [v.dtype for v in model.variables + model.optimizer.variables if "float" in str(v.dtype)]
    assert floats and set(floats) == {"float32"}  # variables and optimizer state
    logs = model.optimization_step(_batch(model, dataset))  # every loss term, KL and estimator
    assert {k: v.dtype for k, v in logs.items() if v.dtype != tf.float32} == {}
    assert all(np.all(np.isfinite(v.numpy())) for v in logs.values())
    if hasattr(model, "discriminator"):  # FactorVAE's density-ratio logits
        assert model.discriminator.dense1.compute_dtype == compute
        assert model.discriminator(tf.zeros((3, 6))).dtype == tf.float32


@pytest.mark.parametrize("precision", MIXED)
def test_networks_hand_float32_to_every_consumer(precision, dataset):
    config = resolve_config(TrainConfig(method="beta_tcvae", precision=precision, **TINY), dataset)
    model = build_model(config, dataset)
    images = tf.zeros((2,) + tuple(dataset.observation_shape))
    mean, logvar = model.encoder(images)
    assert mean.dtype == logvar.dtype == model.decoder(mean).dtype == model(images).dtype == tf.float32


def test_bfloat16_losses_match_float32_for_the_same_weights(dataset):
    """Same weights, same batch: the bfloat16 forward pass is float32's up to bfloat16 rounding (8 bits)."""
    models = {p: build_model(resolve_config(TrainConfig(method="beta_tcvae", precision=p, **TINY), dataset), dataset)
              for p in ("float32", "mixed_bfloat16")}
    x = _batch(models["float32"], dataset)
    terms = {p: m.forward(x, training=False) for p, m in models.items()}  # same seed: same weights, same noise
    for name in ("reconstruction", "kl", "total_correlation", "loss"):
        a, b = float(terms["float32"][name]), float(terms["mixed_bfloat16"][name])
        assert b == pytest.approx(a, rel=0.03, abs=0.05), name
    assert not np.array_equal(terms["float32"]["mean"].numpy(), terms["mixed_bfloat16"]["mean"].numpy())


@pytest.mark.parametrize("precision", MIXED)
def test_export_signatures_stay_float32_and_record_the_precision(precision, tmp_path):
    trainer = Trainer(TrainConfig(precision=precision, steps=2, **dict(TINY, export=True)), str(tmp_path / "run"))
    results = trainer.train()
    loaded = tf.saved_model.load(results["export"])
    for name, signature in loaded.signatures.items():
        inputs = signature.structured_input_signature[1]
        outputs = signature.structured_outputs
        expected_input = tf.uint8 if name == "encode_uint8" else tf.float32
        assert {k: s.dtype for k, s in inputs.items()} == {k: expected_input for k in inputs}, name
        assert {k: s.dtype for k, s in outputs.items()} == {k: tf.float32 for k in outputs}, name
    with open(os.path.join(results["export"], "assets.extra", "tfdisent_export.json")) as f:
        assert json.load(f)["precision"] == precision
    with open(tmp_path / "run" / "config.json") as f:
        assert json.load(f)["precision"] == precision


# --- resumption ------------------------------------------------------------------------------------
def _state(trainer):
    model = trainer.model
    return [v.numpy() for v in model.encoder.variables + model.decoder.variables + model.optimizer.variables]


@pytest.mark.heavy
def test_bfloat16_run_resumes_bit_for_bit(tmp_path):
    config = dict(TINY, precision="mixed_bfloat16")
    straight = Trainer(TrainConfig(steps=20, **config), str(tmp_path / "straight"))
    straight.train()
    Trainer(TrainConfig(steps=10, **config), str(tmp_path / "resumed")).train()
    second = Trainer(TrainConfig(steps=20, **config), str(tmp_path / "resumed"))
    assert second.restore_or_initialize() == 10
    second.train()
    for a, b in zip(_state(straight), _state(second)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("precision", MIXED)
@pytest.mark.parametrize("hyperparameters", [{"prior": "mixture"}, {"prior": "sparse", "divergence": "mmd"}])
def test_decomposition_estimators_are_float32_under_mixed_policies(hyperparameters, precision):
    """Mathieu et al. (2019)'s priors and divergences (MMD, KL estimates) on their pinwheel data."""
    pinwheel = load_dataset("pinwheel")
    config = resolve_config(TrainConfig(method="decomposition", dataset="pinwheel", precision=precision,
                                        hyperparameters=hyperparameters, **dict(TINY, architecture="auto")), pinwheel)
    model = build_model(config, pinwheel)
    assert model.encoder.dense1.compute_dtype == {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[precision]
    logs = model.optimization_step(_batch(model, pinwheel))
    assert {k: v.dtype for k, v in logs.items() if v.dtype != tf.float32} == {}
    assert all(np.all(np.isfinite(v.numpy())) for v in logs.values())


# --- studies and PBT ---------------------------------------------------------------------------------
def _study(precision):
    from tfdisent.study.spec import study_from_dict, validate_study

    study = study_from_dict({"name": "p", "datasets": ["dsprites"], "seeds": [0, 1],
                             "train": {"steps": 1000, "precision": precision},
                             "configs": [{"method": "beta_vae"}], "evaluation": {"metrics": ["mig"]}})
    validate_study(study)
    return study


def test_study_accepts_the_precision_and_plan_accounts_for_it():
    from tfdisent.study.plan import format_plan, plan
    from tfdisent.study.spec import StudyError

    results = {p: plan(_study(p), _study(p).models()) for p in ("float32", "mixed_bfloat16")}
    assert results["float32"]["training_images"] == results["mixed_bfloat16"]["training_images"]
    assert results["mixed_bfloat16"]["cpu_trial_hours"] < results["float32"]["cpu_trial_hours"]
    assert "mixed_bfloat16 2" in format_plan(_study("mixed_bfloat16"), results["mixed_bfloat16"])
    with pytest.raises(StudyError, match="precision"):
        _study("bfloat16")


def test_study_and_pbt_refuse_bfloat16_on_a_simulated_cpu_without_it(tmp_path, monkeypatch):
    from tfdisent.pbt.explore import PBTConfigError
    from tfdisent.pbt.runner import PBTSettings
    from tfdisent.study.runner import run_study
    from tfdisent.study.spec import StudyError
    from tfdisent.training.precision import CPUINFO_ENV

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(X86_PLAIN)
    monkeypatch.setenv(CPUINFO_ENV, str(cpuinfo))
    study = _study("mixed_bfloat16")
    with pytest.raises(StudyError, match="amx_bf16"):
        run_study(study, study.models(), str(tmp_path / "study"))
    assert not (tmp_path / "study").exists()  # refused before anything is written
    settings = PBTSettings(precision="mixed_bfloat16", population=4, output_dir=str(tmp_path / "pbt"))
    with pytest.raises(PBTConfigError, match="amx_bf16"):
        settings.validate()
    assert PBTSettings(precision="mixed_bfloat16").member_settings()["precision"] == "mixed_bfloat16"
    with pytest.raises(PBTConfigError, match="--precision must be one of"):
        PBTSettings(precision="half", population=4).validate()


# --- the quality experiment's statistics (docs/precision/run.py) -------------------------------------
def _experiment():
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "docs", "precision", "run.py")
    spec = importlib.util.spec_from_file_location("precision_experiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_summary_known_answers():
    experiment = _experiment()
    summary = experiment.paired_summary([1, 2, 3, 4, 5], [2, 3, 4, 5, 6.5])
    diff = np.array([1, 1, 1, 1, 1.5])
    half = 2.7764451051977987 * diff.std(ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert summary["n"] == 5 and summary["diff_mean"] == pytest.approx(1.1)
    assert summary["float32_sd"] == pytest.approx(np.sqrt(2.5))  # sample SD, ddof=1
    assert (summary["t_low"], summary["t_high"]) == pytest.approx((1.1 - half, 1.1 + half))
    assert 1.0 <= summary["boot_low"] <= 1.1 <= summary["boot_high"] <= 1.5
    assert experiment.verdict(summary) == "bfloat16 higher"
    mixed = experiment.paired_summary([1, 2, 3, 4], [1.5, 1.5, 3.5, 3.5])
    assert mixed["diff_mean"] == 0 and experiment.verdict(mixed).startswith("not resolved")
    lower = experiment.paired_summary([1, 2, 3], [0, 1.1, 2])
    assert experiment.verdict(lower) == "bfloat16 lower"
    with pytest.raises(ValueError):
        experiment.paired_summary([1], [2])
