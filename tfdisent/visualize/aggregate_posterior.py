"""The aggregate posterior q(z) = (1/N) sum_n N(z; mu(x_n), diag sigma^2(x_n)) of 2-D latents as a
density picture, with the prior's modes marked: the pinwheel figure of Mathieu et al. (ICML 2019,
"Disentangling Disentanglement in VAEs"; mixture prior; Fig. 2 of the authors' talk slides).

The density is the exact Gaussian mixture evaluated on a grid (not a histogram of samples), so it
is smooth with a few thousand points. For D > 2 the picture shows the marginal of two chosen
dimensions (exact, since the posteriors are diagonal). Matplotlib's Agg canvas is used directly
(no pyplot state), so this is safe in scripts, tests and threads. :func:`mass_near_modes` measures
how clustered q(z) is.

    from tfdisent.visualize.aggregate_posterior import plot_model_aggregate_posterior
    plot_model_aggregate_posterior(trainer.model, trainer.dataset, "q_z.png")
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from tfdisent.evaluation.encoding import encode_in_batches, keras_encoder_function

_LOG_2PI = math.log(2.0 * math.pi)


def aggregate_posterior_log_density(points: np.ndarray, mean: np.ndarray, logvar: np.ndarray,
                                    chunk: int = 4096) -> np.ndarray:
    """log q(z) = log (1/N) sum_n N(z; mean_n, diag exp(logvar_n)) at points [P, D] (logsumexp)."""
    points = np.asarray(points, np.float64)
    mean, logvar = np.asarray(mean, np.float64), np.asarray(logvar, np.float64)
    precision = np.exp(-logvar)  # [N, D]
    log_norm = -0.5 * (logvar.sum(axis=1) + mean.shape[1] * _LOG_2PI) - math.log(len(mean))  # [N]
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        diff = points[start:start + chunk, None, :] - mean[None]  # [p, N, D]
        log_terms = log_norm[None] - 0.5 * np.einsum("pnd,nd->pn", diff * diff, precision)
        top = log_terms.max(axis=1, keepdims=True)
        out[start:start + chunk] = (top + np.log(np.exp(log_terms - top).sum(axis=1, keepdims=True)))[:, 0]
    return out


def density_grid(mean: np.ndarray, logvar: np.ndarray, extent: Sequence[float], grid_size: int = 200,
                 dims: Tuple[int, int] = (0, 1)) -> np.ndarray:
    """q(z_i, z_j) on a grid_size x grid_size grid over extent (xmin, xmax, ymin, ymax); rows = y."""
    mean = np.asarray(mean)[:, list(dims)]
    logvar = np.asarray(logvar)[:, list(dims)]
    xs = np.linspace(extent[0], extent[1], grid_size)
    ys = np.linspace(extent[2], extent[3], grid_size)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    return np.exp(aggregate_posterior_log_density(points, mean, logvar)).reshape(grid_size, grid_size)


def mass_near_modes(samples: np.ndarray, modes: np.ndarray, radius: float) -> float:
    """Fraction of the samples [N, D] within Euclidean ``radius`` of at least one mode [K, D]."""
    samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
    return float(np.mean(distances.min(axis=1) <= radius))


def sample_aggregate_posterior(mean: np.ndarray, logvar: np.ndarray,
                               random_state: np.random.RandomState) -> np.ndarray:
    """One z ~ q(z|x_n) per point: a sample of the aggregate posterior [N, D]."""
    mean = np.asarray(mean, np.float64)
    return mean + np.exp(0.5 * np.asarray(logvar, np.float64)) * random_state.standard_normal(mean.shape)


def _default_extent(mean: np.ndarray, logvar: np.ndarray, modes: Optional[np.ndarray]) -> Tuple[float, ...]:
    std = np.exp(0.5 * logvar)
    low = np.percentile(mean - 2 * std, 0.5, axis=0)
    high = np.percentile(mean + 2 * std, 99.5, axis=0)
    if modes is not None and len(modes):
        low, high = np.minimum(low, modes.min(axis=0) - 0.5), np.maximum(high, modes.max(axis=0) + 0.5)
    half = 0.55 * float(np.max(high - low))  # square, with a margin
    centre = 0.5 * (low + high)
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


def plot_aggregate_posterior(mean: np.ndarray, logvar: np.ndarray, path: str, *,
                             modes: Optional[np.ndarray] = None, labels: Optional[np.ndarray] = None,
                             extent: Optional[Sequence[float]] = None, grid_size: int = 200,
                             dims: Tuple[int, int] = (0, 1), title: Optional[str] = None,
                             dpi: int = 100) -> str:
    """Writes a PNG of the density of q(z) over latent dimensions ``dims``; returns ``path``.

    Args:
      mean, logvar: posterior parameters [N, D] of N data points (D >= 2).
      modes: prior modes [K, D] to mark with white crosses (e.g. the mixture prior's means).
      labels: optional class of each point (e.g. the pinwheel arm): the posterior means are then
        overlaid as small dots coloured by label.
      extent: (xmin, xmax, ymin, ymax); default: around the data and the modes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    mean, logvar = np.asarray(mean, np.float64), np.asarray(logvar, np.float64)
    if mean.ndim != 2 or mean.shape[1] < 2 or mean.shape != logvar.shape:
        raise ValueError(f"mean and logvar must both be [N, D] with D >= 2, got {mean.shape} and {logvar.shape}")
    selected = list(dims)
    modes_2d = None if modes is None else np.asarray(modes, np.float64)[:, selected]
    if extent is None:
        extent = _default_extent(mean[:, selected], logvar[:, selected], modes_2d)
    density = density_grid(mean, logvar, extent, grid_size, dims)

    figure = Figure(figsize=(5, 5), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(density, origin="lower", extent=tuple(extent), cmap="viridis", aspect="equal",
                interpolation="bilinear")
    if labels is not None:
        axes.scatter(mean[:, selected[0]], mean[:, selected[1]], c=np.asarray(labels), cmap="tab10", s=2,
                     alpha=0.5, linewidths=0)
    if modes_2d is not None:
        axes.scatter(modes_2d[:, 0], modes_2d[:, 1], marker="x", s=60, c="white", linewidths=2, label="prior modes")
        axes.legend(loc="upper right", fontsize=8, framealpha=0.5)
    axes.set_xlim(extent[0], extent[1])
    axes.set_ylim(extent[2], extent[3])
    axes.set_xlabel(f"z{selected[0]}")
    axes.set_ylabel(f"z{selected[1]}")
    axes.set_title(title or "aggregate posterior q(z)")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def plot_model_aggregate_posterior(model, dataset, path: str, num_points: int = 2000, seed: int = 0,
                                   **kwargs) -> str:
    """Encodes ``num_points`` observations of ``dataset`` with ``model.encoder`` and plots q(z) with
    the modes of the model's prior (``model.latent_prior``, if it has one) and the first factor as
    labels. Extra keyword arguments go to :func:`plot_aggregate_posterior`."""
    factors, observations = dataset.sample(num_points, np.random.RandomState(seed))
    mean, logvar = encode_in_batches(keras_encoder_function(model.encoder), observations)
    prior = getattr(model, "latent_prior", None)
    kwargs.setdefault("modes", prior.modes() if prior is not None else None)
    kwargs.setdefault("labels", np.asarray(factors)[:, 0] if np.ndim(factors) == 2 and np.shape(factors)[1] else None)
    return plot_aggregate_posterior(mean, logvar, path, **kwargs)
