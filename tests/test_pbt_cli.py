"""tfdisent-pbt bad input: one clear line on stderr, exit code 2, nothing written."""

import os

import pytest

from tfdisent.data import GroundTruthData
from tfdisent.pbt.explore import PBTConfigError
from tfdisent.pbt.runner import PBTSettings

# The expected one-line errors of conftest.PBT_COMMANDS, which run in the session's refusal process.
BAD_INPUT = {"population_1": "--population=1 is too small",
             "num_labels": "exceeds the dataset's 737280 examples",
             "unreachable_ray": "--ray_address 127.0.0.1:9: cannot reach a Ray cluster there"}


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_one_line(cli_refusals, case):
    root, results = cli_refusals
    result = results[f"pbt:{case}"]
    assert result["code"] == 2 and result["error"] == "exit 2", result
    lines = [line for line in result["stderr"].splitlines() if line.startswith("tfdisent-pbt:")]
    assert len(lines) == 1 and BAD_INPUT[case] in lines[0], lines
    assert not os.path.exists(root / f"pbt_{case}")


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
