"""All pictures of a trained run, as disentanglement_lib's ``visualize_model`` makes them, plus a projector run.

Output (``<run>/visualizations/`` by default)::

    traversals/traversals{i}.png        one per sample: rows = latents by KL, columns = values
    animated_traversals/{kind}{i}.gif   the five GIF kinds of tfdisent.visualize.traversals
    reconstructions.png                 inputs beside reconstructions
    prior_samples.png                   decoded z ~ N(0, I)
    kl_per_dimension.png                bar chart; active latents in orange
    summary.json                        KL per dimension, active latents, order, files

and ``<run>/logs/projector/`` for TensorBoard's Embedding Projector. Non-image data (e.g.
pinwheel) gets only the KL chart and the projector.
"""

from __future__ import annotations

import json
import os
import time
from typing import Dict, List, Optional

import numpy as np
from absl import logging

from tfdisent.models.traversals import ACTIVE_KL_THRESHOLD, active_latents, kl_order
from tfdisent.visualize import kl as kl_module
from tfdisent.visualize import projector, reconstructions, traversals
from tfdisent.visualize.exported import ExportedModel, check_dataset_fits
from tfdisent.visualize.image_io import save_gif, save_png
from tfdisent.visualize.run_dir import PROJECTOR_RUN, VISUALIZATIONS_DIR, RunDirError, locate_run

NUM_RECONSTRUCTIONS = 64
NUM_PRIOR_SAMPLES = 64
MIN_KL_POINTS = 1000  # posterior statistics (KL, fitted Gaussians) use at least this many inputs


def visualize_run(model_dir: str, output_dir: Optional[str] = None, num_samples: int = 5,
                  projector_points: int = 2000, gifs: bool = True, seed: int = 0, data_dir: Optional[str] = None,
                  export_version: Optional[int] = None, num_values: int = traversals.NUM_VALUES,
                  traversal_limit: float = traversals.TRAVERSAL_LIMIT, num_frames: int = traversals.NUM_FRAMES,
                  fps: float = traversals.FPS, active_kl_threshold: float = ACTIVE_KL_THRESHOLD,
                  dataset_name: Optional[str] = None) -> Dict[str, object]:
    """Writes every picture of the run in ``model_dir``; returns a summary with the files written.

    The model is the run's exported SavedModel (latest version unless ``export_version``); the
    data is the run's dataset (``config.json``; ``dataset_name`` overrides it), ``data_dir`` overriding
    its file location. ``model_dir`` may also be a disentanglement_lib model (its TF1 Hub module).
    Raises :class:`~tfdisent.visualize.run_dir.RunDirError` for an unusable run directory.
    """
    from tfdisent.data import load_dataset

    run = locate_run(model_dir, export_version)
    if dataset_name:
        run.metadata = dict(run.metadata, dataset=dataset_name)
    if not run.dataset:
        raise RunDirError(f"{model_dir} records no dataset (no results/gin/train.gin); pass --dataset")
    output_dir = output_dir or os.path.join(run.run_dir, VISUALIZATIONS_DIR)
    started = time.time()
    model = ExportedModel(run.export_dir)
    data_dir = data_dir or run.data_dir
    dataset = load_dataset(run.dataset, **({"data_dir": data_dir} if data_dir else {}))
    check_dataset_fits(model, dataset.observation_shape, run.dataset)

    random_state = np.random.RandomState(seed)
    num_points = max(projector_points, MIN_KL_POINTS, num_samples, NUM_RECONSTRUCTIONS)
    factors, observations = dataset.sample(num_points, random_state)
    means, logvars = model.encode(observations)
    kl = kl_module.kl_per_dimension(means, logvars)
    active = active_latents(kl, active_kl_threshold)
    files: Dict[str, List[str]] = {"traversals": [], "animations": []}
    logging.info("run %s, export version %d: %d/%d active latents (KL per dim %s)", run.run_dir, run.version,
                 int(active.sum()), len(kl), np.array2string(kl, precision=3))

    files["kl_chart"] = save_png(kl_module.kl_bar_chart(kl, active_kl_threshold),
                                 os.path.join(output_dir, "kl_per_dimension.png"))
    if model.is_image_model:
        values = traversals.traversal_values(traversal_limit, num_values)
        for i in range(num_samples):
            image = traversals.traversal_image(model, means[i], kl, values, active_kl_threshold)
            files["traversals"].append(save_png(image, os.path.join(output_dir, "traversals", f"traversals{i}.png")))
        files["reconstructions"] = save_png(
            reconstructions.reconstruction_image(model, observations[:NUM_RECONSTRUCTIONS]),
            os.path.join(output_dir, "reconstructions.png"))
        files["prior_samples"] = save_png(
            reconstructions.prior_samples_image(model, NUM_PRIOR_SAMPLES, np.random.RandomState(seed)),
            os.path.join(output_dir, "prior_samples.png"))
        if gifs:
            for i in range(num_samples):
                for kind in traversals.GIF_KINDS:
                    frames = traversals.animation_frames(model, kind, means[i], means, logvars, kl, num_frames,
                                                         active_kl_threshold)
                    files["animations"].append(save_gif(
                        frames, os.path.join(output_dir, "animated_traversals", f"{kind}{i}.gif"), fps))
    else:
        logging.info("observations of shape %s are not images: only the KL chart and the projector are written",
                     model.observation_shape)

    if projector_points > 0:
        projector_dir = os.path.join(run.log_dir, PROJECTOR_RUN)
        written = projector.write_projector(
            projector_dir, means[:projector_points], factors[:projector_points], list(dataset.factor_names),
            observations[:projector_points] if model.is_image_model else None,
            description=f"Encoder means of {projector_points} {run.dataset} samples (seed {seed}), export version "
                        f"{run.version} of {run.run_dir}. Colour by a factor in the Projector tab.")
        files["projector"] = sorted(written.values())
        logging.info("projector run: %s", projector_dir)  # the tensorboard command closes tfdisent-visualize

    summary = {"run_dir": run.run_dir, "export_version": run.version, "dataset": run.dataset,
               "kl_per_dimension": [float(v) for v in kl], "active_kl_threshold": active_kl_threshold,
               "active_latents": [int(i) for i in np.flatnonzero(active)],
               "latents_by_kl": [int(i) for i in kl_order(kl)], "seed": seed, "files": files,
               "seconds": round(time.time() - started, 2)}
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary
