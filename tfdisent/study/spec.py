"""Studies as data: a JSON study file, its grid expanded into numbered models, and filters.

A study file (``flags/studies/<name>.json``) declares::

    {"name": "unsupervised_study_v1",
     "description": "...",
     "datasets": ["dsprites", "color_dsprites", ...],          # outermost loop
     "data_dirs": {"smallnorb": "/data/smallnorb"},             # optional, per dataset
     "seeds": {"start": 0, "stop": 50},                         # or a list [0, 1, 2]
     "train": {"steps": 300000, "batch_size": 64, ...},         # TrainConfig fields shared by all models
     "configs": [                                               # in order; each expands to a grid
        {"method": "beta_vae", "grid": {"beta": [1, 2, 4, 6, 8, 16]}},
        {"method": "factor_vae", "grid": {"gamma": [10, 20]}, "steps_factor": 0.5,
         "note": "two global steps per iteration in the reference"},
        {"method": "dip_vae_i", "fixed": {"lambda_d_factor": 10}, "grid": {"lambda_od": [1, 2]}},
        {"name": "pretrain", "method": "vae", "train": {"steps": 10000}},
        {"method": "beta_tcvae", "grid": {"beta": [2]}, "init_from": "pretrain"}],
     "evaluation": {"representations": ["mean", "sampled"], "seed": 0,
                    "metrics": ["mig", "dci"], "settings": {"dci": {"num_train": 1000}}},
     "plugins": ["my_pkg.tfdisent_plugin"]}                     # optional: modules imported first,
                                                                # here and in every Ray trial

Each entry of ``configs`` expands to the product of its ``grid`` values (keys in file order), so the
study has C configurations; with D datasets and S seeds the models are numbered as
disentanglement_lib's ``unsupervised_study_v1`` numbers its 12,600 models
(``config/unsupervised_study_v1/sweep.py``; Locatello et al. 2019)::

    model_num = dataset_index * (C * S) + config_index * S + seed_index

``steps_factor`` scales the study's steps for one entry (FactorVAE's reference models counted two
global steps per iteration, so they got half the VAE updates). ``init_from`` names another entry: each of
this entry's models warm-starts (encoder and decoder) from the model of that entry with the same
dataset and seed (Abdi et al. 2019, Sec. 2.1); the runner trains those first.

Filters never renumber: ``--only``/``--seeds`` select a subset of the numbered models.

Training-distribution protocols (issue 20) are training settings: ``correlated_factors`` with
``correlation_strength`` (Träuble et al. 2021) and ``heldout_split`` (+ ``heldout_train_fraction``,
``heldout_seed``; Schott et al. 2022) go in ``train`` (the study's or an entry's), and an entry's ``grid``
may sweep :data:`TRAIN_GRID_KEYS` next to its hyperparameters, e.g.
``"grid": {"beta": [1], "correlation_strength": [null, 0.4, 0.2, 0.1]}``; a ``null`` strength is the
uncorrelated baseline of that entry (its ``correlated_factors`` are dropped). They are part of the
configuration's label, the fingerprint and the results table (``correlation_strength``: inf for the
baseline). A model trained on a held-out split is scored by ``heldout_r2`` on that same split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

REPRESENTATIONS = ("mean", "sampled")
# Set per model by the study, never in the "train" section.
RESERVED_TRAIN_KEYS = ("method", "dataset", "seed", "hyperparameters", "init_from", "data_dir")
STUDIES_DIR = os.path.join("flags", "studies")
# Training settings an entry's grid may sweep (protocols of issue 20); the rest of a grid are hyperparameters.
TRAIN_GRID_KEYS = ("correlation_strength", "heldout_split")
# Training settings recorded as columns of the results table when a study sets them.
PROTOCOL_KEYS = ("correlated_factors", "correlation_strength", "heldout_split", "heldout_train_fraction",
                 "heldout_seed")


class StudyError(ValueError):
    """A study file or a filter is invalid; the message names the culprit in one line."""


@dataclasses.dataclass(frozen=True)
class ConfigEntry:
    """One hyperparameter configuration of the study (one cell of the method × grid table)."""

    index: int
    name: str                      # the entry's name (default: the method name)
    method: str
    hyperparameters: Dict[str, Any]  # fixed + this grid point (as in the study file)
    grid_keys: Tuple[str, ...]     # which of them are swept
    train: Dict[str, Any]          # per-entry TrainConfig overrides
    steps_factor: float = 1.0
    init_from: Optional[str] = None
    note: str = ""

    def setting(self, key: str) -> Any:
        """A swept value: a hyperparameter, or a training setting of :data:`TRAIN_GRID_KEYS`."""
        return self.hyperparameters[key] if key in self.hyperparameters else self.train.get(key)

    def label(self) -> str:
        swept = ", ".join(f"{k}={_fmt(self.setting(k))}" for k in self.grid_keys)
        return f"{self.name}({swept})" if swept else self.name


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of the study: what to train and how it is numbered."""

    model_num: int
    dataset: str
    dataset_index: int
    config: ConfigEntry
    seed: int
    seed_index: int
    train: Dict[str, Any]          # every TrainConfig keyword except init_from/data_dir
    init_from: Optional[int] = None  # model_num this model warm-starts from

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def hyperparameters(self) -> Dict[str, Any]:
        return dict(self.config.hyperparameters)

    def to_dict(self) -> Dict[str, Any]:
        return {"model_num": self.model_num, "dataset": self.dataset, "dataset_index": self.dataset_index,
                "config_index": self.config.index, "config_name": self.config.name,
                "config_label": self.config.label(), "method": self.method,
                "hyperparameters": self.hyperparameters, "seed": self.seed, "seed_index": self.seed_index,
                "train": dict(self.train), "init_from": self.init_from}


@dataclasses.dataclass
class EvaluationSpec:
    metrics: List[str]
    representations: List[str]
    settings: Dict[str, Dict[str, Any]]
    seed: int = 0


@dataclasses.dataclass
class Study:
    name: str
    description: str
    datasets: List[str]
    configs: List[ConfigEntry]
    seeds: List[int]
    train: Dict[str, Any]
    evaluation: EvaluationSpec
    data_dirs: Dict[str, str]
    path: Optional[str] = None
    plugins: List[str] = dataclasses.field(default_factory=list)

    # --- numbering ------------------------------------------------------------------------------
    @property
    def models_per_dataset(self) -> int:
        return len(self.configs) * len(self.seeds)

    @property
    def num_models(self) -> int:
        return len(self.datasets) * self.models_per_dataset

    def model_num(self, dataset_index: int, config_index: int, seed_index: int) -> int:
        return dataset_index * self.models_per_dataset + config_index * len(self.seeds) + seed_index

    def model(self, model_num: int) -> ModelSpec:
        if not 0 <= model_num < self.num_models:
            raise StudyError(f"model {model_num} is not in study {self.name} (0..{self.num_models - 1})")
        dataset_index, rest = divmod(model_num, self.models_per_dataset)
        config_index, seed_index = divmod(rest, len(self.seeds))
        config = self.configs[config_index]
        init_from = None
        if config.init_from is not None:
            source = self.config_by_name(config.init_from)
            init_from = self.model_num(dataset_index, source.index, seed_index)
        return ModelSpec(model_num=model_num, dataset=self.datasets[dataset_index], dataset_index=dataset_index,
                         config=config, seed=self.seeds[seed_index], seed_index=seed_index,
                         train=self._train_for(config), init_from=init_from)

    def models(self) -> List[ModelSpec]:
        return [self.model(n) for n in range(self.num_models)]

    def config_by_name(self, name: str) -> ConfigEntry:
        for config in self.configs:
            if config.name == name:
                return config
        raise StudyError(f"study {self.name}: no config named {name!r}")

    def _train_for(self, config: ConfigEntry) -> Dict[str, Any]:
        train = dict(self.train)
        train.update(config.train)
        if "steps" in train and config.steps_factor != 1.0 and "steps" not in config.train:
            train["steps"] = max(1, int(round(train["steps"] * config.steps_factor)))
        if "correlation_strength" in train and train["correlation_strength"] is None:
            train["correlated_factors"] = []  # the uncorrelated baseline of a correlated study
        return train

    # --- identity -------------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        out = {"name": self.name, "description": self.description, "datasets": list(self.datasets),
               "data_dirs": dict(self.data_dirs), "seeds": list(self.seeds), "train": dict(self.train),
               "configs": [dataclasses.asdict(c) for c in self.configs],
               "evaluation": dataclasses.asdict(self.evaluation)}
        if self.plugins:   # only when used: the fingerprints of plugin-free studies stay as they were
            out["plugins"] = list(self.plugins)
        return out

    def fingerprint(self) -> str:
        """Identifies the study (grid, training and evaluation settings; not the filters)."""
        payload = self.to_dict()
        payload.pop("description")
        payload.pop("data_dirs")
        payload.pop("plugins", None)   # where code comes from, not a setting
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- loading --------------------------------------------------------------------------------------
def resolve_study_path(path: str) -> str:
    """``path`` itself, or ``flags/studies/<path>.json`` for a bare study name."""
    if os.path.isfile(path):
        return path
    candidate = os.path.join(STUDIES_DIR, path if path.endswith(".json") else path + ".json")
    if os.path.isfile(candidate):
        return candidate
    raise StudyError(f"study file {path!r} not found (nor {candidate})")


def load_study(path: str, validate: bool = True) -> Study:
    """Reads and (by default) validates a study file against the method/metric/dataset registries."""
    path = resolve_study_path(path)
    try:
        with open(path) as stream:
            raw = json.load(stream)
    except (OSError, json.JSONDecodeError) as error:
        raise StudyError(f"cannot read study file {path}: {error}") from None
    study = study_from_dict(raw, path=path)
    if validate:
        validate_study(study)
    return study


def _seeds(value: Any, where: str) -> List[int]:
    if isinstance(value, dict):
        try:
            seeds = list(range(int(value.get("start", 0)), int(value["stop"])))
        except (KeyError, TypeError, ValueError):
            raise StudyError(f"{where}: seeds must be a list or {{\"start\": A, \"stop\": B}}") from None
    elif isinstance(value, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        seeds = list(value)
    else:
        raise StudyError(f"{where}: seeds must be a list of integers or {{\"start\": A, \"stop\": B}}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise StudyError(f"{where}: seeds must be a non-empty list without repeats")
    return seeds


def study_from_dict(raw: Dict[str, Any], path: Optional[str] = None) -> Study:
    where = path or "study"
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: a study file holds one JSON object")
    known = {"name", "description", "datasets", "data_dirs", "seeds", "train", "configs", "evaluation", "notes",
             "plugins"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StudyError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in ("name", "datasets", "seeds", "configs", "evaluation"):
        if key not in raw:
            raise StudyError(f"{where}: missing key {key!r}")
    datasets = raw["datasets"]
    if not isinstance(datasets, list) or not datasets or not all(isinstance(d, str) for d in datasets):
        raise StudyError(f"{where}: datasets must be a non-empty list of names")
    if len(set(datasets)) != len(datasets):
        raise StudyError(f"{where}: datasets repeat")
    train = dict(raw.get("train", {}))
    for key in RESERVED_TRAIN_KEYS:
        if key in train:
            raise StudyError(f"{where}: train.{key} is set per model by the study; remove it")
    configs: List[ConfigEntry] = []
    if not isinstance(raw["configs"], list) or not raw["configs"]:
        raise StudyError(f"{where}: configs must be a non-empty list")
    for position, entry in enumerate(raw["configs"]):
        configs.extend(_expand_entry(entry, len(configs), f"{where}: configs[{position}]"))
    for config in configs:
        swept = sorted(set(config.grid_keys) & set(TRAIN_GRID_KEYS) & set(train))
        if swept:
            raise StudyError(f"{where}: {config.name}: {', '.join(swept)} both in train and swept")
    names = [c.name for c in configs]
    entry_names = list(dict.fromkeys(names))
    for config in configs:
        if config.init_from is not None:
            if config.init_from not in entry_names:
                raise StudyError(f"{where}: {config.name}: init_from {config.init_from!r} names no config "
                                 f"(names: {', '.join(entry_names)})")
            if names.count(config.init_from) != 1:
                raise StudyError(f"{where}: {config.name}: init_from {config.init_from!r} must name a config "
                                 "with exactly one grid point")
            source = next(c for c in configs if c.name == config.init_from)
            if source.init_from is not None:
                raise StudyError(f"{where}: {config.name}: init_from chains are not supported")
    evaluation = raw["evaluation"]
    if not isinstance(evaluation, dict):
        raise StudyError(f"{where}: evaluation must be an object")
    unknown = sorted(set(evaluation) - {"metrics", "representations", "settings", "seed"})
    if unknown:
        raise StudyError(f"{where}: evaluation: unknown key(s) {', '.join(unknown)}")
    metric_list = evaluation.get("metrics", [])
    representations = evaluation.get("representations", ["mean"])
    if not isinstance(metric_list, list) or not isinstance(representations, list):
        raise StudyError(f"{where}: evaluation.metrics and evaluation.representations must be lists")
    data_dirs = raw.get("data_dirs", {}) or {}
    plugins = raw.get("plugins", []) or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p.strip() for p in plugins):
        raise StudyError(f"{where}: plugins must be a list of module names")
    return Study(name=str(raw["name"]), description=str(raw.get("description", "")), datasets=list(datasets),
                 configs=configs, seeds=_seeds(raw["seeds"], where), train=train,
                 evaluation=EvaluationSpec(metrics=list(metric_list), representations=list(representations),
                                           settings={k: dict(v) for k, v in evaluation.get("settings", {}).items()},
                                           seed=int(evaluation.get("seed", 0))),
                 data_dirs=dict(data_dirs), path=path, plugins=[p.strip() for p in plugins])


def _expand_entry(entry: Any, first_index: int, where: str) -> List[ConfigEntry]:
    if not isinstance(entry, dict) or "method" not in entry:
        raise StudyError(f"{where}: each config needs a \"method\"")
    unknown = sorted(set(entry) - {"name", "method", "grid", "fixed", "train", "steps_factor", "init_from", "note"})
    if unknown:
        raise StudyError(f"{where}: unknown key(s) {', '.join(unknown)}")
    grid = entry.get("grid", {}) or {}
    fixed = entry.get("fixed", {}) or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise StudyError(f"{where}: grid must map hyperparameter names to non-empty lists")
    overlap = sorted(set(grid) & set(fixed))
    if overlap:
        raise StudyError(f"{where}: {', '.join(overlap)} both fixed and swept")
    train = dict(entry.get("train", {}) or {})
    for key in RESERVED_TRAIN_KEYS:
        if key in train:
            raise StudyError(f"{where}: train.{key} is set per model by the study; remove it")
    steps_factor = float(entry.get("steps_factor", 1.0))
    if not steps_factor > 0:
        raise StudyError(f"{where}: steps_factor must be positive")
    keys = tuple(grid)
    swept_train = sorted(set(keys) & set(TRAIN_GRID_KEYS) & set(train))
    if swept_train:
        raise StudyError(f"{where}: {', '.join(swept_train)} both in train and swept")
    entries = []
    for offset, values in enumerate(itertools.product(*(grid[k] for k in keys))):
        hyperparameters = dict(fixed)
        point_train = dict(train)
        for key, value in zip(keys, values):
            (point_train if key in TRAIN_GRID_KEYS else hyperparameters)[key] = value
        entries.append(ConfigEntry(index=first_index + offset, name=str(entry.get("name", entry["method"])),
                                   method=str(entry["method"]), hyperparameters=hyperparameters, grid_keys=keys,
                                   train=point_train, steps_factor=steps_factor, init_from=entry.get("init_from"),
                                   note=str(entry.get("note", ""))))
    return entries


def heldout_metric_settings(train: Dict[str, Any]) -> Dict[str, Any]:
    """The ``heldout_r2`` settings that score a model on the split it trained on (empty without a split)."""
    if not train.get("heldout_split"):
        return {}
    from tfdisent.training import TrainConfig

    defaults = TrainConfig()
    return {"split": train["heldout_split"],
            "train_fraction": float(train.get("heldout_train_fraction", defaults.heldout_train_fraction)),
            "split_seed": int(train.get("heldout_seed", defaults.heldout_seed))}


# --- validation against the registries ---------------------------------------------------------------
def import_study_plugins(study: Study) -> None:
    """Imports the study's plugins (their methods, metrics and datasets join the registries); a plugin
    that fails is a one-line StudyError."""
    from tfdisent.registry import RegistryError, import_plugins

    try:
        import_plugins(study.plugins)
    except RegistryError as error:
        raise StudyError(f"{study.path or study.name}: {error}") from None


def validate_study(study: Study) -> None:
    """Checks datasets, methods (and their hyperparameters), training settings and metrics (and their
    settings) against the library's registries; raises StudyError with one line."""
    from tfdisent import metrics
    from tfdisent.data import dataset_names
    from tfdisent.methods import method_names, resolve_hyperparameters
    from tfdisent.training import TrainConfig

    where = study.path or study.name
    import_study_plugins(study)
    for dataset in study.datasets:
        if dataset not in dataset_names():
            raise StudyError(f"{where}: unknown dataset {dataset!r}; known datasets: {', '.join(dataset_names())}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)} | {"mixed_precision"}  # deprecated alias
    factor_names: Dict[str, Optional[Tuple[str, ...]]] = {}  # per dataset, loaded once when pairs need them
    for config in study.configs:
        if config.method not in method_names():
            raise StudyError(f"{where}: unknown method {config.method!r}; known methods: {', '.join(method_names())}")
        try:
            resolve_hyperparameters(config.method, config.hyperparameters)
        except ValueError as error:
            raise StudyError(f"{where}: {config.label()}: {error}") from None
        merged = dict(study.train)
        merged.update(config.train)
        unknown = sorted(set(merged) - fields)
        if unknown:
            raise StudyError(f"{where}: unknown training setting(s) {', '.join(unknown)}")
        train = study._train_for(config)
        try:
            TrainConfig(**train).validate()
        except (TypeError, ValueError) as error:
            raise StudyError(f"{where}: {config.label()}: {error}") from None
        _validate_protocols(study, config, train, where, factor_names)
    evaluation = study.evaluation
    for name in evaluation.metrics:
        if name not in metrics.metric_names():
            raise StudyError(f"{where}: unknown metric {name!r}; known metrics: {', '.join(metrics.metric_names())}")
        if metrics.is_multi_model(name):
            raise StudyError(f"{where}: metric {name!r} compares several models; a study scores each model "
                             "alone (run tfdisent-evaluate on a group of run directories for it)")
    for name, settings in evaluation.settings.items():
        if name not in evaluation.metrics:
            raise StudyError(f"{where}: evaluation.settings.{name}: metric {name!r} is not in evaluation.metrics")
        try:
            metrics.resolve_settings(name, **settings)
        except metrics.MetricError as error:
            raise StudyError(f"{where}: {error}") from None
    for representation in evaluation.representations:
        if representation not in REPRESENTATIONS:
            raise StudyError(f"{where}: unknown representation {representation!r}; choose from "
                             f"{', '.join(REPRESENTATIONS)}")


def _validate_protocols(study: Study, config: ConfigEntry, train: Dict[str, Any], where: str,
                        factor_names: Dict[str, Optional[Tuple[str, ...]]]) -> None:
    """Correlated pairs name factors of every dataset; heldout_r2 settings do not contradict a model's split."""
    from tfdisent.data import DatasetError, load_dataset
    from tfdisent.data.correlated import parse_pairs

    if train.get("correlated_factors"):
        for name in study.datasets:
            if name not in factor_names:
                kwargs = {"data_dir": study.data_dirs[name]} if name in study.data_dirs else {}
                try:
                    factor_names[name] = tuple(load_dataset(name, **kwargs).factor_names)
                except DatasetError:
                    factor_names[name] = None  # its files are not here: the trial reports it
            if factor_names[name] is None:
                continue
            try:
                parse_pairs(train["correlated_factors"], factor_names[name])
            except ValueError as error:
                raise StudyError(f"{where}: {config.label()} on {name}: {error}") from None
    expected = heldout_metric_settings(train)
    given = study.evaluation.settings.get("heldout_r2", {})
    if expected and "heldout_r2" in study.evaluation.metrics:
        clash = sorted(k for k in expected if k in given and given[k] != expected[k])
        if clash:
            raise StudyError(f"{where}: {config.label()} trains on the {train['heldout_split']} split but "
                             f"evaluation.settings.heldout_r2 sets {', '.join(f'{k}={given[k]!r}' for k in clash)}; "
                             "leave them out (a study scores each model on its training split)")


# --- command-line overrides -----------------------------------------------------------------------
def parse_seed_range(text: str) -> List[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"3"`` -> [3]; ``"0-2,7"`` -> [0, 1, 2, 7]."""
    seeds: List[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise StudyError(f"--seeds: expected A-B or a comma list of integers, got {text!r}") from None
        if high < low:
            raise StudyError(f"--seeds: empty range {part!r}")
        seeds.extend(s for s in range(low, high + 1) if s not in seeds)
    if not seeds:
        raise StudyError("--seeds: no seed given")
    return seeds


def parse_only(items: Iterable[str]) -> Dict[str, List[str]]:
    """``["method=beta_tcvae,dataset=dsprites", "beta=6"]`` -> {"method": [...], "dataset": [...], ...}.
    Repeating a key means either value (OR); different keys must all match (AND)."""
    only: Dict[str, List[str]] = {}
    for item in items or ():
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            key, equals, value = part.partition("=")
            if not equals or not key.strip() or not value.strip():
                raise StudyError(f"--only: expected KEY=VALUE, got {part!r}")
            only.setdefault(key.strip(), []).append(value.strip())
    return only


def _matches(value: Any, wanted: Sequence[str]) -> bool:
    for text in wanted:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                if float(text) == float(value):
                    return True
            except ValueError:
                pass
        elif str(value) == text:
            return True
    return False


def select_models(study: Study, only: Optional[Dict[str, List[str]]] = None,
                  seeds: Optional[Sequence[int]] = None, with_dependencies: bool = True) -> List[ModelSpec]:
    """The models kept by the filters, in model-number order (plus, by default, the models they
    warm-start from). Unknown filter keys or seeds outside the study raise StudyError."""
    only = only or {}
    hyper_keys = {k for c in study.configs for k in c.hyperparameters}
    train_keys = {k for c in study.configs for k in c.grid_keys if k in TRAIN_GRID_KEYS}
    allowed = {"dataset", "method", "config", "seed"} | hyper_keys | train_keys
    unknown = sorted(set(only) - allowed)
    if unknown:
        raise StudyError(f"--only: unknown key(s) {', '.join(unknown)}; keys of study {study.name}: "
                         f"{', '.join(sorted(allowed))}")
    if seeds is not None:
        outside = sorted(set(seeds) - set(study.seeds))
        if outside:
            raise StudyError(f"--seeds: seed(s) {', '.join(map(str, outside))} are not in study {study.name} "
                             f"(seeds {study.seeds[0]}..{study.seeds[-1]})")
    chosen = []
    for model in study.models():
        if seeds is not None and model.seed not in seeds:
            continue
        fields = {"dataset": model.dataset, "method": model.method, "config": model.config.name,
                  "seed": model.seed}
        fields.update({k: model.train.get(k) for k in train_keys})
        ok = True
        for key, wanted in only.items():
            if key in fields:
                ok = _matches(fields[key], wanted)
            else:
                ok = key in model.hyperparameters and _matches(model.hyperparameters[key], wanted)
            if not ok:
                break
        if ok:
            chosen.append(model)
    if not chosen:
        raise StudyError(f"the filters select no model of study {study.name}")
    if with_dependencies:
        numbers = {m.model_num for m in chosen}
        extra = [study.model(m.init_from) for m in chosen if m.init_from is not None and m.init_from not in numbers]
        chosen = sorted({m.model_num: m for m in chosen + extra}.values(), key=lambda m: m.model_num)
    return chosen


def apply_overrides(study: Study, steps: Optional[int] = None, metric_names: Optional[Sequence[str]] = None,
                    metric_overrides: Sequence[str] = ()) -> Study:
    """A copy of ``study`` with ``--steps`` (entries' ``steps_factor`` still applies), ``--metrics`` and
    ``--metric_override=METRIC.SETTING=VALUE`` applied and validated."""
    from tfdisent import metrics
    from tfdisent.evaluation import evaluate

    study = dataclasses.replace(study, train=dict(study.train),
                                evaluation=dataclasses.replace(study.evaluation,
                                                               settings={k: dict(v) for k, v in
                                                                         study.evaluation.settings.items()}))
    if steps is not None:
        if steps < 1:
            raise StudyError(f"--steps must be positive, got {steps}")
        study.train["steps"] = int(steps)
    if metric_names:
        try:
            names = evaluate.expand_metric_names(list(metric_names), num_models=1)
        except metrics.MetricError as error:
            raise StudyError(f"--metrics: {error}") from None
        study.evaluation.metrics = names
        study.evaluation.settings = {k: v for k, v in study.evaluation.settings.items() if k in names}
    if metric_overrides:
        try:
            parsed = evaluate.parse_overrides(list(metric_overrides), study.evaluation.metrics)
        except metrics.MetricError as error:
            raise StudyError(f"--metric_override: {error}") from None
        for name, settings in parsed.items():
            study.evaluation.settings.setdefault(name, {}).update(settings)
    return study
