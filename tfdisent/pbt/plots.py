"""Pictures of a PBT run: every member's fitness and searched hyperparameters over generations,
with copy events (truncation selection) drawn as dashed lines from donor to receiver."""

from __future__ import annotations

import math
import os
from typing import Mapping, Optional, Sequence


def plot_population(rows: Sequence[Mapping[str, object]], path: str) -> Optional[str]:
    """Writes a 4-panel PNG (score, learning rate, batch size, beta vs generation); None if empty."""
    if not rows:
        return None
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    members = sorted({int(row["member"]) for row in rows})
    table = {(int(row["member"]), int(row["generation"])): row for row in rows}
    figure, axes = plt.subplots(1, 4, figsize=(18, 4))
    panels = (("score", "fitness", False), ("learning_rate", "learning rate", True),
              ("batch_size", "batch size", True), ("beta", "beta (strength)", True))
    colours = plt.get_cmap("tab20")
    for axis, (key, title, log) in zip(axes, panels):
        for index, member in enumerate(members):
            points = sorted((g, float(row[key])) for (m, g), row in table.items()
                            if m == member and row.get(key) not in (None, "") and math.isfinite(float(row[key])))
            if points:
                axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3,
                          color=colours(index % 20), linewidth=1, label=f"member {member}")
            for (m, g), row in table.items():
                donor = row.get("copied_from")
                if m == member and donor not in (None, "") and (int(donor), g - 1) in table:
                    source = table[(int(donor), g - 1)]
                    if source.get(key) not in (None, "") and row.get(key) not in (None, ""):
                        axis.plot([g - 1, g], [float(source[key]), float(row[key])], linestyle="--",
                                  color=colours(index % 20), linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel("generation")
        if log:
            axis.set_yscale("log")
    if len(members) <= 12:
        axes[0].legend(fontsize=7)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
