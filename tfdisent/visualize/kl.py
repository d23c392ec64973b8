"""KL divergence of each latent dimension to the prior, and its bar chart.

For a diagonal Gaussian posterior q(z|x) = N(mu, diag(exp(logvar))) and prior N(0, I), the KL
splits over dimensions: KL_i = 0.5 * (mu_i^2 + exp(logvar_i) - logvar_i - 1) (Kingma & Welling
2014, App. B). Averaged over data it measures how much information dimension i carries; near-zero
dimensions have collapsed to the prior and are "inactive" (:data:`ACTIVE_KL_THRESHOLD`).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from tfdisent.metrics.utils import gaussian_kl_per_dimension
from tfdisent.models.images import ACTIVE_COLOUR, INACTIVE_COLOUR
from tfdisent.models.traversals import ACTIVE_KL_THRESHOLD, active_latents


# The picture API's name for the one numpy formula (tfdisent.metrics.utils): average
# KL(q(z_i|x) || N(0, 1)) over the rows of mean/logvar [N, d]; nats, shape [d].
kl_per_dimension = gaussian_kl_per_dimension


def kl_bar_chart(kl: np.ndarray, threshold: float = ACTIVE_KL_THRESHOLD, title: Optional[str] = None,
                 width_px: int = 640, height_px: int = 360) -> np.ndarray:
    """Bar chart of the KL per latent (active bars orange, threshold dashed) as uint8 RGB [H, W, 3].

    Drawn on a bare ``Figure`` with the Agg canvas rather than through pyplot: no global figure
    state and no display backend, so it is safe in servers, tests and training loops.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kl = np.asarray(kl, np.float64)
    active = active_latents(kl, threshold)
    dpi = 100
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    colours = [ACTIVE_COLOUR if a else INACTIVE_COLOUR for a in active]
    axes.bar(np.arange(len(kl)), kl, color=colours, edgecolor="black", linewidth=0.5)
    axes.axhline(threshold, color="grey", linestyle="--", linewidth=1,
                 label=f"active threshold {threshold:g} nats ({int(active.sum())}/{len(kl)} active)")
    axes.set_xticks(np.arange(len(kl)))
    axes.set_xticklabels([f"z{i}" for i in range(len(kl))], fontsize=8 if len(kl) <= 32 else 5)
    axes.set_xlabel("latent dimension")
    axes.set_ylabel("average KL to N(0, 1) [nats]")
    axes.set_title(title or f"KL per latent dimension (total {kl.sum():.2f} nats)")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
