"""tfdisent-pbt bad input: one clear line on stderr, exit code 2, nothing written."""

import os
import subprocess
import sys

import pytest

from tfdisent.data import GroundTruthData
from tfdisent.pbt.explore import PBTConfigError
from tfdisent.pbt.runner import PBTSettings


def _run(tmp_path, *args):
    out = str(tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "tfdisent.bin.pbt", f"--output_dir={out}", *args],
                            capture_output=True, text=True, timeout=240)
    lines = [line for line in result.stderr.splitlines() if line.startswith("tfdisent-pbt:")]
    return result.returncode, lines, out


@pytest.mark.parametrize("args, message", [
    (["--fitness=mig", "--population=1"], "--population=1 is too small"),
    (["--fitness=mig", "--num_labels=1000000"], "exceeds the dataset's 737280 examples"),
    (["--fitness=mig", "--population=4", "--ray_address=127.0.0.1:9"],
     "--ray_address 127.0.0.1:9: cannot reach a Ray cluster there"),
])
def test_bad_input_one_line(tmp_path, args, message):
    code, lines, out = _run(tmp_path, *args)
    assert code == 2
    assert len(lines) == 1 and message in lines[0], lines
    assert not os.path.exists(out)


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
