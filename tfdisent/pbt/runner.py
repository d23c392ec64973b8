"""Population-based training of disentangling VAEs on Ray (Estermann et al. 2020, Sec. 2.2 and 3).

A synchronous driver (:class:`Population`) over long-lived Ray actors, one per member
(:class:`tfdisent.pbt.member.Member`: its Trainers, data pipeline and traced step live for the
whole run). After every generation the driver applies the paper's rules itself:

* truncation selection with quantile 0.2 and the paper's explore (:mod:`tfdisent.pbt.explore`):
  a bottom member restores the donor's checkpoint of that generation in place and takes the
  donor's explored hyperparameters — no restart, no rebuild;
* the optionally doubled initial population is halved after generation 1 (the best half survives,
  no exploit that generation; ``survivors_after_halving``);
* the generation budget and the convergence rule (:func:`tfdisent.pbt.stopping.stop_reason`).

Member ids, lineage and checkpoints are tfdisent's own records: ``population.csv`` (written once
per complete generation) and ``DIR/members/member_<m>/generation_<g>/`` (every one kept; the best
is exported at the end). Rerunning the same command after the driver was killed resumes from the
last complete generation: the members are rebuilt from their own checkpoints of it and the next
step is planned again with the same seeded draws. Local Ray by default; ``ray_address`` joins a
cluster (``DIR`` must then be shared storage).

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
from typing import Callable, Dict, List, Mapping, Optional, Tuple


from tfdisent.pbt import explore as explore_lib
from tfdisent.pbt import fitness as fitness_lib
from tfdisent.pbt import member as member_lib
from tfdisent.pbt import records
from tfdisent.pbt import stopping
from tfdisent.pbt.explore import PBTConfigError
from tfdisent.training.config import PRECISIONS
from tfdisent.training.precision import PrecisionError, check_precision
from tfdisent.training.resources import RayAddressError, init_ray
from tfdisent.files import write_json_atomic

MAX_GENERATION_SAMPLES = 10 ** 9


class MemberLostError(PBTConfigError):
    """Member actors died more often than :attr:`Population.max_restarts` in one run (one line). A
    PBTConfigError so that ``tfdisent-pbt`` reports it as one line and exits non-zero, as every other
    reason a run cannot go on."""


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

    def member_settings(self) -> Dict[str, object]:
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


def plan_generation(settings: PBTSettings, generation: int, scores: Mapping[int, float],
                    hyperparameters: Mapping[int, Mapping[str, float]]) -> Dict[int, Tuple[Dict[str, float], Optional[int]]]:
    """``{member: (hyperparameters, donor or None)}`` for generation ``generation + 1`` from the
    scores of ``generation`` (Estermann et al. 2020, Sec. 2.2): after generation 1 of a doubled
    population its best half survives unchanged (no exploit that generation); otherwise truncation
    selection (quantile 0.2) and the paper's explore of the donor's values. The random draws come
    from a generator seeded by (run seed, generation), so a resumed driver plans the same step."""
    rng = random.Random(explore_lib.member_seed(settings.seed, generation, 0, stream=7))
    if generation == 1 and settings.double_initial_population and len(scores) > settings.population:
        return {m: (dict(hyperparameters[m]), None)
                for m in explore_lib.survivors_after_halving(scores, settings.population)}
    copies = explore_lib.truncation_selection(scores, rng, settings.quantile_fraction)
    plan = {}
    for m in sorted(scores):
        if m in copies:
            plan[m] = (explore_lib.explore(member_lib.searched_values(hyperparameters[copies[m]]), rng), copies[m])
        else:
            plan[m] = (dict(hyperparameters[m]), None)
    return plan


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
    trainer = Trainer(config, best_dir, dataset=member_lib.load_data(settings.member_settings()))
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
    one line per member and generation (Ray's own console output is off unless ``settings.ray_verbose``).

    Rerunning the same command after the driver was killed resumes from the last generation the
    whole population completed (population.csv only ever holds complete generations)."""
    dataset = member_lib.load_data(settings.member_settings()) if settings.backend == "trainer" else None
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
        write_json_atomic(settings_path, saved, allow_nan=True)
    if os.path.exists(os.path.join(output_dir, "summary.json")):
        return finish(settings, output_dir)            # finished before: outputs only
    Population(settings, output_dir, progress).run()
    return finish(settings, output_dir)


def hyperparameters_of(row: Mapping[str, object]) -> Dict[str, float]:
    """The searched values a population.csv row trained with."""
    return member_lib.searched_values(row)


def generation_bests(rows: List[dict]) -> List[float]:
    """Best finite score of every generation, in order (NaN where none is finite)."""
    bests = []
    for g in sorted({r["generation"] for r in rows}):
        finite = [float(r["score"]) for r in rows if r["generation"] == g and math.isfinite(float(r["score"]))]
        bests.append(max(finite) if finite else math.nan)
    return bests


class Population:
    """The synchronous PBT driver: one long-lived Ray actor per member (a :class:`member.Member`),
    generations run in lock-step, exploit/explore and stopping decided here from the paper's pure
    rules (:func:`plan_generation`, :func:`tfdisent.pbt.stopping.stop_reason`).

    Members need memory for the whole run but CPUs only while they train: actors reserve no CPU
    (``num_cpus=0``, spread over the nodes) and the driver trains at most
    ``cluster CPUs // cpus_per_member`` members at once.

    A member whose actor dies (its node was lost, its process killed: Ray's ``RayActorError``) is
    rebuilt on a live node from its own checkpoint in ``DIR/members/`` and trains the generation again;
    the population stays whole. ``max_restarts`` bounds that per run."""

    max_restarts = 3

    def __init__(self, settings: PBTSettings, output_dir: str, progress: Optional[Callable[[str], None]]):
        self.settings = settings
        self.output_dir = output_dir
        self.progress = progress
        self.member_settings = settings.member_settings()
        self.path = os.path.join(output_dir, records.POPULATION_FILE)

    def work_dir(self, member: int) -> str:
        return os.path.join(self.output_dir, records.MEMBERS_DIR, f"member_{member:03d}", "work")

    def run(self) -> None:
        import ray  # noqa: PLC0415

        self.actor_class = ray.remote(member_lib.Member)
        self.restarts = 0
        rows = records.read_population(self.path)
        generation = max((r["generation"] for r in rows), default=0)
        if generation:
            last = {r["member"]: r for r in rows if r["generation"] == generation}
            if stopping.stop_reason(generation_bests(rows), self.settings.generations, self.settings.convergence):
                return
            current = {m: hyperparameters_of(row) for m, row in last.items()}
            plan = plan_generation(self.settings, generation, {m: row["score"] for m, row in last.items()}, current)
            resume = {m: records.checkpoint_dir(self.output_dir, m, generation) for m in plan}
        else:
            current = dict(enumerate(self.settings.initial_population()))
            plan = {m: (hp, None) for m, hp in current.items()}
            resume = {}
        actors = {m: self.new_actor(m, current[m], resume.get(m)) for m in sorted(plan)}
        slots = max(1, int(ray.cluster_resources().get("CPU", 1) // self.settings.cpus_per_member))
        try:
            while True:
                calls = {}
                for m, (hyperparameters, donor) in sorted(plan.items()):
                    if donor is not None:    # actor calls run in order: the exploit precedes the training
                        calls[m] = actors[m].exploit.remote(
                            records.checkpoint_dir(self.output_dir, donor, generation), hyperparameters)
                    elif hyperparameters != current.get(m):
                        calls[m] = actors[m].set_hyperparameters.remote(hyperparameters)
                for m, call in calls.items():
                    try:
                        ray.get(call)
                    except ray.exceptions.RayActorError as error:   # its node died: rebuilt with the plan applied
                        actors[m] = self.recreate(m, plan[m], generation, error)
                current = {m: hp for m, (hp, _) in plan.items()}
                generation += 1
                results = self.train_generation(actors, plan, generation, slots)
                rows = records.merge_rows(rows, [records.row_from_result(r) for r in results])
                records.write_population(self.path, rows)       # a whole generation at once
                if stopping.stop_reason(generation_bests(rows), self.settings.generations,
                                        self.settings.convergence):
                    return
                plan = plan_generation(self.settings, generation, {r["member"]: r["fitness"] for r in results},
                                       current)
                for m in set(actors) - set(plan):                # the halved-away members
                    ray.kill(actors.pop(m))
        finally:
            for actor in actors.values():
                ray.kill(actor)

    def new_actor(self, member: int, hyperparameters: Mapping[str, float], checkpoint: Optional[str]):
        """A member's actor: no CPU reserved (the driver bounds how many train at once), spread over the
        nodes, not restarted by Ray (a restarted actor would lose its state: :meth:`recreate` rebuilds
        it from tfdisent's own checkpoint instead)."""
        options = {"num_cpus": 0, "scheduling_strategy": "SPREAD", "max_restarts": 0}
        return self.actor_class.options(**options).remote(self.member_settings, member, self.work_dir(member),
                                                          hyperparameters, checkpoint)

    def recreate(self, member: int, planned: Tuple[Mapping[str, float], Optional[int]], generation: int,
                 error: Exception):
        """A new actor for ``member`` whose actor died (e.g. with its node), in the state the plan for
        generation ``generation + 1`` asks: its own checkpoint of ``generation`` (none before the first)
        with the planned hyperparameters, then the donor's checkpoint if it copies one. Ray places it on a
        live node. At most :attr:`max_restarts` recreations per run; then :class:`MemberLostError`."""
        self.restarts += 1
        if self.restarts > self.max_restarts:
            raise MemberLostError(f"member {member}'s actor died in generation {generation + 1} and "
                                  f"{self.max_restarts} member actors were already recreated in this run "
                                  f"({type(error).__name__}); rerun the same command to resume from "
                                  f"generation {generation}") from None
        hyperparameters, donor = planned
        own = records.checkpoint_dir(self.output_dir, member, generation) if generation else None
        if own is not None and not os.path.isdir(own):
            own = None
        if self.progress is not None:
            self.progress(f"[pbt] member {member}'s actor died ({type(error).__name__}); recreating it "
                          f"from {'its generation ' + str(generation) + ' checkpoint' if own else 'its initial state'}"
                          f" ({self.restarts}/{self.max_restarts})")
        actor = self.new_actor(member, hyperparameters, own)
        if donor is not None:
            actor.exploit.remote(records.checkpoint_dir(self.output_dir, donor, generation), hyperparameters)
        return actor

    def train_generation(self, actors, plan, generation: int, slots: int) -> List[dict]:
        """Every live member's generation, at most ``slots`` at a time; a progress line per member. A
        member whose actor dies is recreated (:meth:`recreate`) and trains the generation again."""
        import ray  # noqa: PLC0415

        waiting = sorted(plan)
        running: Dict[object, int] = {}
        results = []
        while waiting or running:
            while waiting and len(running) < slots:
                m = waiting.pop(0)
                running[actors[m].run_generation.remote(
                    generation, plan[m][1], records.checkpoint_dir(self.output_dir, m, generation))] = m
            done, _ = ray.wait(list(running), num_returns=1)
            m = running.pop(done[0])
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayActorError as error:
                actors[m] = self.recreate(m, plan[m], generation - 1, error)
                waiting.insert(0, m)
                continue
            results.append(result)
            if self.progress is not None:
                self.progress(progress_line(records.row_from_result(result), self.settings.generations))
        return results


def finish(settings: PBTSettings, output_dir: str) -> dict:
    """Best model (across all generations), its lineage, TensorBoard scalars, plots, summary."""
    rows = records.read_population(os.path.join(output_dir, records.POPULATION_FILE))
    best = records.best_row(rows)
    summary = {"generations": max((r["generation"] for r in rows), default=0), "members": len({r["member"] for r in rows}),
               "rows": len(rows), "copies": sum(1 for r in rows if r["copied_from"] is not None),
               "best": None, "export": None}
    if best is not None:
        checkpoint = records.checkpoint_dir(output_dir, best["member"], best["generation"])
        best_dir = os.path.join(output_dir, "best")
        export = export_best(settings, checkpoint, best_dir) if os.path.isdir(checkpoint) else None
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
    write_json_atomic(os.path.join(output_dir, "summary.json"), summary, allow_nan=True)
    return summary
