"""Stop rules of the PBT runs (Estermann et al. 2020; reference pbt4vae ``explorer.py``).

* Generation budget: stop after ``generations`` generations (the supervised reference runs 26).
* Convergence (rPU-VAE's iterations): the best score of a generation changed by less than
  ``tolerance = 0.005`` between each of the last ``window = 6`` consecutive pairs of generations.
* Global end of an rPU-VAE leaf run: the best score fell below ``min_score = 0.1``.

Pure functions over the per-generation best scores (index 0 = generation 1).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

CONVERGENCE_TOLERANCE = 0.005
CONVERGENCE_WINDOW = 6
MIN_SCORE = 0.1


def converged(best_scores: Sequence[float], tolerance: float = CONVERGENCE_TOLERANCE,
              window: int = CONVERGENCE_WINDOW) -> bool:
    """True when ``|best_g - best_{g-1}| < tolerance`` for the last ``window`` pairs (so at least
    ``window + 1`` generations are needed). NaN scores never count as converged."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if len(best_scores) < window + 1:
        return False
    tail = [float(s) for s in best_scores[-(window + 1):]]
    if any(math.isnan(s) for s in tail):
        return False
    return all(abs(b - a) < tolerance for a, b in zip(tail[:-1], tail[1:]))


def stop_reason(best_scores: Sequence[float], max_generations: Optional[int],
                convergence: bool = False, tolerance: float = CONVERGENCE_TOLERANCE,
                window: int = CONVERGENCE_WINDOW) -> Optional[str]:
    """Why the population stops after ``len(best_scores)`` generations, or None to go on."""
    if max_generations is not None and len(best_scores) >= max_generations:
        return f"generation budget ({max_generations}) reached"
    if convergence and converged(best_scores, tolerance, window):
        return f"converged (best score changed < {tolerance} over {window} generations)"
    return None


def below_threshold(best_score: float, min_score: float = MIN_SCORE) -> bool:
    """rPU-VAE's global end: the best member of the finished stage scores below ``min_score``."""
    return not (best_score >= min_score)
