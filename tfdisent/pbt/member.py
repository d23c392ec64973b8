"""One PBT population member as a Ray Tune function trainable (Estermann et al. 2020, Sec. 2.2:
``step``, ``eval``, then exploit/explore by the scheduler).

Per generation the trainable
1. builds its model(s) from the trial config (``models_per_member`` = 1, or 5 lock-step
   beta-TCVAEs for PBT-U-VAE: same hyperparameters and batches, different initial weights);
2. restores the checkpoint Ray hands over (``tune.get_checkpoint()``): its own (after a pause:
   weights, optimizer state and data stream) or a donor's after truncation selection (weights and
   optimizer state, but its own data stream);
3. applies the trial's (possibly explored) hyperparameters with ``set_hyperparameters``;
4. trains one generation = ``generation_samples / batch_size`` steps;
5. computes its fitness (:mod:`tfdisent.pbt.fitness`) and reports it with a checkpoint.

A member whose loss turns NaN/Inf is put back to its last good state and reported with score -1
(below every fitness, so truncation selection replaces it by a good member; the paper resets NaN
members from good ones instead of failing the run). A fitness that cannot be computed scores 0
and the reason is reported (``fitness_error``).

Backends: ``trainer`` (the library's :class:`tfdisent.training.Trainer`) and ``toy`` (a numpy
quadratic with the same interface, for testing the scheduling machinery in seconds).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from tfdisent.pbt import explore as explore_lib
from tfdisent.pbt import fitness as fitness_lib
from tfdisent.training.resources import configure_tensorflow

META_FILE = "pbt_member.json"
NAN_SCORE = -1.0


def import_static_plugins(static: Mapping[str, object]) -> None:
    """Imports the run's plugins (``plugins``, found in ``plugin_paths`` if this process lacks them)
    before a member builds anything: a Ray worker then knows the plugin's methods and datasets."""
    if static.get("plugins"):
        from tfdisent.registry import import_plugins  # noqa: PLC0415

        import_plugins(list(static["plugins"]), list(static.get("plugin_paths") or ()))


def member_id_from_trial(trial_id: str) -> int:
    """Ray Tune trial ids end in the trial's index (``'3f2a1_00004'`` -> 4): the member id."""
    return int(str(trial_id).rsplit("_", 1)[-1])


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


def encode_all(encode, dataset, factors: np.ndarray, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    means, logvars = [], []
    for observations in render(dataset, factors, seed):
        mean, logvar = encode(observations)
        means.append(np.asarray(mean))
        logvars.append(np.asarray(logvar))
    return np.concatenate(means), np.concatenate(logvars)


_CACHE: Dict[tuple, object] = {}


def load_data(static: Mapping[str, object]):
    """The member's dataset: ``load_dataset(dataset, data_dir)``, restricted to the stage's subset
    (``subset_path``, an .npy of flat grid indices) for rPU-VAE stages. Cached per process."""
    key = ("data", static.get("dataset"), static.get("data_dir"), static.get("subset_path"))
    if key not in _CACHE:
        import_static_plugins(static)   # a plugin's dataset
        from tfdisent.data import load_dataset  # noqa: PLC0415
        from tfdisent.data.subset import IndexedSubset  # noqa: PLC0415

        kwargs = {"data_dir": static["data_dir"]} if static.get("data_dir") else {}
        dataset = load_dataset(str(static.get("dataset", "dsprites")), **kwargs)
        if static.get("subset_path"):
            dataset = IndexedSubset(dataset, np.load(str(static["subset_path"])))
        _CACHE[key] = dataset
    return _CACHE[key]


def load_leaf_runs(path: str, num_points: int, seed: int) -> List[List[Tuple[np.ndarray, np.ndarray]]]:
    """rPU-VAE's surrogate labels for leaf-MIG: per leaf run, per level, (flat grid indices [n],
    surrogate labels [n, a]) of a fixed sample of at most ``num_points`` of that level's data.

    ``path`` is the JSON written by :func:`tfdisent.pbt.rpu.write_leaf_manifest`."""
    key = ("leaf", path, num_points, seed)
    if key not in _CACHE:
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
        _CACHE[key] = runs
    return _CACHE[key]


def compute_fitness(static: Mapping[str, object], encoders) -> Tuple[float, str, dict]:
    """``(score, error, details)`` of a member with encoder functions ``x -> (mean, logvar)``."""
    name = static["fitness"]
    dataset = load_data(static)
    seed = int(static.get("fitness_seed", 0))
    if fitness_lib.NEEDS_LABELS.get(name):  # mig and the other labelled scores share the fixed subset
        key = ("mig_factors", id(dataset), int(static["num_labels"]), seed)
        if key not in _CACHE:
            _CACHE[key] = fixed_factors(dataset, int(static["num_labels"]), seed)
        factors = _CACHE[key]
        means = [encode_all(encode, dataset, factors, seed + 1)[0] for encode in encoders]
        results = [fitness_lib.guarded(fitness_lib.labelled_fitness, name, mean, factors) for mean in means]
        best = int(np.argmax([r[0] for r in results]))
        return results[best][0], results[best][2], {"best_model": best}
    if name == "udr":
        key = ("udr_factors", id(dataset), int(static.get("udr_points", fitness_lib.UDR_POINTS)), seed)
        if key not in _CACHE:
            _CACHE[key] = fixed_factors(dataset, int(static.get("udr_points", fitness_lib.UDR_POINTS)), seed)
        factors = _CACHE[key]
        means, kls = [], []
        from tfdisent.metrics.udr import gaussian_kl_per_dimension  # noqa: PLC0415

        for encode in encoders:
            mean, logvar = encode_all(encode, dataset, factors, seed + 1)
            means.append(mean)
            kls.append(gaussian_kl_per_dimension(mean, logvar))
        score, result, error = fitness_lib.guarded(fitness_lib.udr_fitness, means, kls,
                                                   float(static.get("kl_threshold", 0.01)))
        model_scores = list(result[1]) if result else [0.0] * len(encoders)
        return score, error, {"best_model": int(np.argmax(model_scores)), "udr_model_scores": model_scores,
                              "active_latents": [int(np.sum(kl > 1.0)) for kl in kls]}
    if name == "leaf_mig":
        runs = load_leaf_runs(str(static["leaf_manifest"]), int(static.get("leaf_points", fitness_lib.LEAF_POINTS)),
                              seed)
        scores = []
        for encode in encoders:
            leaf_inputs = []
            for levels in runs:
                codes = []
                for indices, _ in levels:
                    from tfdisent.data import indices_to_factors  # noqa: PLC0415

                    factors = indices_to_factors(indices, dataset.factor_sizes)
                    codes.append(encode_all(encode, dataset, factors, seed + 1)[0])
                leaf_inputs.append((codes, [labels for _, labels in levels]))
            scores.append(fitness_lib.guarded(fitness_lib.leaf_mig_fitness, leaf_inputs))
        best = int(np.argmax([s[0] for s in scores]))
        return scores[best][0], scores[best][2], {"best_model": best}
    raise ValueError(f"unknown fitness {name!r}; choose from {', '.join(fitness_lib.FITNESSES)}")


# ----------------------------------------------------------------------------------------------
# Backends


class TrainerMember:
    """K :class:`tfdisent.training.Trainer` s in lock-step (same config except ``seed``, same
    ``data_seed``), each an ordinary run directory ``<trial_dir>/model_<k>``."""

    def __init__(self, static: Mapping[str, object], member: int, trial_dir: str,
                 hyperparameters: Mapping[str, float]):
        from tfdisent.methods import pbt_hyperparameter  # noqa: PLC0415
        from tfdisent.training import TrainConfig, Trainer  # noqa: PLC0415

        self.static = dict(static)
        method = str(static.get("method", "beta_tcvae"))
        # The method hyperparameter PBT searches under the name "beta" (the method class declares it).
        self.strength = pbt_hyperparameter(method)
        dataset = load_data(static)
        base_seed = int(static.get("seed", 0))
        models = int(static.get("models_per_member", 1))
        data_seed = explore_lib.member_seed(base_seed, member, 0, stream=1)
        method_hparams = dict(static.get("method_hyperparameters") or {})
        if self.strength:
            method_hparams[self.strength] = float(hyperparameters["beta"])
        self.trainers = []
        for k in range(models):
            config = TrainConfig(
                method=method, dataset=str(static.get("dataset", "dsprites")), data_dir=static.get("data_dir"),
                architecture=str(static.get("architecture", "auto")), latent_dim=int(static.get("latent_dim", 10)),
                steps=10 ** 9, batch_size=int(hyperparameters["batch_size"]),
                learning_rate=float(hyperparameters["learning_rate"]),
                seed=explore_lib.member_seed(base_seed, member, k), data_seed=data_seed,
                hyperparameters=method_hparams, checkpoint_every=10 ** 9, checkpoint_secs=10.0 ** 9,
                log_every=int(static.get("log_every", 50)), image_every=0,
                eval_batches=int(static.get("eval_batches", 10)), export=False,
                precision=str(static.get("precision", "float32")))
            trainer = Trainer(config, os.path.join(trial_dir, f"model_{k}"), dataset=dataset)
            trainer.restore_or_initialize()
            self.trainers.append(trainer)
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
        """``steps`` steps of every lock-step model, alternating in chunks of ``log_every``."""
        from tfdisent.training import NonFiniteLossError  # noqa: PLC0415

        chunk = max(1, int(self.static.get("log_every", 50)))
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

    def recover(self) -> None:
        """Back to every model's last good state (last report, restored checkpoint or start)."""
        for k, trainer in enumerate(self.trainers):
            trainer.restore(os.path.join(self.good_dir, f"model_{k}"), data=True)

    def encoders(self):
        return [trainer_encoder(trainer) for trainer in self.trainers]

    def save(self, directory: str) -> None:
        for k, trainer in enumerate(self.trainers):
            trainer.save(os.path.join(directory, f"model_{k}"))
        self._copy_good(directory)

    @property
    def step(self) -> int:
        return int(self.trainers[0].step)


def trainer_encoder(trainer):
    """``x -> (mean, logvar)`` of a trainer's current encoder, in inference mode, in batches.

    Uses the public ``Trainer.model`` (a keras Model with an ``encoder``); no export per generation."""
    encoder = trainer.model.encoder

    def encode(observations: np.ndarray):
        means, logvars = [], []
        for start in range(0, len(observations), 512):
            mean, logvar = encoder(np.asarray(observations[start:start + 512], np.float32), training=False)
            means.append(np.asarray(mean, np.float64))
            logvars.append(np.asarray(logvar, np.float64))
        return np.concatenate(means), np.concatenate(logvars)

    return encode


class ToyMember:
    """A numpy stand-in with the member interface: weights ``w`` [K, 3] move towards a target at
    rate ``learning_rate`` per step (Adam-like ``m`` state), NaN when the rate exceeds 1; fitness
    ``exp(-|w - target|)`` of the best model. For scheduler tests only (no TensorFlow)."""

    TARGET = np.array([1.0, -2.0, 0.5])

    def __init__(self, static: Mapping[str, object], member: int, trial_dir: str,
                 hyperparameters: Mapping[str, float]):
        self.static = dict(static)
        rng = np.random.RandomState(explore_lib.member_seed(int(static.get("seed", 0)), member))
        self.w = rng.normal(size=(int(static.get("models_per_member", 1)), 3))
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
        time.sleep(float(self.static.get("toy_delay", 0.0)))  # lets tests kill a driver mid-run
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

    def toy_fitness(self) -> Tuple[float, str, dict]:
        scores = np.exp(-np.abs(self.w - self.TARGET).sum(axis=1))
        return float(scores.max()), "", {"best_model": int(np.argmax(scores))}

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        np.savez(os.path.join(directory, "toy.npz"), w=self.w, m=self.m, step=self.step)
        self.good = (self.w.copy(), self.m.copy(), self.step)


BACKENDS = {"trainer": TrainerMember, "toy": ToyMember}


def member_fitness(backend, static: Mapping[str, object]) -> Tuple[float, str, dict]:
    if isinstance(backend, ToyMember):
        return backend.toy_fitness()
    return compute_fitness(static, backend.encoders())


def searched_values(config: Mapping[str, object]) -> Dict[str, float]:
    """The searched hyperparameters of a trial config (``config["hp"]``)."""
    values = config["hp"]
    return {"learning_rate": float(values["learning_rate"]), "batch_size": int(values["batch_size"]),
            "beta": float(values["beta"])}


def run_generations(config: Mapping[str, object], member: int, trial_dir: str, checkpoint_dir: Optional[str],
                    report) -> None:
    """The trainable's body, independent of Ray: ``report(metrics, checkpoint_directory)`` is called
    once per generation (Ray's ``tune.report``; a plain function in the in-process tests)."""
    static = dict(config["pbt"])
    hyperparameters = searched_values(config)
    backend = BACKENDS[str(static.get("backend", "trainer"))](static, member, trial_dir, hyperparameters)
    generation, copied_from = 0, None
    if checkpoint_dir:
        meta = read_meta(checkpoint_dir)
        own = int(meta["member"]) == member
        backend.restore(checkpoint_dir, own=own)
        generation = int(meta["generation"])
        copied_from = None if own else int(meta["member"])
    backend.set_hyperparameters(hyperparameters)
    max_generations = static.get("max_generations")
    while max_generations is None or generation < int(max_generations):
        steps = max(1, int(static["generation_samples"]) // int(hyperparameters["batch_size"]))
        start = time.time()
        nan = False
        try:
            logs = backend.train_generation(steps)
        except FloatingPointError:
            nan = True
            backend.recover()
            backend.set_hyperparameters(hyperparameters)
            logs = {"train_loss": math.nan}
        generation += 1
        if nan:
            score, error, details = math.nan, "non-finite training loss", {"best_model": 0}
        else:
            score, error, details = member_fitness(backend, static)
        scratch = tempfile.mkdtemp(prefix="pbt_ckpt_")
        backend.save(scratch)
        meta = {"member": member, "generation": generation, "score": score, "hyperparameters": hyperparameters,
                "copied_from": copied_from, "nan": nan, "method": static.get("method", "beta_tcvae"),
                "models_per_member": int(static.get("models_per_member", 1)), **details}
        with open(os.path.join(scratch, META_FILE), "w") as stream:
            json.dump(meta, stream, default=float)
        metrics = {"score": NAN_SCORE if nan else float(score), "fitness": float(score), "member": member,
                   "generation": generation, "copied_from": -1 if copied_from is None else copied_from,
                   "nan": nan, "fitness_error": error, "steps": steps,
                   "wall_seconds": time.time() - start, **hyperparameters, **logs,
                   **{k: v for k, v in details.items() if isinstance(v, (int, float))}}
        if error:
            print(f"pbt member {member} generation {generation}: fitness scored 0: {error}", flush=True)
        report(metrics, scratch)
        copied_from = None


def trainable(config: Dict[str, object]) -> None:
    """The Ray Tune function trainable (see module docstring)."""
    from ray import tune  # noqa: PLC0415

    context = tune.get_context()
    index = member_id_from_trial(context.get_trial_id())
    static = config["pbt"]
    configure_tensorflow(float(static.get("cpus_per_member", 1.0)))
    import_static_plugins(static)
    # A resumed run (runner.resume_points) numbers its trials 0.. but keeps the members' ids, and
    # starts each from the member's last checkpoint of the killed run.
    member = int(static["member_ids"][index]) if static.get("member_ids") else index
    resume = (static.get("resume_checkpoints") or {}).get(str(index))
    trial_dir = context.get_trial_dir()

    def report(metrics, directory):
        try:
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        run_generations(config, member, trial_dir, resume, report)
    else:
        with checkpoint.as_directory() as directory:
            local = tempfile.mkdtemp(prefix="pbt_restore_")
            shutil.copytree(directory, local, dirs_exist_ok=True)
        try:
            run_generations(config, member, trial_dir, local, report)
        finally:
            shutil.rmtree(local, ignore_errors=True)
