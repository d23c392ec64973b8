"""Population-based training of disentangling VAEs on Ray Tune (Estermann et al. 2020, Sec. 2.2
and 3; Ray Tune's ``PopulationBasedTraining``).

* Synchronous generations (``synch=True``, ``perturbation_interval=1`` report = 1 generation),
  truncation selection with quantile 0.2, no resampling, the paper's explore rule as
  ``custom_explore_fn`` (:mod:`tfdisent.pbt.explore`).
* The optionally doubled initial population is halved after generation 1 by
  :class:`HalvingPBT` (the bottom half of the ranked population is stopped before the first
  exploit; the paper keeps the top half, then runs normal PBT).
* Every reported checkpoint is kept (``num_to_keep=None``), so a clone never points at a deleted
  checkpoint (ray-project/ray#9036).
* Rerunning the same command after the driver was killed resumes: a new Ray experiment
  (``DIR/ray/population_r<k>``) whose members start from their checkpoints of the last generation
  all of them completed. (``Tuner.restore`` of a synchronous PBT experiment started no trial in
  Ray 2.60 here: the restored scheduler waits for a sync point forever.)
* Local Ray by default; ``ray_address`` joins a cluster (``DIR`` must then be shared storage).

Outputs in ``DIR``: ``population.csv``, ``best/`` (a run directory with the best model across all
generations: ``export/<v>/``, ``config.json``, ``lineage.json``), ``logs/pbt`` (TensorBoard),
``plots/``, ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import shutil
from typing import Callable, Dict, List, Optional

import numpy as np

from tfdisent.pbt import explore as explore_lib
from tfdisent.pbt import fitness as fitness_lib
from tfdisent.pbt import member as member_lib
from tfdisent.pbt import records
from tfdisent.pbt.explore import PBTConfigError
from tfdisent.training.config import PRECISIONS
from tfdisent.training.precision import PrecisionError, check_precision
from tfdisent.training.resources import RayAddressError, init_ray, tune_verbosity

EXPERIMENT_NAME = "population"
MAX_GENERATION_SAMPLES = 10 ** 9


@dataclasses.dataclass
class PBTSettings:
    """Every setting of one PBT run (one field per ``tfdisent-pbt`` flag)."""

    fitness: str = "mig"
    output_dir: str = "runs/pbt"
    population: int = 24
    generations: Optional[int] = 26
    generation_samples: int = 480000
    num_labels: int = fitness_lib.PAPER_NUM_LABELS
    method: str = "beta_tcvae"
    dataset: str = "dsprites"
    data_dir: Optional[str] = None
    ray_address: Optional[str] = None
    seed: int = 0
    double_initial_population: bool = False
    convergence: bool = False
    models_per_member: Optional[int] = None    # None: 5 for udr (PBT-U-VAE), else 1
    udr_points: int = fitness_lib.UDR_POINTS
    leaf_points: int = fitness_lib.LEAF_POINTS
    kl_threshold: float = 0.01
    leaf_manifest: Optional[str] = None
    subset_path: Optional[str] = None
    latent_dim: int = 10
    architecture: str = "auto"
    cpus_per_member: float = 1.0
    num_cpus: Optional[int] = None             # local Ray only
    log_every: int = 50
    precision: str = "float32"                 # TrainConfig.precision of every member
    backend: str = "trainer"                   # "toy": numpy stand-in for scheduler tests
    toy_delay: float = 0.0                     # toy backend: seconds per generation
    quantile_fraction: float = explore_lib.QUANTILE_FRACTION
    ray_verbose: bool = False                  # Ray's and Tune's own console output (off: ours only)
    plugins: List[str] = dataclasses.field(default_factory=list)   # modules imported by every member

    @property
    def lock_step_models(self) -> int:
        if self.models_per_member is not None:
            return int(self.models_per_member)
        return fitness_lib.UDR_MODELS if self.fitness == "udr" else 1

    def validate(self, dataset=None) -> None:
        """Raises PBTConfigError (one line) for impossible settings; loads nothing heavy."""
        from tfdisent.methods import method_names, pbt_hyperparameter  # noqa: PLC0415
        from tfdisent.registry import RegistryError, import_plugins  # noqa: PLC0415

        try:
            import_plugins(self.plugins)
        except RegistryError as error:
            raise PBTConfigError(str(error)) from None
        if self.fitness not in fitness_lib.FITNESSES:
            raise PBTConfigError(f"unknown --fitness={self.fitness!r}; choose from {', '.join(fitness_lib.FITNESSES)}")
        if self.backend not in member_lib.BACKENDS:
            raise PBTConfigError(f"unknown backend {self.backend!r}")
        explore_lib.check_population(self.population, self.quantile_fraction)
        if self.generations is not None and self.generations < 1:
            raise PBTConfigError(f"--generations must be >= 1, got {self.generations}")
        if self.generations is None and not self.convergence:
            raise PBTConfigError("without --generations the run needs --convergence to ever stop")
        if self.double_initial_population and self.generations is not None and self.generations < 2:
            raise PBTConfigError("--double_initial_population needs --generations >= 2 (it halves after generation 1)")
        if not 0 < self.generation_samples <= MAX_GENERATION_SAMPLES:
            raise PBTConfigError(f"--generation_samples must be in [1, {MAX_GENERATION_SAMPLES}], "
                                 f"got {self.generation_samples}")
        if self.generation_samples < explore_lib.MIN_BATCH_SIZE:
            raise PBTConfigError(f"--generation_samples={self.generation_samples} is smaller than one batch")
        if self.num_labels < 2 or self.udr_points < 2 or self.leaf_points < 2:
            raise PBTConfigError("--num_labels, --udr_points and --leaf_points must be >= 2")
        if self.lock_step_models < 1 or (self.fitness == "udr" and self.lock_step_models < 2):
            raise PBTConfigError(f"--fitness=udr needs >= 2 lock-step models per member, got {self.lock_step_models}")
        if self.backend == "trainer":
            if self.method not in method_names():
                raise PBTConfigError(f"unknown --method={self.method}; known methods: {', '.join(method_names())}")
            if pbt_hyperparameter(self.method) is None:
                searchable = [m for m in method_names() if pbt_hyperparameter(m)]
                raise PBTConfigError(f"--method={self.method} has no regularisation strength for PBT to search "
                                     f"(its class declares no pbt_explores); use one of {', '.join(searchable)}")
        if self.fitness == "leaf_mig" and not self.leaf_manifest:
            raise PBTConfigError("--fitness=leaf_mig needs rPU-VAE's surrogate labels (use --recursive)")
        if self.cpus_per_member <= 0:
            raise PBTConfigError(f"--cpus_per_member must be positive, got {self.cpus_per_member}")
        if self.precision not in PRECISIONS:
            raise PBTConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.backend == "trainer" and self.ray_address in (None, "local"):
            try:  # members run on this machine: refuse bfloat16 it cannot run natively, before any trial
                check_precision(self.precision)
            except PrecisionError as error:
                raise PBTConfigError(str(error)) from None
        if os.path.isfile(self.output_dir):
            raise PBTConfigError(f"--output_dir={self.output_dir} is a file")
        if dataset is not None:
            if fitness_lib.NEEDS_LABELS[self.fitness] and not tuple(dataset.factor_sizes):
                raise PBTConfigError(f"--fitness={self.fitness} needs ground-truth labels; dataset {self.dataset!r} has none "
                                     "(use --fitness=udr or --recursive)")
            size = int(getattr(dataset, "num_examples", 0) or 0)
            if fitness_lib.NEEDS_LABELS[self.fitness] and size and self.num_labels > size:
                raise PBTConfigError(f"--num_labels={self.num_labels} exceeds the dataset's {size} examples")

    def static_config(self) -> Dict[str, object]:
        """The part of every trial's config that PBT never changes."""
        return {"fitness": self.fitness, "method": self.method, "dataset": self.dataset, "data_dir": self.data_dir,
                "seed": self.seed, "generation_samples": self.generation_samples, "num_labels": self.num_labels,
                "models_per_member": self.lock_step_models, "udr_points": self.udr_points,
                "leaf_points": self.leaf_points, "kl_threshold": self.kl_threshold,
                "leaf_manifest": os.path.abspath(self.leaf_manifest) if self.leaf_manifest else None,
                "subset_path": os.path.abspath(self.subset_path) if self.subset_path else None,
                "latent_dim": self.latent_dim, "architecture": self.architecture, "log_every": self.log_every,
                "precision": self.precision, "backend": self.backend, "toy_delay": self.toy_delay,
                "cpus_per_member": self.cpus_per_member, "max_generations": self.generations,
                "fitness_seed": self.seed, **self.plugin_config()}

    def plugin_config(self) -> Dict[str, object]:
        """The plugins every member imports and where this driver found them (Ray workers started
        before they were on the path find them there; see tfdisent.registry.import_plugins)."""
        if not self.plugins:
            return {}
        from tfdisent.registry import parse_plugin_list, plugin_paths  # noqa: PLC0415

        names = list(parse_plugin_list(self.plugins))
        return {"plugins": names, "plugin_paths": plugin_paths(names)}

    def initial_population(self) -> List[Dict[str, float]]:
        """The paper's initial draws for every member (doubled if asked), reproducible from seed."""
        rng = random.Random(self.seed)
        size = self.population * (2 if self.double_initial_population else 1)
        return [explore_lib.initial_hyperparameters(rng) for _ in range(size)]


def paper_explore_fn(seed: int):
    """``custom_explore_fn`` for Ray: the paper's explore on the trial config's searched values."""
    rng = random.Random(seed + 7)

    def explore_fn(config: dict) -> dict:
        new = dict(config)
        new["hp"] = explore_lib.explore(member_lib.searched_values(config), rng)
        return new

    return explore_fn


def make_scheduler(settings: PBTSettings, halve: Optional[bool] = None):
    """Ray Tune PopulationBasedTraining with the paper's schedule (and halving, if asked)."""
    from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler  # noqa: PLC0415

    class HalvingPBT(PopulationBasedTraining):
        """PBT whose population is cut to its best ``halve_to`` members at the first sync point."""

        def __init__(self, halve_to: Optional[int] = None, **kwargs):
            super().__init__(**kwargs)
            self._halve_to = halve_to
            self._halved = halve_to is None

        def on_trial_result(self, tune_controller, trial, result):
            if self._halved or result.get(self._time_attr) != 1 or self._metric not in result:
                return super().on_trial_result(tune_controller, trial, result)
            state = self._trial_state[trial]
            self._save_trial_state(state, 1, result, trial)
            live = [t for t in tune_controller.get_live_trials() if t in self._trial_state]
            if any(t is not trial and self._trial_state[t].last_train_time < 1 for t in live):
                return TrialScheduler.NOOP if trial.status == trial.PAUSED else TrialScheduler.PAUSE
            ranked = sorted(live, key=lambda t: -(self._trial_state[t].last_score
                                                  if self._trial_state[t].last_score is not None else -math.inf))
            losers = ranked[self._halve_to:]
            self._halved = True
            for t in live:
                self._trial_state[t].last_perturbation_time = 1
            self._next_perturbation_sync = 1 + self._perturbation_interval
            for t in losers:
                if t is not trial:
                    tune_controller.stop_trial(t)
            return TrialScheduler.STOP if trial in losers else TrialScheduler.PAUSE

    return HalvingPBT(
        halve_to=settings.population if (settings.double_initial_population if halve is None else halve) else None,
        time_attr="training_iteration", metric="score", mode="max", perturbation_interval=1,
        quantile_fraction=settings.quantile_fraction, resample_probability=0.0,
        custom_explore_fn=paper_explore_fn(settings.seed), synch=True)


def make_stopper(settings: PBTSettings, population: Optional[int] = None):
    """Generation budget per trial (the trainable also stops itself) and, with ``convergence``,
    stop-all when the per-generation best changed < 0.005 over 6 generations."""
    from ray import tune  # noqa: PLC0415

    from tfdisent.pbt import stopping  # noqa: PLC0415

    class PopulationStopper(tune.Stopper):
        def __init__(self):
            self.scores: Dict[int, Dict[int, float]] = {}
            self.done = False

        def __call__(self, trial_id, result):
            generation = int(result.get("generation", 0))
            self.scores.setdefault(generation, {})[int(result.get("member", -1))] = float(result.get("score", -1))
            if settings.convergence:
                expected = population or settings.population
                complete = [g for g in sorted(self.scores) if g > 1 and len(self.scores[g]) >= expected]
                bests = [max(self.scores[g].values()) for g in complete]
                self.done = stopping.converged(bests)
            return settings.generations is not None and generation >= settings.generations

        def stop_all(self):
            return self.done

    return PopulationStopper()


def progress_line(row: dict, generations: Optional[int]) -> str:
    """The console line of one member's result (scores to 4 significant digits)."""
    def number(value, digits=4):
        try:
            return f"{float(value):.{digits}g}"
        except (TypeError, ValueError):
            return str(value)

    budget = f"/{generations}" if generations else ""
    copied = f", copied from member {row['copied_from']}" if row.get("copied_from") not in (None, "") else ""
    return (f"[pbt] generation {row['generation']}{budget}: member {row['member']} scored {number(row['score'])} "
            f"(beta {number(row.get('beta'), 3)}, learning rate {number(row.get('learning_rate'), 3)}, "
            f"batch {row.get('batch_size')}{copied})")


def make_recorder(output_dir: str, progress: Optional[Callable[[str], None]] = None,
                  generations: Optional[int] = None):
    """A Tune callback on the driver: every result becomes a population.csv row at once (and a
    progress line)."""
    from ray import tune  # noqa: PLC0415

    path = os.path.join(output_dir, records.POPULATION_FILE)

    class PopulationRecorder(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "member" not in result or "generation" not in result:
                return
            row = records.row_from_result(result)
            records.write_population(path, records.merge_rows(records.read_population(path), [row]))
            if progress is not None:
                progress(progress_line(row, generations))

    return PopulationRecorder()


def experiment_dirs(storage: str) -> List[str]:
    """Ray experiment directories of this run in attempt order (``population``, ``population_r1``...)."""
    if not os.path.isdir(storage):
        return []
    names = [n for n in os.listdir(storage) if n == EXPERIMENT_NAME or n.startswith(EXPERIMENT_NAME + "_r")]
    return [os.path.join(storage, n) for n in sorted(names, key=lambda n: 0 if n == EXPERIMENT_NAME else int(n.rsplit("_r", 1)[1]))]


def find_checkpoint(storage: str, member: int, generation: int) -> Optional[str]:
    """The persisted checkpoint directory written by ``member`` after ``generation`` (the latest
    attempt's if a resumed run wrote it again)."""
    found = None
    for experiment in experiment_dirs(storage) or [storage]:
        for root, _, files in sorted(os.walk(experiment)):
            # Only Ray's persisted checkpoints (a trial's last_good/ copy may hold another member's).
            if member_lib.META_FILE in files and os.path.basename(root).startswith("checkpoint_"):
                meta = member_lib.read_meta(root)
                if int(meta["member"]) == int(member) and int(meta["generation"]) == int(generation):
                    found = root
    return found


def resume_points(rows: List[dict], storage: str, settings: PBTSettings) -> Dict[int, tuple]:
    """``{member: (checkpoint, hyperparameters, generation)}`` at the last generation every live
    member completed, or {} to start over. Live members: all, or after the halving those that
    trained generation 2. That generation's exploit step is not redone (documented limit)."""
    if not rows:
        return {}
    live = sorted({r["member"] for r in rows if r["generation"] >= 2}) if settings.double_initial_population \
        else sorted({r["member"] for r in rows})
    if not live:
        return {}
    cut = min(max(r["generation"] for r in rows if r["member"] == m) for m in live)
    points = {}
    for m in live:
        checkpoint = find_checkpoint(storage, m, cut)
        if checkpoint is None:
            return {}
        points[m] = (checkpoint, dict(member_lib.read_meta(checkpoint)["hyperparameters"]), cut)
    return points


def export_best(settings: PBTSettings, checkpoint_dir: str, best_dir: str) -> Optional[str]:
    """Rebuilds the best model (of its member's lock-step models, the best by fitness) in
    ``best_dir`` as an ordinary run directory and exports it; returns the export path."""
    meta = member_lib.read_meta(checkpoint_dir)
    shutil.rmtree(best_dir, ignore_errors=True)
    if settings.backend != "trainer":
        shutil.copytree(checkpoint_dir, os.path.join(best_dir, "checkpoint"))
        return None
    from tfdisent.training import TrainConfig, Trainer  # noqa: PLC0415

    model = int(meta.get("best_model", 0))
    hyperparameters = meta["hyperparameters"]
    from tfdisent.methods import pbt_hyperparameter  # noqa: PLC0415

    strength = pbt_hyperparameter(settings.method)
    config = TrainConfig(method=settings.method, dataset=settings.dataset, data_dir=settings.data_dir,
                         architecture=settings.architecture, latent_dim=settings.latent_dim, steps=10 ** 9,
                         batch_size=int(hyperparameters["batch_size"]),
                         learning_rate=float(hyperparameters["learning_rate"]),
                         seed=explore_lib.member_seed(settings.seed, int(meta["member"]), model),
                         hyperparameters={strength: float(hyperparameters["beta"])}, image_every=0,
                         checkpoint_every=10 ** 9, export=True, precision=settings.precision)
    trainer = Trainer(config, best_dir, dataset=member_lib.load_data(settings.static_config()))
    trainer.restore_or_initialize()
    trainer.restore(os.path.join(checkpoint_dir, f"model_{model}"), data=False)
    trainer.save()
    return trainer.export()


def connect_ray(settings: PBTSettings) -> None:
    """Local Ray (or ``ray_address``) whose workers import this same tfdisent."""
    try:
        init_ray(settings.ray_address, settings.num_cpus, verbose=settings.ray_verbose)
    except RayAddressError as error:
        raise PBTConfigError(str(error)) from None


def run_pbt(settings: PBTSettings, progress: Optional[Callable[[str], None]] = print) -> dict:
    """Runs (or resumes) the population and writes the outputs; returns the summary. ``progress`` gets
    one line per member and generation (Ray's own console output is off unless ``settings.ray_verbose``)."""
    from ray import tune  # noqa: PLC0415

    dataset = member_lib.load_data(settings.static_config()) if settings.backend == "trainer" else None
    settings.validate(dataset)
    connect_ray(settings)   # before anything is written: an unreachable --ray_address leaves no directory
    output_dir = os.path.abspath(settings.output_dir)
    os.makedirs(output_dir, exist_ok=True)
    settings_path = os.path.join(output_dir, "pbt_settings.json")
    saved = dataclasses.asdict(settings)
    if os.path.exists(settings_path):
        with open(settings_path) as stream:
            previous = json.load(stream)
        # A setting added since the run was saved (e.g. precision) counts as its default.
        defaults = {f.name: f.default for f in dataclasses.fields(PBTSettings)}
        changed = sorted(k for k in saved if k not in ("ray_address", "num_cpus", "output_dir",
                                                   "ray_verbose")
                         and previous.get(k, defaults[k]) != saved[k])
        if changed:
            raise PBTConfigError(f"{settings.output_dir} holds a PBT run with other settings ({', '.join(changed)}); "
                                 "rerun with the same flags to resume or choose another --output_dir")
    else:
        with open(settings_path, "w") as stream:
            json.dump(saved, stream, indent=2)
    random.seed(settings.seed)  # Ray's PBT draws donors with the random module (driver only)
    storage = os.path.join(output_dir, "ray")
    attempts = experiment_dirs(storage)
    if attempts and os.path.exists(os.path.join(output_dir, "summary.json")):
        return finish(settings, output_dir, storage)           # finished before: outputs only
    static = settings.static_config()
    initial = settings.initial_population()
    halve = settings.double_initial_population
    if attempts:
        rows = records.merge_rows(records.read_population(os.path.join(output_dir, records.POPULATION_FILE)),
                                  collect_rows(storage))
        points = resume_points(rows, storage, settings)
        if points:
            members = sorted(points)
            static["member_ids"] = members
            static["resume_checkpoints"] = {str(i): points[m][0] for i, m in enumerate(members)}
            initial = [points[m][1] for m in members]
            halve = halve and min(points[m][2] for m in members) < 1
    name = EXPERIMENT_NAME if not attempts else f"{EXPERIMENT_NAME}_r{len(attempts)}"
    # One grid point per member, in member order: trial i (id suffix _0000i) is member i.
    param_space = {"pbt": static, "hp": tune.grid_search(initial)}
    trainable = tune.with_resources(member_lib.trainable, {"cpu": settings.cpus_per_member})
    tuner = tune.Tuner(
        trainable, param_space=param_space,
        tune_config=tune.TuneConfig(scheduler=make_scheduler(settings, halve), num_samples=1, reuse_actors=False),
        run_config=tune.RunConfig(
            name=name, storage_path=storage, stop=make_stopper(settings, len(initial) // (2 if halve else 1)),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            callbacks=[make_recorder(output_dir, progress, settings.generations)],
            verbose=tune_verbosity(settings.ray_verbose),
            failure_config=tune.FailureConfig(max_failures=2)))
    tuner.fit()
    return finish(settings, output_dir, storage)


def finish(settings: PBTSettings, output_dir: str, storage: str) -> dict:
    """population.csv (completed from the trials' result files), best model, lineage, plots."""
    rows = records.read_population(os.path.join(output_dir, records.POPULATION_FILE))
    rows = records.merge_rows(rows, collect_rows(storage))
    records.write_population(os.path.join(output_dir, records.POPULATION_FILE), rows)
    rows = records.read_population(os.path.join(output_dir, records.POPULATION_FILE))
    best = records.best_row(rows)
    summary = {"generations": max((r["generation"] for r in rows), default=0), "members": len({r["member"] for r in rows}),
               "rows": len(rows), "copies": sum(1 for r in rows if r["copied_from"] is not None),
               "best": None, "export": None}
    if best is not None:
        checkpoint = find_checkpoint(storage, best["member"], best["generation"])
        best_dir = os.path.join(output_dir, "best")
        export = export_best(settings, checkpoint, best_dir) if checkpoint else None
        lineage = records.write_lineage(os.path.join(best_dir, records.LINEAGE_FILE), rows, best["member"],
                                        best["generation"], {"checkpoint": checkpoint, "export": export})
        summary.update(best={"member": best["member"], "generation": best["generation"], "score": best["score"],
                             "copies_in_lineage": len(lineage["copies"])}, export=export)
    try:
        records.write_tensorboard(os.path.join(output_dir, "logs", "pbt"), rows)
    except ImportError:
        pass
    from tfdisent.pbt import plots  # noqa: PLC0415

    summary["plot"] = plots.plot_population(rows, os.path.join(output_dir, "plots", "population.png"))
    with open(os.path.join(output_dir, "summary.json"), "w") as stream:
        json.dump(summary, stream, indent=2, default=float)
    return summary


def collect_rows(storage: str) -> List[dict]:
    """Rows from every trial's ``result.json`` (what the recorder wrote live, recovered after a
    killed driver), attempts in order so that a resumed attempt's rows win."""
    rows = []
    for root, _, files in (walk for experiment in experiment_dirs(storage) for walk in sorted(os.walk(experiment))):
        if "result.json" in files:
            with open(os.path.join(root, "result.json")) as stream:
                for line in stream:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        result = json.loads(line)
                    except ValueError:
                        continue
                    if "member" in result and "generation" in result:
                        rows.append(records.row_from_result(result))
    return rows
