"""The PBT schedule of Estermann, Marks & Yanik (2020), "Robust Disentanglement of a Few Factors at
a Time" (Sec. 2.2 and 3; reference implementation pbt4vae ``explorer.py``/``utils.py``).

* Initial draws (uniform over each list): learning rate from 30 log-spaced points in [1e-5, 1],
  batch size from {8, ..., 1024}, beta from int(1.5^t) on 24 log-spaced points (duplicate 1 dropped).
* Exploit = truncation selection: sort by score; the bottom ``q = ceil(0.2 P)`` members (at most
  ``floor(P / 2)``, as Ray Tune computes it) each copy a uniformly drawn member of the top ``q``.
* Explore = multiply every searched hyperparameter by a factor drawn from {2, 1.2, 0.8, 0.5}:
  ``lr <- lr f``; ``batch <- min(ceil(f batch), 1024)``; ``beta <- ceil(f beta)``.

Pure functions over dicts and a ``random.Random``/``numpy`` generator; Ray is not imported here.
"""

from __future__ import annotations

import math
import random
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

SEARCHED = ("learning_rate", "batch_size", "beta")
PERTURBATION_FACTORS = (2.0, 1.2, 0.8, 0.5)
QUANTILE_FRACTION = 0.2
MAX_BATCH_SIZE = 1024
# Deviation: the reference lets the batch shrink to 1 (ceil(0.5 * 1) = 1); beta-TCVAE's
# minibatch estimators of log q(z) need at least two samples, so we stop at 2.
MIN_BATCH_SIZE = 2
LEARNING_RATES = tuple(float(x) for x in np.logspace(-5, 0, 30))
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
BETAS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 17, 22, 28, 37, 47, 60, 77, 99, 127, 163, 208, 267, 342, 437)


class PBTConfigError(ValueError):
    """A population-based training setting is impossible; the message says which (one line)."""


def initial_hyperparameters(rng: random.Random, learning_rates: Sequence[float] = LEARNING_RATES,
                            batch_sizes: Sequence[int] = BATCH_SIZES,
                            betas: Sequence[float] = BETAS) -> Dict[str, float]:
    """One member's initial draw (each searched hyperparameter uniformly from its list)."""
    return {"learning_rate": float(rng.choice(list(learning_rates))),
            "batch_size": int(rng.choice(list(batch_sizes))),
            "beta": float(rng.choice(list(betas)))}


def perturb(name: str, value: float, factor: float) -> float:
    """One hyperparameter times ``factor`` with the paper's rounding: beta and batch size rounded
    up (so beta never drops below 1), batch size capped at 1024 (and floored at 2, see above)."""
    if name == "learning_rate":
        return float(value) * factor
    if name == "batch_size":
        return int(min(max(math.ceil(factor * value - 1e-9), MIN_BATCH_SIZE), MAX_BATCH_SIZE))
    if name == "beta":
        return float(math.ceil(factor * value - 1e-9))
    raise PBTConfigError(f"unknown searched hyperparameter {name!r}; searched: {', '.join(SEARCHED)}")


def explore(hyperparameters: Mapping[str, float], rng: random.Random,
            factors: Sequence[float] = PERTURBATION_FACTORS,
            searched: Sequence[str] = SEARCHED) -> Dict[str, float]:
    """The explore step: every searched hyperparameter independently times a random factor.

    Other keys of ``hyperparameters`` are copied unchanged. (The ``- 1e-9`` in ``perturb`` keeps
    float noise such as 1.2 * 5 = 6.000000000000001 from rounding up to 7.)
    """
    explored = dict(hyperparameters)
    for name in searched:
        explored[name] = perturb(name, hyperparameters[name], float(rng.choice(list(factors))))
    return explored


def quantile_size(population: int, fraction: float = QUANTILE_FRACTION) -> int:
    """Members replaced per generation: ``ceil(fraction P)`` capped at ``floor(P / 2)`` (Ray Tune's
    rule, equal to the paper's ``ceil(0.2 P)`` for P >= 2)."""
    size = int(math.ceil(population * fraction))
    return min(size, population // 2)


def check_population(population: int, fraction: float = QUANTILE_FRACTION) -> None:
    """Raises PBTConfigError unless truncation selection can replace at least one member."""
    if not 0 < fraction <= 0.5:
        raise PBTConfigError(f"the quantile fraction must be in (0, 0.5], got {fraction}")
    if population < 2 or quantile_size(population, fraction) < 1:
        raise PBTConfigError(f"--population={population} is too small: truncation selection with quantile "
                             f"{fraction} needs at least 2 members (one to copy, one to be replaced)")


def truncation_selection(scores: Mapping[int, float], rng: random.Random,
                         fraction: float = QUANTILE_FRACTION) -> Dict[int, int]:
    """``{bottom member: top member it copies}`` for one generation.

    ``scores`` maps member ids to fitness (higher is better; NaN counts as the worst). Ties are
    broken by member id so the result is deterministic given ``rng``.
    """
    def key(item: Tuple[int, float]):
        score = item[1]
        return (-math.inf if score is None or math.isnan(score) else score, -item[0])

    ranked = [member for member, _ in sorted(scores.items(), key=key)]
    size = quantile_size(len(ranked), fraction)
    if size < 1:
        return {}
    bottom, top = ranked[:size], ranked[len(ranked) - size:]
    return {member: int(rng.choice(top)) for member in bottom}


def survivors_after_halving(scores: Mapping[int, float], keep: int) -> List[int]:
    """The ``keep`` best members (the paper's doubled initial population halved after generation 1)."""
    ordered = sorted(scores.items(), key=lambda item: (-(item[1] if item[1] == item[1] else -math.inf), item[0]))
    return sorted(member for member, _ in ordered[:keep])


def member_seed(base_seed: int, member: int, model: int = 0, stream: Optional[int] = None) -> int:
    """A distinct, reproducible seed per (run seed, member, lock-step model)."""
    parts = [int(base_seed), int(member), int(model)] + ([] if stream is None else [int(stream)])
    return int(np.random.SeedSequence(parts).generate_state(1)[0] % (2 ** 31 - 1))
