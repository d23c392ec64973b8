"""tfdisent-pbt bad input: one clear line on stderr, exit code 2, nothing written."""

import os

import pytest
from command_check import run_in_one_process

from tfdisent.data import GroundTruthData
from tfdisent.pbt.explore import PBTConfigError
from tfdisent.pbt.runner import PBTSettings

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = pytest.mark.xdist_group("pbt_cli")

BAD_INPUT = {"population_1": (["--fitness=mig", "--population=1"], "--population=1 is too small"),
             "num_labels": (["--fitness=mig", "--num_labels=1000000"], "exceeds the dataset's 737280 examples"),
             "unreachable_ray": (["--fitness=mig", "--population=4", "--ray_address=127.0.0.1:9"],
                                 "--ray_address 127.0.0.1:9: cannot reach a Ray cluster there")}


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """Every BAD_INPUT case through tfdisent-pbt in ONE process (tests/command_check.py); the real console
    script's exit status on a refused run is checked in test_plugins.py (test_bad_plugins_through_the_binaries)."""
    root = tmp_path_factory.mktemp("pbt_cli")
    commands = [["tfdisent-pbt", f"--output_dir={root / case}", *args] for case, (args, _) in BAD_INPUT.items()]
    results, _ = run_in_one_process("run", commands, root)
    return root, dict(zip(BAD_INPUT, results))


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_one_line(refused, case):
    root, results = refused
    result = results[case]
    assert result["code"] == 2 and result["error"] == "exit 2", result
    lines = [line for line in result["stderr"].splitlines() if line.startswith("tfdisent-pbt:")]
    assert len(lines) == 1 and BAD_INPUT[case][1] in lines[0], lines
    assert not os.path.exists(root / case)


class _Unlabelled(GroundTruthData):
    name = "unlabelled"
    factor_sizes = ()
    observation_shape = (4,)

    def sample_observations_from_factors(self, factors, random_state):
        raise NotImplementedError


def test_label_fitness_on_unlabelled_dataset():
    settings = PBTSettings(fitness="mig", population=4, generations=2, dataset="unlabelled")
    with pytest.raises(PBTConfigError, match="needs ground-truth labels"):
        settings.validate(_Unlabelled())
    PBTSettings(fitness="udr", population=4, generations=2).validate(_Unlabelled())   # UDR needs none


def test_impossible_budgets():
    with pytest.raises(PBTConfigError, match="--generation_samples must be"):
        PBTSettings(population=4, generation_samples=0).validate()
    with pytest.raises(PBTConfigError, match="use --recursive"):
        PBTSettings(fitness="leaf_mig", population=4).validate()
    with pytest.raises(PBTConfigError, match="needs --convergence"):
        PBTSettings(population=4, generations=None).validate()
    with pytest.raises(PBTConfigError, match="needs >= 2 lock-step models"):
        PBTSettings(fitness="udr", population=4, models_per_member=1).validate()
    with pytest.raises(PBTConfigError, match="no regularisation strength"):
        PBTSettings(method="vae", population=4).validate()
    with pytest.raises(PBTConfigError, match="halves after generation 1"):
        PBTSettings(population=4, generations=1, double_initial_population=True).validate()
    with pytest.raises(PBTConfigError, match="--generations must be"):
        PBTSettings(population=4, generations=-3).validate()
