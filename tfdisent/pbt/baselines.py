"""The baselines that Estermann et al. (2020, Sec. 5, Table 1) compare population-based training with.

* **Model selection with few labels**: train N unsupervised models (here: the study's beta-TCVAE
  betas and seeds) and keep the one whose discrete MIG on a fixed subset of 1000 labelled images is
  best (the few-label model selection of Locatello et al. 2019, Sec. 5.4, and 2020, Sec. 4).
  :func:`select_by_few_labels` scores the candidates exactly as the ``mig`` fitness of
  1000-PBT-S-VAE does (:func:`tfdisent.pbt.fitness.mig_fitness` on the encoder means of
  :func:`tfdisent.pbt.member.fixed_factors`), so the two spend their labels the same way.
* **Semi-supervised training with 1000 labels** (Locatello et al. 2020): the ``s2_*`` methods of
  :mod:`tfdisent.methods.semi_supervised`, trained like any model
  (``tfdisent-train --method=s2_beta_tcvae --num_labels=1000``); nothing PBT-specific is needed.

``docs/pbt/reproduce.py`` runs both next to PBT-S-VAE.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Mapping, Tuple

from tfdisent.pbt import fitness as fitness_lib
from tfdisent.pbt.member import encode_factors, fixed_factors

FEW_LABELS = 1000

# encode(observations [B, ...]) -> (means [B, d], logvars [B, d])
Encoder = Callable[..., Tuple[object, object]]


def select_by_few_labels(encoders: Mapping[str, Encoder], dataset, num_labels: int = FEW_LABELS,
                         seed: int = 0) -> Tuple[str, Dict[str, float]]:
    """The candidate with the best discrete MIG on ``num_labels`` fixed labelled images of ``dataset``
    (drawn from ``seed``; the same images for every candidate), and every candidate's score. A candidate
    whose MIG cannot be computed (e.g. a collapsed or non-finite code) scores 0, as a PBT fitness does;
    ties go to the first candidate."""
    if not encoders:
        raise ValueError("select_by_few_labels: no candidate models")
    factors = fixed_factors(dataset, num_labels, seed)
    scores: Dict[str, float] = {}
    for name, encode in encoders.items():
        means, _ = encode_factors(encode, dataset, factors, seed)
        scores[name] = fitness_lib.guarded(fitness_lib.mig_fitness, means, factors).score
    best = max(scores, key=lambda name: scores[name] if math.isfinite(scores[name]) else -math.inf)
    return best, scores
