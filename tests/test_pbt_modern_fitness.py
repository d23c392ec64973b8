"""The modern labelled metrics as PBT fitnesses (issue 20): known answers, the member's fitness path and
the label check of the settings."""

import numpy as np
import pytest

from tfdisent.pbt import fitness, member
from tfdisent.pbt.explore import PBTConfigError
from tfdisent.pbt.runner import PBTSettings

FACTORS = np.stack(np.meshgrid(np.arange(4), np.arange(5), np.arange(6), indexing="ij"), -1).reshape(-1, 3)


@pytest.mark.parametrize("name", ["mig_sup", "dcimig", "jemmig", "mcc"])
def test_known_answers(name):
    perfect = FACTORS[:, [2, 0, 1]].astype(float)
    noise = np.random.RandomState(0).randn(len(FACTORS), 3)
    assert fitness.labelled_fitness(name, perfect, FACTORS) == pytest.approx(1.0, abs=0.02)
    assert fitness.labelled_fitness(name, noise, FACTORS) < 0.3
    assert fitness.NEEDS_LABELS[name] and name in fitness.FITNESSES


def test_unknown_and_failing_fitness():
    with pytest.raises(ValueError, match="not a labelled fitness"):
        fitness.labelled_fitness("udr", FACTORS.astype(float), FACTORS)
    guarded = fitness.guarded(fitness.labelled_fitness, "mcc", np.zeros((3, 2)), FACTORS)
    assert guarded.score == 0.0 and "rows" in guarded.error


def test_member_fitness_uses_the_labelled_subset():
    settings = {"fitness": "mcc", "dataset": "dsprites", "num_labels": 300, "fitness_seed": 0}

    def encoder(observations):
        pooled = np.asarray(observations, np.float64).reshape(len(observations), 8, 8, 8, 8).mean(axis=(2, 4))
        mean = pooled.reshape(len(observations), -1)[:, :6]
        return mean, np.zeros_like(mean)

    result = member.compute_fitness(settings, [encoder, encoder])
    assert result.error == "" and 0.0 < result.score <= 1.0 and result.details == {"best_model": 0}


def test_label_fitnesses_refuse_an_unlabelled_dataset():
    class Unlabelled:
        factor_sizes = ()

    with pytest.raises(PBTConfigError, match="--fitness=jemmig needs ground-truth labels"):
        PBTSettings(fitness="jemmig", population=4, generations=2, dataset="unlabelled").validate(Unlabelled())
