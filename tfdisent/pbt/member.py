"""One PBT population member that lives for the whole run (Estermann et al. 2020, Sec. 2.2:
``step`` and ``eval`` here, exploit/explore decided by the driver, :mod:`tfdisent.pbt.runner`).

A :class:`Member` is built once (``models_per_member`` = 1, or 5 beta-TCVAEs for PBT-U-VAE: same
hyperparameters and batches, different initial weights) and then, per generation,
1. trains ``generation_samples / batch_size`` steps;
2. computes its fitness (:mod:`tfdisent.pbt.fitness`);
3. writes its checkpoint where the driver says (``DIR/members/member_<m>/generation_<g>``).
Between generations the driver may make it copy a donor's checkpoint (weights and optimizer
state, but its own data stream) and set explored hyperparameters — in place, no restart.

A member whose loss turns NaN/Inf is put back to its last good state and scored NaN (the worst
score, so truncation selection replaces it by a good member; the paper resets NaN members from
good ones instead of failing the run). A fitness that cannot be computed scores 0 and the reason
is recorded (``fitness_error``).

Backends: ``trainer`` (the library's :class:`tfdisent.training.Trainer`) and ``toy`` (a numpy
quadratic with the same interface, for testing the scheduling machinery in seconds).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from tfdisent.pbt import explore as explore_lib
from tfdisent.pbt import fitness as fitness_lib

META_FILE = "pbt_member.json"
NAN_SCORE = -1.0


def import_plugins_of(settings: Mapping[str, object]) -> None:
    """Imports the run's plugins (``plugins``, found in ``plugin_paths`` if this process lacks them)
    before a member builds anything: a Ray worker then knows the plugin's methods and datasets."""
    if settings.get("plugins"):
        from tfdisent.registry import import_plugins  # noqa: PLC0415

        import_plugins(list(settings["plugins"]), list(settings.get("plugin_paths") or ()))


def read_meta(directory: str) -> dict:
    with open(os.path.join(directory, META_FILE)) as stream:
        return json.load(stream)


# ----------------------------------------------------------------------------------------------
# Fitness data: fixed samples drawn once per process


def fixed_indices(num_points: int, population_size: int, seed: int) -> np.ndarray:
    """Positions in [0, population_size) drawn without replacement (with, if too few) from a fresh
    ``RandomState(seed)``: the same subset every generation, as the reference re-creates its
    RandomState at each evaluation."""
    random_state = np.random.RandomState(seed)
    num_points = int(num_points)
    return random_state.choice(population_size, size=num_points, replace=num_points > population_size)


def fixed_factors(dataset, num_points: int, seed: int) -> np.ndarray:
    """Factor rows of a fixed labelled subset of ``dataset`` (of its subset if it is one)."""
    from tfdisent.data import indices_to_factors  # noqa: PLC0415

    pool = getattr(dataset, "indices", None)
    if pool is not None:
        chosen = np.asarray(pool)[fixed_indices(num_points, len(pool), seed)]
    else:
        grid = int(np.prod(dataset.factor_sizes, dtype=np.int64))
        chosen = fixed_indices(num_points, grid, seed)
    return indices_to_factors(np.sort(chosen), dataset.factor_sizes)


def render(dataset, factors: np.ndarray, seed: int, chunk: int = 4096):
    """Yields observation chunks of ``factors`` (rendering all 50,000 at once would hold GBs)."""
    random_state = np.random.RandomState(seed)
    for start in range(0, len(factors), chunk):
        yield dataset.sample_observations_from_factors(factors[start:start + chunk], random_state)


def encode_factors(encode, dataset, factors: np.ndarray, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Encoder means and log-variances [N, d] (float64) of the observations of ``factors`` (rendered
    from ``seed``, chunk by chunk: :func:`render`), each chunk through the one batched-encoding helper,
    :func:`tfdisent.evaluation.encoding.encode_in_batches`."""
    from tfdisent.evaluation.encoding import encode_in_batches  # noqa: PLC0415

    pairs = [encode_in_batches(encode, observations) for observations in render(dataset, factors, seed)]
    return (np.concatenate([np.asarray(mean, np.float64) for mean, _ in pairs]),
            np.concatenate([np.asarray(logvar, np.float64) for _, logvar in pairs]))


_PROCESS_CACHE: Dict[tuple, object] = {}


def process_cached(key: tuple, build: Callable[[], object]):
    """``build()``, computed once per process and ``key``: a member's dataset, its fixed fitness factors
    and rPU-VAE's leaf labels are the same in every generation, and a Ray worker process hosts its
    member for the whole run, so they are loaded or drawn once, not per generation. Keys start with
    what they hold (``"data"``, ``"leaf"``, ``"mig_factors"``, ``"udr_factors"``)."""
    if key not in _PROCESS_CACHE:
        _PROCESS_CACHE[key] = build()
    return _PROCESS_CACHE[key]


def load_data(settings: Mapping[str, object]):
    """The member's dataset: ``load_dataset(dataset, data_dir)``, restricted to the stage's subset
    (``subset_path``, an .npy of flat grid indices) for rPU-VAE stages. Cached per process."""
    def build():
        import_plugins_of(settings)   # a plugin's dataset
        from tfdisent.data import load_dataset  # noqa: PLC0415
        from tfdisent.data.subset import IndexedSubset  # noqa: PLC0415

        kwargs = {"data_dir": settings["data_dir"]} if settings.get("data_dir") else {}
        dataset = load_dataset(str(settings.get("dataset", "dsprites")), **kwargs)
        if settings.get("subset_path"):
            dataset = IndexedSubset(dataset, np.load(str(settings["subset_path"])))
        return dataset

    return process_cached(("data", settings.get("dataset"), settings.get("data_dir"), settings.get("subset_path")),
                          build)


def load_leaf_runs(path: str, num_points: int, seed: int) -> List[List[Tuple[np.ndarray, np.ndarray]]]:
    """rPU-VAE's surrogate labels for leaf-MIG: per leaf run, per level, (flat grid indices [n],
    surrogate labels [n, a]) of a fixed sample of at most ``num_points`` of that level's data.

    ``path`` is the JSON written by :func:`tfdisent.pbt.rpu.write_leaf_manifest`."""
    def build():
        with open(path) as stream:
            manifest = json.load(stream)
        base = os.path.dirname(os.path.abspath(path))
        runs = []
        for leaf in manifest["leaf_runs"]:
            levels = []
            for level in leaf:
                indices = np.load(os.path.join(base, level["indices"]))
                labels = np.load(os.path.join(base, level["labels"]))
                keep = np.sort(fixed_indices(min(num_points, len(indices)), len(indices), seed))
                levels.append((indices[keep], labels[keep]))
            runs.append(levels)
        return runs

    return process_cached(("leaf", path, num_points, seed), build)


@dataclasses.dataclass(frozen=True)
class MemberFitness:
    """A member's fitness in one generation: ``score`` (0 when it could not be computed, NaN after a
    non-finite training loss), ``error`` (why, in one line; "" when the score is good) and ``details``
    for population.csv and the checkpoint's record (``best_model``, UDR's per-model scores, ...)."""

    score: float
    error: str
    details: Dict[str, object]


def compute_fitness(settings: Mapping[str, object], encoders) -> MemberFitness:
    """The fitness of a member with encoder functions ``x -> (mean, logvar)`` (one per lock-step model)."""
    name = settings["fitness"]
    dataset = load_data(settings)
    seed = int(settings.get("fitness_seed", 0))
    if fitness_lib.NEEDS_LABELS.get(name):  # mig and the other labelled scores share the fixed subset
        num_labels = int(settings["num_labels"])
        factors = process_cached(("mig_factors", id(dataset), num_labels, seed),
                                 lambda: fixed_factors(dataset, num_labels, seed))
        means = [encode_factors(encode, dataset, factors, seed + 1)[0] for encode in encoders]
        results = [fitness_lib.guarded(fitness_lib.labelled_fitness, name, mean, factors) for mean in means]
        best = int(np.argmax([r.score for r in results]))
        return MemberFitness(results[best].score, results[best].error, {"best_model": best})
    if name == "udr":
        udr_points = int(settings.get("udr_points", fitness_lib.UDR_POINTS))
        factors = process_cached(("udr_factors", id(dataset), udr_points, seed),
                                 lambda: fixed_factors(dataset, udr_points, seed))
        means, kls = [], []
        from tfdisent.metrics.udr import gaussian_kl_per_dimension  # noqa: PLC0415

        for encode in encoders:
            mean, logvar = encode_factors(encode, dataset, factors, seed + 1)
            means.append(mean)
            kls.append(gaussian_kl_per_dimension(mean, logvar))
        guarded = fitness_lib.guarded(fitness_lib.udr_fitness, means, kls, float(settings.get("kl_threshold", 0.01)))
        model_scores = list(guarded.result[1]) if guarded.result else [0.0] * len(encoders)
        return MemberFitness(guarded.score, guarded.error,
                             {"best_model": int(np.argmax(model_scores)), "udr_model_scores": model_scores,
                              "active_latents": [int(np.sum(kl > 1.0)) for kl in kls]})
    if name == "leaf_mig":
        runs = load_leaf_runs(str(settings["leaf_manifest"]),
                              int(settings.get("leaf_points", fitness_lib.LEAF_POINTS)), seed)
        from tfdisent.data import indices_to_factors  # noqa: PLC0415

        scores = []
        for encode in encoders:
            leaf_inputs = []
            for levels in runs:
                codes = [encode_factors(encode, dataset, indices_to_factors(indices, dataset.factor_sizes),
                                        seed + 1)[0] for indices, _ in levels]
                leaf_inputs.append((codes, [labels for _, labels in levels]))
            scores.append(fitness_lib.guarded(fitness_lib.leaf_mig_fitness, leaf_inputs))
        best = int(np.argmax([s.score for s in scores]))
        return MemberFitness(scores[best].score, scores[best].error, {"best_model": best})
    raise ValueError(f"unknown fitness {name!r}; choose from {', '.join(fitness_lib.FITNESSES)}")


# ----------------------------------------------------------------------------------------------
# Backends


class TrainerMember:
    """K :class:`tfdisent.training.Trainer` s in lock-step (same config except ``seed``, same
    ``data_seed``), each an ordinary run directory ``<trial_dir>/model_<k>``.

    With K > 1 (PBT-U-VAE) the K models train fused, one compiled call per interval on shared
    batches (:class:`tfdisent.training.LockstepTrainers`); the group is rebuilt when the batch size
    changes (explore, or a restored checkpoint of another batch size), since the shared iterator
    and the traced loop belong to one batch shape. ``fused=False`` trains them one after another
    (the comparison in benchmarks/pbt_overhead.py)."""

    def __init__(self, settings: Mapping[str, object], member: int, trial_dir: str,
                 hyperparameters: Mapping[str, float], fused: bool = True):
        from tfdisent.methods import pbt_hyperparameter  # noqa: PLC0415
        from tfdisent.training import TrainConfig, Trainer  # noqa: PLC0415

        self.settings = dict(settings)
        method = str(settings.get("method", "beta_tcvae"))
        # The method hyperparameter PBT searches under the name "beta" (the method class declares it).
        self.strength = pbt_hyperparameter(method)
        dataset = load_data(settings)
        base_seed = int(settings.get("seed", 0))
        models = int(settings.get("models_per_member", 1))
        data_seed = explore_lib.member_seed(base_seed, member, 0, stream=1)
        method_hyperparameters = dict(settings.get("method_hyperparameters") or {})
        if self.strength:
            method_hyperparameters[self.strength] = float(hyperparameters["beta"])
        self.trainers = []
        for k in range(models):
            config = TrainConfig(
                method=method, dataset=str(settings.get("dataset", "dsprites")), data_dir=settings.get("data_dir"),
                architecture=str(settings.get("architecture", "auto")), latent_dim=int(settings.get("latent_dim", 10)),
                steps=10 ** 9, batch_size=int(hyperparameters["batch_size"]),
                learning_rate=float(hyperparameters["learning_rate"]),
                seed=explore_lib.member_seed(base_seed, member, k), data_seed=data_seed,
                hyperparameters=method_hyperparameters, checkpoint_every=10 ** 9, checkpoint_secs=10.0 ** 9,
                log_every=int(settings.get("log_every", 50)), image_every=0,
                eval_batches=int(settings.get("eval_batches", 10)), export=False,
                precision=str(settings.get("precision", "float32")))
            trainer = Trainer(config, os.path.join(trial_dir, f"model_{k}"), dataset=dataset)
            trainer.restore_or_initialize()
            self.trainers.append(trainer)
        self.fused = bool(fused) and len(self.trainers) > 1
        self._group, self._group_stream = None, None
        # The last good state (a complete save(path) of every model) that recover() returns to.
        self.good_dir = os.path.join(trial_dir, "last_good")
        self._copy_good(None)

    def restore(self, directory: str, own: bool) -> None:
        for k, trainer in enumerate(self.trainers):
            trainer.restore(os.path.join(directory, f"model_{k}"), data=own)
        self._copy_good(directory)

    def _copy_good(self, directory: Optional[str]) -> None:
        shutil.rmtree(self.good_dir, ignore_errors=True)
        if directory is None:
            for k, trainer in enumerate(self.trainers):
                trainer.save(os.path.join(self.good_dir, f"model_{k}"))
        else:
            shutil.copytree(directory, self.good_dir)

    def set_hyperparameters(self, hyperparameters: Mapping[str, float]) -> None:
        values = {"learning_rate": float(hyperparameters["learning_rate"]),
                  "batch_size": int(hyperparameters["batch_size"])}
        if self.strength:
            values[self.strength] = float(hyperparameters["beta"])
        for trainer in self.trainers:
            trainer.set_hyperparameters(**values)

    def train_generation(self, steps: int) -> Dict[str, float]:
        """``steps`` steps of every lock-step model: fused, or alternating in chunks of ``log_every``."""
        from tfdisent.training import NonFiniteLossError  # noqa: PLC0415

        if self.fused:
            try:
                logs = self.group().train_steps(steps)
            except NonFiniteLossError as error:
                raise FloatingPointError(str(error)) from error
            losses = [float(entry.get("loss", math.nan)) for entry in logs]
            return {"train_loss": float(np.mean(losses))}
        chunk = max(1, int(self.settings.get("log_every", 50)))
        logs: List[Dict[str, float]] = []
        done = 0
        while done < steps:
            count = min(chunk, steps - done)
            for trainer in self.trainers:
                try:
                    logs.append(dict(trainer.train_steps(count)))
                except NonFiniteLossError as error:
                    raise FloatingPointError(str(error)) from error
            done += count
        losses = [float(entry.get("loss", math.nan)) for entry in logs]
        return {"train_loss": float(np.mean(losses)) if losses else math.nan}

    def group(self):
        """The fused group for the current data stream (built again after a batch-size change: the
        trainers' own streams were rebuilt for the new shape and must be shared again)."""
        from tfdisent.training import LockstepTrainers  # noqa: PLC0415

        stream = self.trainers[0].iterator    # replaced exactly when a batch-size change rebuilt the streams
        if self._group is None or self._group_stream is not stream:
            self._group, self._group_stream = LockstepTrainers(self.trainers), stream
        return self._group

    def recover(self) -> None:
        """Back to every model's last good state (last report, restored checkpoint or start)."""
        for k, trainer in enumerate(self.trainers):
            trainer.restore(os.path.join(self.good_dir, f"model_{k}"), data=True)

    def encoders(self):
        """``x -> (mean, logvar)`` of every model's current encoder in inference mode (the public
        ``Trainer.model``; no export per generation); :func:`encode_factors` batches the calls."""
        from tfdisent.evaluation.encoding import keras_encoder_function  # noqa: PLC0415

        return [keras_encoder_function(trainer.model.encoder) for trainer in self.trainers]

    def save(self, directory: str) -> None:
        for k, trainer in enumerate(self.trainers):
            trainer.save(os.path.join(directory, f"model_{k}"))
        self._copy_good(directory)

    @property
    def step(self) -> int:
        return int(self.trainers[0].step)


class ToyMember:
    """A numpy stand-in with the member interface: weights ``w`` [K, 3] move towards a target at
    rate ``learning_rate`` per step (Adam-like ``m`` state), NaN when the rate exceeds 1; fitness
    ``exp(-|w - target|)`` of the best model. For scheduler tests only (no TensorFlow)."""

    TARGET = np.array([1.0, -2.0, 0.5])

    def __init__(self, settings: Mapping[str, object], member: int, trial_dir: str,
                 hyperparameters: Mapping[str, float]):
        self.settings = dict(settings)
        rng = np.random.RandomState(explore_lib.member_seed(int(settings.get("seed", 0)), member))
        self.w = rng.normal(size=(int(settings.get("models_per_member", 1)), 3))
        self.m = np.zeros_like(self.w)
        self.step = 0
        self.hyperparameters = dict(hyperparameters)
        self.good = (self.w.copy(), self.m.copy(), self.step)

    def restore(self, directory: str, own: bool) -> None:
        state = np.load(os.path.join(directory, "toy.npz"))
        self.w, self.m, self.step = state["w"], state["m"], int(state["step"])
        self.good = (self.w.copy(), self.m.copy(), self.step)

    def set_hyperparameters(self, hyperparameters: Mapping[str, float]) -> None:
        self.hyperparameters = dict(hyperparameters)

    def train_generation(self, steps: int) -> Dict[str, float]:
        rate = float(self.hyperparameters["learning_rate"])
        time.sleep(float(self.settings.get("toy_delay", 0.0)))  # lets tests kill a driver mid-run
        for _ in range(steps):
            gradient = self.w - self.TARGET
            self.m = 0.5 * self.m + gradient
            self.w = self.w - rate * gradient
            self.step += 1
        if rate > 1.0 or not np.isfinite(self.w).all():
            raise FloatingPointError("toy loss diverged")
        return {"train_loss": float(np.mean((self.w - self.TARGET) ** 2))}

    def recover(self) -> None:
        self.w, self.m, self.step = (self.good[0].copy(), self.good[1].copy(), self.good[2])

    def toy_fitness(self) -> MemberFitness:
        scores = np.exp(-np.abs(self.w - self.TARGET).sum(axis=1))
        return MemberFitness(float(scores.max()), "", {"best_model": int(np.argmax(scores))})

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        np.savez(os.path.join(directory, "toy.npz"), w=self.w, m=self.m, step=self.step)
        self.good = (self.w.copy(), self.m.copy(), self.step)


BACKENDS = {"trainer": TrainerMember, "toy": ToyMember}


def member_fitness(backend, settings: Mapping[str, object]) -> MemberFitness:
    if isinstance(backend, ToyMember):
        return backend.toy_fitness()
    return compute_fitness(settings, backend.encoders())


def searched_values(values: Mapping[str, object]) -> Dict[str, float]:
    """The searched hyperparameters (learning rate, batch size, beta) of a mapping, typed."""
    return {"learning_rate": float(values["learning_rate"]), "batch_size": int(values["batch_size"]),
            "beta": float(values["beta"])}


def save_checkpoint(backend, directory: str, meta: Mapping[str, object]) -> str:
    """Writes the member's state and ``pbt_member.json`` to ``directory`` atomically (into a
    sibling, then renamed): a driver killed mid-save leaves no half-written checkpoint."""
    scratch = directory + ".partial"
    shutil.rmtree(scratch, ignore_errors=True)
    backend.save(scratch)
    with open(os.path.join(scratch, META_FILE), "w") as stream:
        json.dump(dict(meta), stream, default=float)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(scratch, directory)
    return directory


class Member:
    """One population member for the whole run (Estermann et al. 2020, Sec. 2.2: ``step``, ``eval``;
    exploit/explore are applied by the driver, :mod:`tfdisent.pbt.runner`).

    It keeps its backend (Trainers, data pipeline, traced step) across generations: an exploit
    restores the donor's checkpointed weights and optimizer state into the same Trainers (its own
    data stream stays) and sets the explored hyperparameters (variables read by the compiled step:
    no rebuild, no retrace unless the batch size changes). The driver runs it as a Ray actor; it is
    an ordinary class, so the tests run it in-process too.

    ``work_dir`` is scratch (the Trainers' run directories and last-good state); the generation
    checkpoints are written where the driver says (tfdisent's records, not Ray's storage)."""

    def __init__(self, settings: Mapping[str, object], member: int, work_dir: str,
                 hyperparameters: Mapping[str, float], checkpoint: Optional[str] = None):
        self.settings = dict(settings)
        self.member = int(member)
        if str(self.settings.get("backend", "trainer")) == "trainer":
            # imported here: tfdisent.training imports TensorFlow, which the toy backend's actors never need
            from tfdisent.training.resources import configure_tensorflow  # noqa: PLC0415
            configure_tensorflow(float(self.settings.get("cpus_per_member", 1.0)))
        import_plugins_of(self.settings)
        shutil.rmtree(work_dir, ignore_errors=True)      # scratch of an earlier attempt
        self.hyperparameters = searched_values(hyperparameters)
        self.backend = BACKENDS[str(self.settings.get("backend", "trainer"))](self.settings, self.member, work_dir,
                                                                          self.hyperparameters)
        if checkpoint:                                    # resume: its own state, data stream included
            self.backend.restore(checkpoint, own=True)
        self.backend.set_hyperparameters(self.hyperparameters)

    def exploit(self, donor_checkpoint: str, hyperparameters: Mapping[str, float]) -> None:
        """Truncation selection's copy (weights and optimizer state, not the data stream) and the
        explored hyperparameters."""
        self.backend.restore(donor_checkpoint, own=False)
        self.set_hyperparameters(hyperparameters)

    def set_hyperparameters(self, hyperparameters: Mapping[str, float]) -> None:
        self.hyperparameters = searched_values(hyperparameters)
        self.backend.set_hyperparameters(self.hyperparameters)

    def run_generation(self, generation: int, copied_from: Optional[int], checkpoint: str) -> Dict[str, object]:
        """Trains one generation (``generation_samples / batch_size`` steps), scores it, writes
        the checkpoint and returns the population.csv fields. A non-finite loss puts the member
        back to its last good state and scores NaN (the driver's truncation selection then
        replaces it: the paper resets NaN members from good ones instead of failing)."""
        hyperparameters = self.hyperparameters
        steps = max(1, int(self.settings["generation_samples"]) // int(hyperparameters["batch_size"]))
        start = time.time()
        nan = False
        try:
            logs = self.backend.train_generation(steps)
        except FloatingPointError:
            nan = True
            self.backend.recover()
            self.backend.set_hyperparameters(hyperparameters)
            logs = {"train_loss": math.nan}
        trained = time.time() - start
        if nan:
            fitness = MemberFitness(math.nan, "non-finite training loss", {"best_model": 0})
        else:
            fitness = member_fitness(self.backend, self.settings)
        score, error, details = fitness.score, fitness.error, fitness.details
        meta = {"member": self.member, "generation": int(generation), "score": score,
                "hyperparameters": hyperparameters, "copied_from": copied_from, "nan": nan,
                "method": self.settings.get("method", "beta_tcvae"),
                "models_per_member": int(self.settings.get("models_per_member", 1)), **details}
        save_checkpoint(self.backend, checkpoint, meta)
        if error:
            print(f"pbt member {self.member} generation {generation}: fitness scored 0: {error}", flush=True)
        return {"member": self.member, "generation": int(generation), "fitness": float(score),
                "copied_from": copied_from, "nan": nan, "fitness_error": error, "steps": steps,
                "wall_seconds": time.time() - start, "train_seconds": trained, **hyperparameters, **logs,
                **{k: v for k, v in details.items() if isinstance(v, (int, float))}}
