"""Representation functions with a known answer, for tests, sanity checks and benchmarks.

They encode the observations of :class:`tfdisent.data.synthetic.IdentityObservations` (the
factor vectors themselves) into codes whose disentanglement is known by construction:

* ``"disentangled"``: one code dimension per factor (the factor, standardised), followed by
  ``noise_dims`` dimensions of pure Gaussian noise — should score near the top;
* ``"rotated"``: the same code multiplied by a random rotation — entangled, yet every factor is
  still linearly decodable (informativeness is kept);
* ``"mixed"``: ``(1 - mixing) * disentangled + mixing * rotated`` — partially entangled;
* ``"noise"``: pure noise of the same size — should score near chance.

``permutation`` and ``signs`` reorder and flip the final code dimensions, to check invariances.
``constant_dims`` appends collapsed (constant) dimensions.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

KINDS = ("disentangled", "rotated", "mixed", "noise")


def random_rotation(dim: int, seed: int = 0) -> np.ndarray:
    """A random orthogonal matrix (QR of a Gaussian matrix, sign-corrected)."""
    q, r = np.linalg.qr(np.random.RandomState(seed).randn(dim, dim))
    return q * np.sign(np.diag(r))


class SyntheticRepresentation:
    """Callable ``observations [B, K] -> codes [B, K + noise_dims (+ constant_dims)]``."""

    def __init__(self, factor_sizes: Sequence[int], kind: str = "disentangled", noise_dims: int = 2,
                 noise_scale: float = 1.0, mixing: float = 0.5, seed: int = 0,
                 permutation: Optional[Sequence[int]] = None, signs: Optional[Sequence[float]] = None,
                 constant_dims: int = 0):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.factor_sizes = np.asarray(factor_sizes, dtype=np.float64)
        self.kind = kind
        self.noise_dims = int(noise_dims)
        self.noise_scale = float(noise_scale)
        self.mixing = float(mixing)
        self.dim = len(self.factor_sizes) + self.noise_dims
        self.rotation = random_rotation(self.dim, seed + 1)
        self.permutation = None if permutation is None else np.asarray(permutation)
        self.signs = None if signs is None else np.asarray(signs, dtype=np.float64)
        self.constant_dims = int(constant_dims)
        self._noise = np.random.RandomState(seed)

    def _standardized_factors(self, observations: np.ndarray) -> np.ndarray:
        # A uniform factor on {0..n-1} has mean (n-1)/2 and std sqrt((n^2-1)/12).
        sizes = self.factor_sizes
        std = np.sqrt(np.maximum(sizes ** 2 - 1.0, 1e-12) / 12.0)
        return (np.asarray(observations, dtype=np.float64) - (sizes - 1.0) / 2.0) / std

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations)
        noise = self._noise.standard_normal((len(observations), self.noise_dims)) * self.noise_scale
        if self.kind == "noise":
            codes = self._noise.standard_normal((len(observations), self.dim))
        else:
            codes = np.concatenate([self._standardized_factors(observations), noise], axis=1)
            if self.kind == "rotated":
                codes = codes @ self.rotation
            elif self.kind == "mixed":
                codes = (1.0 - self.mixing) * codes + self.mixing * (codes @ self.rotation)
        if self.permutation is not None:
            codes = codes[:, self.permutation]
        if self.signs is not None:
            codes = codes * self.signs
        if self.constant_dims:
            codes = np.concatenate([codes, np.full((len(codes), self.constant_dims), 0.25)], axis=1)
        return codes


class SyntheticGaussianEncoder:
    """``observations -> (mean, logvar)`` for UDR: ``mean`` is a :class:`SyntheticRepresentation`
    code (confident: ``logvar = active_logvar``) followed by ``inactive_dims`` dimensions at the
    prior (mean 0, logvar 0, KL 0)."""

    def __init__(self, representation: SyntheticRepresentation, inactive_dims: int = 2,
                 active_logvar: float = -4.0):
        self.representation = representation
        self.inactive_dims = int(inactive_dims)
        self.active_logvar = float(active_logvar)

    def __call__(self, observations: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        codes = self.representation(observations)
        mean = np.concatenate([codes, np.zeros((len(codes), self.inactive_dims))], axis=1)
        logvar = np.concatenate([np.full(codes.shape, self.active_logvar),
                                 np.zeros((len(codes), self.inactive_dims))], axis=1)
        return mean, logvar
