"""One registry for methods, metrics and datasets, and plugins that reach every binary and Ray trial.

The example package (examples/plugin) is put on sys.path / PYTHONPATH, or found through a temporary
``*.dist-info/entry_points.txt`` (an installed package's entry point, without pip). Bad plugins are
small modules written into tmp_path.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.bin import common
from tfdisent.registry import Registry, RegistryError, import_plugins

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "plugin")
PLUGIN = "tfdisent_example_plugin"


@pytest.fixture
def example_on_path(monkeypatch):
    monkeypatch.syspath_prepend(EXAMPLE)
    import_plugins([PLUGIN])


def _write_module(directory, name, source):
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


def _env(*paths):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                PYTHONPATH=os.pathsep.join([ROOT, *map(str, paths), os.environ.get("PYTHONPATH", "")]))


def _run(module, *args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout,
                          env=env or _env(EXAMPLE), cwd=ROOT)


def _error_lines(stderr):
    return [line for line in stderr.strip().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------------
# The registry itself


def test_registry_lazy_targets_unknown_and_duplicate_names():
    checked = []
    registry = Registry("thing", validate=lambda name, obj: checked.append(name))
    registry.register("path_join", "os.path:join")           # lazy: nothing imported or checked yet
    assert checked == [] and registry.names() == ["path_join"]
    assert registry.get("path_join") is os.path.join and checked == ["path_join"]
    registry.get("path_join")
    assert checked == ["path_join"]                           # validated once, on first load
    registry.register("path_join", "os.path:join")           # the same target again: a no-op
    with pytest.raises(RegistryError, match=r"thing 'path_join' is already registered \(by os.path:join\)"):
        registry.register("path_join", "os.path:split")
    with pytest.raises(RegistryError, match=r"unknown thing 'nope'; known things: path_join"):
        registry.get("nope")
    registry.register("missing", "no_such_module_xyz:f")
    with pytest.raises(RegistryError, match="cannot import no_such_module_xyz:f"):
        registry.get("missing")
    view = registry.target_view()
    assert dict(view) == {"missing": "no_such_module_xyz:f", "path_join": "os.path:join"}
    with pytest.raises(TypeError):
        view["x"] = "y"                                       # read-only


def test_builtins_are_registered_through_the_same_calls():
    from tfdisent.data import registry as data_registry
    from tfdisent.methods import METHODS, METHODS_REGISTRY, get_method, method_names

    assert {"beta_vae", "annealed_vae", "ada_gvae", "s2_vae"} <= set(method_names())
    assert METHODS_REGISTRY.target("beta_vae") == "tfdisent.methods.beta_vae:BetaVAE"
    assert get_method("beta_vae") is METHODS["beta_vae"]
    assert metrics.METRICS.target("mig") == "tfdisent.metrics.mig"
    assert data_registry.DATASETS.target("dsprites") == "tfdisent.data.dsprites:DSprites"
    with pytest.raises(RegistryError, match="already registered"):
        metrics.register_metric("mig", "tfdisent.metrics.dci")
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        get_method("nope")


def test_method_strengths_are_declared_by_the_classes():
    from tfdisent.methods import METHODS, pbt_hyperparameter

    assert (METHODS["annealed_vae"].strength, METHODS["annealed_vae"].strength_increases) == ("c_max", False)
    assert (METHODS["beta_tcvae"].strength, METHODS["factor_vae"].strength) == ("beta", "gamma")
    # PBT searches what it searched before the declarations moved into the classes.
    assert {m: pbt_hyperparameter(m) for m in METHODS if pbt_hyperparameter(m)}.items() >= {
        "beta_vae": "beta", "beta_tcvae": "beta", "factor_vae": "gamma", "annealed_vae": "gamma",
        "dip_vae_i": "lambda_od", "dip_vae_ii": "lambda_od"}.items()
    assert pbt_hyperparameter("vae") is None and pbt_hyperparameter("s2_vae") is None


def test_study_report_reads_strengths_from_the_methods():
    from tfdisent.study.report import method_strengths

    assert method_strengths(["beta_vae", "annealed_vae", "vae", "not_a_method"]) == {
        "beta_vae": ("beta", True), "annealed_vae": ("c_max", False)}


def test_method_contract_checked():
    from tfdisent.methods import GaussianVAE, Hyperparameter, register_method

    class NoSuchStrength(GaussianVAE):
        method_name = "no_such_strength_vae"
        hyperparameters = (Hyperparameter("beta", 1.0, "weight"),)
        strength = "gamma"

    with pytest.raises(RegistryError, match="strength 'gamma' is not one of its hyperparameters"):
        register_method(NoSuchStrength)

    class FixedExplored(GaussianVAE):
        method_name = "fixed_explored_vae"
        hyperparameters = (Hyperparameter("beta", 1.0, "weight"),)
        pbt_explores = ("beta",)

    with pytest.raises(RegistryError, match="pbt_explores names 'beta', which is not a mutable hyperparameter"):
        register_method(FixedExplored)
    with pytest.raises(RegistryError, match="method_name is 'fixed_explored_vae', not its registered name"):
        register_method("other_name", FixedExplored)


class _Metric:
    DEFAULTS = {"num_train": 10, "mode": "a"}
    CHOICES = {"mode": ("a", "b")}
    NEEDS_FACTORS = True

    @staticmethod
    def compute(dataset, representation_fn, random_state, settings, cache):
        return {"score": 1.0}


def test_metric_protocol_checked_at_registration():
    metrics.check_metric("ok", _Metric)
    assert isinstance(_Metric(), metrics.MetricProtocol)
    missing = type("NoCompute", (), {"DEFAULTS": {}, "NEEDS_FACTORS": True})
    with pytest.raises(RegistryError, match=r"metric 'bad' \(.*NoCompute\) lacks compute"):
        metrics.register_metric("bad", missing)
    outside = type("Outside", (_Metric,), {"DEFAULTS": {"num_train": 10, "mode": "c"}})
    with pytest.raises(RegistryError, match=r"DEFAULTS\['mode'\] = 'c' is not in its own CHOICES \(a, b\)"):
        metrics.register_metric("bad", outside)
    assert "bad" not in metrics.metric_names()


# ------------------------------------------------------------------------------------------------
# The example plugin, in process


def test_example_plugin_registers_everything(example_on_path):
    from tfdisent.data import dataset_names, load_dataset
    from tfdisent.methods import METHODS, method_names, pbt_hyperparameter

    assert "cyclical_beta_vae" in method_names() and "moving_squares" in dataset_names()
    assert metrics.metric_names()[-1] == "linear_probe_r2"     # plugins listed after the built-ins
    assert pbt_hyperparameter("cyclical_beta_vae") == "beta" and METHODS["cyclical_beta_vae"].strength == "beta"
    dataset = load_dataset("moving_squares")
    factors = np.array([[0, 0, 0], [9, 9, 2], [4, 7, 1]])
    images = dataset.sample_observations_from_factors(factors, np.random.RandomState(0))
    assert images.shape == (3, 32, 32, 1)
    assert list(images.sum(axis=(1, 2, 3))) == [16.0, 64.0, 36.0]   # sides 4, 8, 6
    # Centres 4 .. 28 (the largest square fits): side 4 at the first position covers 2..5, side 8 at
    # the last 24..31; nothing else is lit.
    assert images[0, 2:6, 2:6].all() and images[1, 24:, 24:].all()


def test_linear_probe_known_answers(example_on_path):
    from tfdisent_example_plugin.linear_probe import linear_probe_r2

    rng = np.random.RandomState(0)
    factors = rng.randint(0, 5, size=(400, 2)).astype(float)
    codes = np.stack([2 * factors[:, 0] - 1, rng.randn(400)], axis=1)   # factor 0 linear, factor 1 absent
    r2 = linear_probe_r2(codes[:300], factors[:300], codes[300:], factors[300:])
    assert r2[0] == pytest.approx(1.0) and abs(r2[1]) < 0.05
    assert linear_probe_r2(codes[:300], np.ones((300, 2)), codes[300:], np.ones((100, 2)))[0] == 0.0  # constant


def test_cyclical_schedule_matches_fu_et_al(example_on_path):
    from tfdisent_example_plugin.cyclical import cyclical_weight

    # T = 8 steps, M = 2 cycles, R = 0.5: period 4; tau = 0, .25, .5, .75; beta_t = tau / R capped at 1.
    weights = [float(cyclical_weight(t, 8, 2, 0.5)) for t in range(10)]
    assert weights == pytest.approx([0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 0.0, 0.5])


def test_plugin_metric_computes_through_the_api(example_on_path):
    from tfdisent.data import load_dataset

    dataset = load_dataset("moving_squares")

    def centre_of_mass(observations):
        images = observations[..., 0]
        mass = images.sum(axis=(1, 2))
        return np.stack([(images.sum(1) * np.arange(32)).sum(1) / mass,
                         (images.sum(2) * np.arange(32)).sum(1) / mass, mass], axis=1)

    scores = metrics.compute("linear_probe_r2", dataset, centre_of_mass, 0, num_train=300, num_test=200)
    assert scores["r2_per_factor"][0] > 0.99 and scores["r2_per_factor"][1] > 0.99
    with pytest.raises(metrics.MetricError, match="linear_probe_r2.target"):
        metrics.compute("linear_probe_r2", dataset, centre_of_mass, 0, target="ranks")


def test_study_file_with_plugins(example_on_path, tmp_path):
    from tfdisent.study import spec

    raw = _study_dict(["tfdisent_example_plugin"])
    path = tmp_path / "plugin_study.json"
    path.write_text(json.dumps(raw))
    study = spec.load_study(str(path))
    assert study.plugins == ["tfdisent_example_plugin"] and study.num_models == 2
    without = spec.study_from_dict({k: v for k, v in raw.items() if k != "plugins"})
    assert study.fingerprint() == without.fingerprint()      # where code comes from is not a setting
    raw["plugins"] = ["no_such_plugin_module"]
    path.write_text(json.dumps(raw))
    with pytest.raises(spec.StudyError, match="plugin no_such_plugin_module failed to import: ModuleNotFoundError"):
        spec.load_study(str(path))


def _study_dict(plugins):
    return {"name": "plugin_study", "datasets": ["moving_squares"], "seeds": [0], "plugins": plugins,
            "train": {"steps": 4, "batch_size": 8, "log_every": 2, "checkpoint_every": 2, "latent_dim": 4,
                      "eval_batches": 2, "image_every": 0},
            "configs": [{"method": "cyclical_beta_vae", "fixed": {"annealing_steps": 4, "cycles": 2}},
                        {"method": "beta_vae", "grid": {"beta": [4]}}],
            "evaluation": {"metrics": ["linear_probe_r2"], "representations": ["mean"], "seed": 0,
                           "settings": {"linear_probe_r2": {"num_train": 100, "num_test": 50}}}}


# ------------------------------------------------------------------------------------------------
# Bad plugins: one line, exit 2, nothing written


def test_plugins_read_from_argv_and_flagfiles(tmp_path):
    flagfile = tmp_path / "run.flags"
    flagfile.write_text("# a comment\n--plugins=a.b,c\n--steps=3\n")
    assert common.plugins_in_argv(["--method=vae"]) == []
    assert common.plugins_in_argv(["--plugins", "x.y"]) == ["x.y"]
    assert common.plugins_in_argv([f"--flagfile={flagfile}"]) == ["a.b", "c"]
    assert common.plugins_in_argv([f"--flagfile={flagfile}", "--plugins=d"]) == ["d"]   # the last one wins


def _load_bad(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        common.load_plugins("tfdisent-train", ["tfdisent-train", *argv])
    lines = _error_lines(capsys.readouterr().err)
    assert exit_info.value.code == 2 and len(lines) == 1, lines
    return lines[0]


def test_missing_plugin_module(capsys):
    line = _load_bad(capsys, "--plugins=no_such_plugin_module")
    assert line == ("tfdisent-train: error: plugin no_such_plugin_module failed to import: "
                    "ModuleNotFoundError: No module named 'no_such_plugin_module'")


def test_duplicate_name_is_refused_and_rolled_back(capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "dup_plugin_mod", """
        from tfdisent.data import register_dataset
        register_dataset("dup_plugin_fresh", "tfdisent.data.synthetic:DummyData")
        register_dataset("dsprites", "tfdisent.data.synthetic:DummyData")
    """)
    line = _load_bad(capsys, "--plugins=dup_plugin_mod")
    assert line == ("tfdisent-train: error: plugin dup_plugin_mod: dataset 'dsprites' is already registered (by "
                    "tfdisent.data.dsprites:DSprites); tfdisent.data.synthetic:DummyData cannot take the name")
    from tfdisent.data import dataset_names
    assert "dup_plugin_fresh" not in dataset_names()         # nothing half-registered


def test_metric_missing_a_protocol_member(capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "incomplete_metric_plugin", """
        from tfdisent.metrics import register_metric
        DEFAULTS = {"num_train": 100}
        NEEDS_FACTORS = True
        register_metric("incomplete_metric", "incomplete_metric_plugin")
    """)
    line = _load_bad(capsys, "--plugins=incomplete_metric_plugin")
    assert line == ("tfdisent-train: error: plugin incomplete_metric_plugin: metric 'incomplete_metric' "
                    "(incomplete_metric_plugin) lacks compute")
    assert "incomplete_metric" not in metrics.metric_names()


def test_method_without_strength_refused_by_pbt(tmp_path, monkeypatch):
    from tfdisent.pbt.explore import PBTConfigError
    from tfdisent.pbt.runner import PBTSettings

    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "weak_strength_plugin", """
        from tfdisent.methods import GaussianVAE, register_method

        @register_method
        class PlainPluginVAE(GaussianVAE):
            method_name = "plain_plugin_vae"

            def regularizer(self, kl, mean, logvar, z):
                return {"regularizer": self.kl_term(kl)}
    """)
    settings = PBTSettings(method="plain_plugin_vae", population=4, plugins=["weak_strength_plugin"],
                           output_dir=str(tmp_path / "pbt"))
    with pytest.raises(PBTConfigError, match="--method=plain_plugin_vae has no regularisation strength for PBT"):
        settings.validate()
    assert not (tmp_path / "pbt").exists()


@pytest.mark.heavy
def test_bad_plugins_through_the_binaries(tmp_path):
    """One process per binary kind: the error comes before flags are parsed, nothing is written."""
    _write_module(tmp_path, "no_strength_plugin", """
        from tfdisent.methods import GaussianVAE, register_method

        @register_method
        class NoStrengthVAE(GaussianVAE):
            method_name = "no_strength_vae"

            def regularizer(self, kl, mean, logvar, z):
                return {"regularizer": self.kl_term(kl)}
    """)
    out = tmp_path / "out"
    result = _run("tfdisent.bin.train", "--plugins=no_such_plugin_module", f"--output_dir={out}")
    assert result.returncode == 2 and _error_lines(result.stderr) == [
        "tfdisent-train: error: plugin no_such_plugin_module failed to import: ModuleNotFoundError: "
        "No module named 'no_such_plugin_module'"]
    result = _run("tfdisent.bin.pbt", "--plugins=no_strength_plugin", "--method=no_strength_vae", "--fitness=mig",
                  "--population=2", f"--output_dir={out}", env=_env(tmp_path))
    assert result.returncode == 2, result.stderr
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(
        "tfdisent-pbt: error: --method=no_strength_vae has no regularisation strength for PBT to search")
    assert not out.exists()


# ------------------------------------------------------------------------------------------------
# The example through the binaries


def _entry_point_dir(tmp_path):
    """A fake installed distribution declaring the example as a tfdisent.plugins entry point."""
    info = tmp_path / "site" / "tfdisent_example_plugin-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tfdisent-example-plugin\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[tfdisent.plugins]\nexample = tfdisent_example_plugin\n")
    return info.parent


def test_entry_point_plugins_listed_without_a_flag(tmp_path):
    result = _run("tfdisent.bin.train", "--helpfull", env=_env(EXAMPLE, _entry_point_dir(tmp_path)))
    assert not result.stderr.strip(), result.stderr[-2000:]     # (absl's --helpfull exits with 1)
    assert "cyclical_beta_vae" in result.stdout and "moving_squares" in result.stdout
    assert "--annealing_steps" in result.stdout                 # the plugin method's hyperparameters are flags
    assert "linear_probe_r2" in result.stdout                   # --eval_metrics lists the metrics


@pytest.mark.slow
def test_example_trains_evaluates_and_visualizes(tmp_path):
    run = tmp_path / "run"
    result = _run("tfdisent.bin.train", f"--plugins={PLUGIN}", "--method=cyclical_beta_vae",
                  "--dataset=moving_squares", "--steps=6", "--batch_size=8", "--latent_dim=4", "--log_every=3",
                  "--image_every=0", "--eval_batches=2", "--annealing_steps=4", "--cycles=2", f"--output_dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((run / "config.json").read_text())
    assert config["method"] == "cyclical_beta_vae" and config["hyperparameters"]["annealing_steps"] == 4
    out = tmp_path / "eval.json"
    result = _run("tfdisent.bin.evaluate", f"--plugins={PLUGIN}", f"--model_dir={run}",
                  "--metrics=linear_probe_r2,mig", "--metric_override=*.num_train=200",
                  "--metric_override=linear_probe_r2.num_test=100", f"--output_file={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["dataset"] == "moving_squares"
    assert len(report["metrics"]["linear_probe_r2"]["r2_per_factor"]) == 3
    result = _run("tfdisent.bin.visualize", f"--plugins={PLUGIN}", f"--model_dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert any(name.endswith(".png") for name in os.listdir(run / "visualizations"))


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_study_with_plugin_method_and_metric_on_ray(ray_session, example_on_path, tmp_path):
    """The session's Ray was started before the example was on the path: its workers find the plugin
    through the folders the driver found it in (tfdisent.registry.plugin_paths)."""
    from tfdisent.study import runner, spec, trial

    path = tmp_path / "plugin_study.json"
    path.write_text(json.dumps(_study_dict([PLUGIN])))
    study = spec.load_study(str(path))
    out = str(tmp_path / "out")
    summary = runner.run_study(study, spec.select_models(study), out)
    assert summary == {"done": [0, 1], "failed": {}, "missing": []}
    for model_num, method in ((0, "cyclical_beta_vae"), (1, "beta_vae")):
        record = trial.read_record(out, model_num)
        assert record["status"] == "done" and record["train_node"] and record["evaluation_node"] and record["spec"]["method"] == method
        scores = json.load(open(os.path.join(trial.model_dir(out, model_num), "results", "evaluation_mean.json")))
        assert len(scores["metrics"]["linear_probe_r2"]["r2_per_factor"]) == 3


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_pbt_explores_the_plugin_methods_strength(ray_session, example_on_path, tmp_path):
    from tfdisent.pbt.runner import PBTSettings, run_pbt

    settings = PBTSettings(fitness="mig", output_dir=str(tmp_path / "pbt"), population=2, generations=2,
                           generation_samples=16, num_labels=100, method="cyclical_beta_vae",
                           dataset="moving_squares", latent_dim=4, log_every=2, plugins=[PLUGIN])
    summary = run_pbt(settings)
    assert summary["generations"] == 2 and summary["members"] == 2
    from tfdisent.pbt import explore, records

    rows = records.read_population(str(tmp_path / "pbt" / "population.csv"))
    initial = settings.initial_population()
    # P = 2: the worse member copies the better after generation 1 and explores the plugin's strength.
    copies = [r for r in rows if r["copied_from"] is not None]
    assert len(copies) == 1 and copies[0]["generation"] == 2
    donor_beta = initial[copies[0]["copied_from"]]["beta"]
    assert copies[0]["beta"] in {explore.perturb("beta", donor_beta, f) for f in explore.PERTURBATION_FACTORS}
    # ... and "beta" is the method's own hyperparameter (its declared pbt_explores), set on the model.
    best = summary["best"]
    row = next(r for r in rows if (r["member"], r["generation"]) == (best["member"], best["generation"]))
    config = json.load(open(tmp_path / "pbt" / "best" / "config.json"))
    assert config["method"] == "cyclical_beta_vae" and config["hyperparameters"]["beta"] == row["beta"]


# tfdisent-evaluate --plugins=... --metrics=help: tests/test_evaluate_cli.py (in its one process).
