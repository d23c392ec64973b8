"""Shared pytest configuration: slow tests are opt-in (``--runslow``); TF logs are quiet."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


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
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
