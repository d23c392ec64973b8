"""Shared pytest configuration: slow tests are opt-in (``--runslow``); TF logs are quiet; numba's compiled
kernels are cached across sessions and xdist workers."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# numba compiles its kernels (DCI's exact gradient boosting) on first use, several seconds, in
# every process: without a shared on-disk cache every xdist worker and every binary the tests spawn compiles
# them again. Set before numba is imported (numba reads it at import); subprocesses inherit it.
_NUMBA_CACHE = os.path.join(ROOT, ".pytest_cache", "numba")
os.makedirs(_NUMBA_CACHE, exist_ok=True)
os.environ.setdefault("NUMBA_CACHE_DIR", _NUMBA_CACHE)

import threading  # noqa: E402

import pytest  # noqa: E402


def _compile_numba_kernels():
    """Fits tiny exact gradient-boosting models (binary and multi-class, float32 and float64 codes), which
    compiles DCI's numba kernels into the shared on-disk cache once, in the background, instead of in every
    worker and every binary's process that reaches a DCI-like metric first (~15 s each on a cold cache, e.g. a
    fresh clone in CI)."""
    import numpy as np

    from tfdisent.metrics.classifiers import make_gradient_boosting

    rng = np.random.RandomState(0)
    for dtype in (np.float64, np.float32):
        codes = rng.rand(40, 3).astype(dtype)
        for labels in ((codes[:, 0] > 0.5).astype(np.int64), (codes[:, 1] * 3).astype(np.int64)):
            model = make_gradient_boosting("exact").fit(codes, labels)
            model.predict(codes)
            getattr(model, "feature_importances_", None)


def pytest_configure(config):
    # The controlling process only, before the workers need the kernels, and only when the cache is cold
    # (numba writes one .nbi index per compiled function): a warm cache loads in every process anyway.
    cold = not any(name.endswith(".nbi") for _, _, files in os.walk(os.environ["NUMBA_CACHE_DIR"]) for name in files)
    if cold and not hasattr(config, "workerinput"):
        threading.Thread(target=_compile_numba_kernels, name="numba-warm-up", daemon=True).start()


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Rendered dataset caches go to a per-session folder, never to the user's home."""
    if "TFDISENT_CACHE_DIR" not in os.environ:
        os.environ["TFDISENT_CACHE_DIR"] = str(tmp_path_factory.mktemp("tfdisent_cache"))
    yield


@pytest.fixture(scope="session")
def ray_session():
    """One small local Ray instance per test session (per xdist worker); tests that use it carry
    ``@pytest.mark.xdist_group("ray")`` so that, with ``--dist loadgroup``, one worker runs them all."""
    ray = pytest.importorskip("ray")
    from tfdisent.training.resources import init_ray

    init_ray(num_cpus=2, object_store_memory=200 * 1024 * 1024)   # the drivers' own start-up path
    yield ray
    ray.shutdown()


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked @pytest.mark.slow")


def pytest_collection_modifyitems(config, items):
    # Longest first (@pytest.mark.heavy, measured with --durations): xdist hands tests out in this order, and a
    # 30-second test handed out last leaves the other worker idle at the end. The sort is stable, so every
    # worker collects the same order.
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# tfdisent-train commands that must be refused with a one-line error (and the short run one of them needs),
# from several test modules: ``{case: argv after the program}``; "{root}" is the session's folder for them.
TRAIN_COMMANDS = {
    # tests/test_training.py
    "method_nope": ["--method=nope"],
    "dataset_nope": ["--dataset=nope"],
    "beta_negative": ["--beta=-1"],
    "beta_text": ["--beta=abc"],
    "gamma_for_beta_tcvae": ["--method=beta_tcvae", "--gamma=3"],
    "steps_zero": ["--steps=0"],
    "ok": ["--method=beta_vae", "--steps=2", "--log_every=1", "--image_every=0", "--export=false",
           "--eval_batches=1", "--architecture=mlp", "--output_dir={root}/run"],
    "other_method": ["--method=factor_vae", "--steps=4", "--architecture=mlp", "--output_dir={root}/run"],  # after "ok"
    "bad_data": ["--steps=2", "--data_dir={root}/data"],
    "corrupt": [],                                                       # {root}/corrupt/config.json: "{not json"
    "no_init": ["--method=vae", "--init_from=nowhere"],
    "as_file": ["--method=vae"],                                         # {root}/as_file is a file
    # tests/test_precision.py (the session's simulated CPU has no native bfloat16)
    "bfloat16_without_native": ["--precision=mixed_bfloat16", "--steps=2"],
    "mixed_precision_contradiction": ["--mixed_precision", "--precision=mixed_bfloat16"],
    # tests/test_metric_progress.py, tests/test_weak.py
    "eval_metrics_nope": ["--eval_metrics=nope"],
    "ada_gvae_k5": ["--steps=1", "--noexport", "--method=ada_gvae", "--k=5", "--dataset=dsprites"],
}
# tfdisent-pbt commands that must be refused (tests/test_pbt_cli.py, which holds the expected messages).
PBT_COMMANDS = {
    "population_1": ["--fitness=mig", "--population=1"],
    "num_labels": ["--fitness=mig", "--num_labels=1000000"],
    "unreachable_ray": ["--fitness=mig", "--population=4", "--ray_address=127.0.0.1:9"],
}
# tfdisent-study commands (tests/test_study_cli.py holds the expected outcomes); {root}/bad_study.json is
# cpu_small with a misspelled method, {root}/another holds another study's study.json.
STUDY_COMMANDS = {
    "unknown_method": ["run", "--study={root}/bad_study.json", "--output_dir={root}/study_out"],
    "another_study": ["run", "--study=cpu_small", "--output_dir={root}/another", "--seeds=0"],
    "unreachable_ray": ["run", "--study=cpu_small", "--output_dir={root}/unreachable", "--ray_address=127.0.0.1:9"],
    "unreachable_ray_trial_placement": ["run", "--study=cpu_small", "--output_dir={root}/unreachable2",
                                        "--ray_address=127.0.0.1:9", "--evaluation_placement=trial",
                                        "--eval_cpus=0.5"],
    "no_model": ["plan", "--study=cpu_small", "--only=method=gan"],
    "plan": ["plan", "--study=unsupervised_study_v1", "--only=dataset=dsprites,method=beta_tcvae", "--seeds=0-4"],
}
SIMULATED_CPUINFO = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"


@pytest.fixture(scope="session")
def cli_refusals(tmp_path_factory):
    """:data:`TRAIN_COMMANDS`, :data:`PBT_COMMANDS` and :data:`STUDY_COMMANDS` run in ONE process
    (tests/command_check.py ``run``: one TensorFlow import instead of one per command, in order);
    ``(root, {case: {"code", "error", "stderr", "stdout"}})`` (keys ``"pbt:<case>"`` and ``"study:<case>"`` for
    the other binaries), each train case's ``--output_dir`` ``root/<case>`` unless it names one. What needs
    the real console script (its exit code, the whole console output, signals, "fails before TensorFlow is
    imported") keeps a subprocess test of its own (test_training.py's failed start and kill -9 tests, test_visualize.py, test_evaluate_cli.py).
    Tests using it carry ``@pytest.mark.xdist_group("cli_refusals")`` so that one xdist worker runs it."""
    from command_check import run_in_one_process

    root = tmp_path_factory.mktemp("cli_refusals")
    (root / "data").mkdir()
    (root / "data" / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz").write_bytes(b"not a zip file")
    (root / "corrupt").mkdir()
    (root / "corrupt" / "config.json").write_text("{not json")
    (root / "as_file").write_text("x")
    (root / "cpuinfo").write_text(SIMULATED_CPUINFO)
    study = json.load(open(os.path.join(ROOT, "flags", "studies", "cpu_small.json")))
    study["configs"].append({"method": "beta_vea", "grid": {"beta": [1]}})
    (root / "bad_study.json").write_text(json.dumps(study))
    (root / "another").mkdir()
    (root / "another" / "study.json").write_text(json.dumps({"name": "unsupervised_study_v1", "fingerprint": "0123"}))

    def placed(args):
        return [arg.replace("{root}", str(root)) for arg in args]

    commands = []
    for case, args in TRAIN_COMMANDS.items():
        argv = placed(args)
        if not any(arg.startswith("--output_dir=") for arg in argv):
            argv.append(f"--output_dir={root / case}")
        commands.append(["tfdisent-train", *argv])
    commands += [["tfdisent-pbt", f"--output_dir={root / ('pbt_' + case)}", *args]
                 for case, args in PBT_COMMANDS.items()]
    commands += [["tfdisent-study", *placed(args)] for args in STUDY_COMMANDS.values()]
    results, _ = run_in_one_process("run", commands, root,
                                    env={"TFDISENT_CPUINFO": str(root / "cpuinfo"), "CUDA_VISIBLE_DEVICES": ""})
    return root, dict(zip([*TRAIN_COMMANDS, *(f"pbt:{case}" for case in PBT_COMMANDS),
                           *(f"study:{case}" for case in STUDY_COMMANDS)], results))
