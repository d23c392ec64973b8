"""Disentanglement metrics for any model: ``compute(name, dataset, representation_fn, random_state)``.

Each metric is a module with a pure numpy function over codes/factors (tested directly) and a
``compute`` that draws samples from a ground-truth dataset exactly as disentanglement_lib
(Locatello et al. 2019) does. Defaults are those of disentanglement_lib's published study configs
and the score keys are the same (see each module's docstring for the few deliberate deviations).

Example::

    import numpy as np
    from tfdisent import metrics
    from tfdisent.data import load_dataset

    dataset = load_dataset("dsprites")
    scores = metrics.compute("mig", dataset, my_encoder, np.random.RandomState(0), num_train=2000)

``representation_fn`` maps a batch of observations ``[B, *observation_shape]`` to a numpy array
``[B, d]``; for ``udr`` it is a list of functions returning ``(mean, logvar)``. Pass the same
:class:`SampleCache` to several calls (``cache=``) to share the encoded i.i.d. samples between
metrics that draw the same ones (mig, dci, sap, modularity_explicitness, irs, unsupervised,
downstream all do when started from equal random states).

Metrics are registered by name (:mod:`tfdisent.registry`): the built-ins below with lazy module names,
plugins with the same :func:`register_metric`; :class:`MetricProtocol` is the contract, checked when a
metric is registered or first loaded.

This package imports only numpy/scipy/scikit-learn, ``tfdisent.registry`` and ``tfdisent.data`` — no
TensorFlow.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Protocol, runtime_checkable

import numpy as np

from tfdisent.metrics.utils import MetricError, SampleCache, as_ground_truth, check_random_state, to_python
from tfdisent.registry import RegistryError, describe_target, new_registry


@runtime_checkable
class MetricProtocol(Protocol):
    """What a metric provides (a module or any object with these members), checked at registration.

    * ``DEFAULTS``: dict of settings -> default values (their types type the overrides);
    * ``NEEDS_FACTORS``: whether it needs ground-truth factors (False: observations suffice);
    * ``compute(dataset, representation_fn, random_state, settings, cache) -> dict`` of scores;
    * optional ``CHOICES``: dict setting -> allowed values (default ``{}``); every default must be
      among its own choices;
    * optional ``MULTI_MODEL``: True when ``representation_fn`` is a list of models (default False).
    """

    DEFAULTS: Mapping[str, Any]
    NEEDS_FACTORS: bool

    def compute(self, dataset, representation_fn, random_state, settings: Dict[str, Any],
                cache: Optional[SampleCache]) -> dict: ...


REQUIRED_MEMBERS = ("DEFAULTS", "NEEDS_FACTORS", "compute")


def check_metric(name: str, metric: Any) -> None:
    """The :class:`MetricProtocol` contract; one-line RegistryError naming the metric and the member."""
    where = f"metric {name!r} ({describe_target(metric)})"
    for member in REQUIRED_MEMBERS:
        if not hasattr(metric, member):
            raise RegistryError(f"{where} lacks {member}")
    if not isinstance(metric.DEFAULTS, Mapping):
        raise RegistryError(f"{where}: DEFAULTS must be a dict of settings")
    if not isinstance(metric.NEEDS_FACTORS, bool):
        raise RegistryError(f"{where}: NEEDS_FACTORS must be True or False")
    if not isinstance(getattr(metric, "MULTI_MODEL", False), bool):
        raise RegistryError(f"{where}: MULTI_MODEL must be True or False")
    if not callable(metric.compute):
        raise RegistryError(f"{where}: compute is not callable")
    choices = getattr(metric, "CHOICES", {})
    if not isinstance(choices, Mapping):
        raise RegistryError(f"{where}: CHOICES must be a dict of setting -> allowed values")
    for key, allowed in choices.items():
        if key not in metric.DEFAULTS:
            raise RegistryError(f"{where}: CHOICES names {key!r}, which is not in DEFAULTS")
        default = metric.DEFAULTS[key]
        bad = [v for v in (default if isinstance(default, tuple) else (default,)) if v not in tuple(allowed)]
        if bad:
            raise RegistryError(f"{where}: DEFAULTS[{key!r}] = {default!r} is not in its own CHOICES "
                                f"({', '.join(map(str, allowed))})")


# Registration order is the listing order (``all`` in the CLI; cheap metrics first).
METRICS = new_registry("metric", check_metric, sort_names=False)


def register_metric(name: str, target: Any) -> Any:
    """Registers a metric (a module or object following :class:`MetricProtocol`, or a lazy
    ``"package.module[:attr]"``) under ``name``. A taken name or a broken contract is one line."""
    return METRICS.register(name, target)


# ``all`` in the CLI means every name below (udr only with several models).
for _name in ("beta_vae", "factor_vae", "mig", "dci", "sap", "modularity_explicitness", "irs", "unsupervised",
              "downstream", "fairness", "udr", "sparsity",
              # post-2019 metrics (issue 20)
              "mig_sup", "dcimig", "jemmig", "infomec", "mcc", "dci_es", "flatness", "factored_components",
              "fos", "heldout_r2"):
    register_metric(_name, f"tfdisent.metrics.{_name}")

# name -> "module" (read-only; kept for callers of the former dict).
_MODULES = METRICS.target_view()

__all__ = ["MetricError", "MetricProtocol", "SampleCache", "check_metric", "compute", "default_settings",
           "is_multi_model", "metric_names", "parse_setting", "register_metric", "resolve_settings"]


def metric_names() -> List[str]:
    """Names accepted by :func:`compute`, in a stable order (cheap metrics first, then plugins)."""
    return METRICS.names()


def _module(name: str):
    if name not in METRICS:
        raise MetricError(f"unknown metric {name!r}; known metrics: {', '.join(metric_names())}")
    try:
        return METRICS.get(name)
    except RegistryError as error:
        raise MetricError(str(error)) from None


def is_multi_model(name: str) -> bool:
    """True for metrics that take a list of models (udr)."""
    return bool(getattr(_module(name), "MULTI_MODEL", False))


def default_settings(name: str) -> Dict[str, Any]:
    """The metric's default settings (disentanglement_lib study config values)."""
    return dict(_module(name).DEFAULTS)


def _coerce(name: str, key: str, value, default):
    """Checks an override against the type of its default (ints stay ints, etc.)."""
    def fail():
        raise MetricError(f"{name}.{key}: expected a value like {default!r}, got {value!r}")

    if isinstance(default, bool):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        fail()
    if isinstance(default, int):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        fail()
    if isinstance(default, float):
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return float(value)
        fail()
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        fail()
    if isinstance(default, tuple):
        items = (value,) if isinstance(value, (str, int, float, np.integer)) else value
        try:
            items = tuple(items)
        except TypeError:
            fail()
        element_default = default[0] if default else value
        return tuple(_coerce(name, key, item, element_default) for item in items)
    return value


def resolve_settings(name: str, **overrides) -> Dict[str, Any]:
    """Defaults of ``name`` updated with ``overrides``; unknown setting names, values of the wrong type and
    values outside a metric's ``CHOICES`` (e.g. an unknown DCI backend) raise MetricError."""
    settings = default_settings(name)
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise MetricError(f"{name}: unknown setting(s) {', '.join(unknown)}; "
                          f"settings are {', '.join(sorted(settings))}")
    choices = getattr(_module(name), "CHOICES", {})
    for key, value in overrides.items():
        settings[key] = _coerce(name, key, value, settings[key])
        if key in choices:
            given = settings[key] if isinstance(settings[key], tuple) else (settings[key],)
            bad = [item for item in given if item not in choices[key]]
            if bad or not given:
                raise MetricError(f"{name}.{key}: {', '.join(map(repr, bad)) or 'nothing'} is not one of "
                                  f"{', '.join(choices[key])}")
    return settings


def parse_setting(name: str, key: str, text: str):
    """Parses a command-line value for setting ``key`` of metric ``name`` (typed like its
    default; tuples take comma-separated items)."""
    settings = default_settings(name)
    if key not in settings:
        raise MetricError(f"{name}: unknown setting {key!r}; settings are {', '.join(sorted(settings))}")
    default = settings[key]

    def parse_scalar(item: str, like):
        item = item.strip()
        try:
            if isinstance(like, bool):
                lowered = item.lower()
                if lowered in ("true", "1", "yes"):
                    return True
                if lowered in ("false", "0", "no"):
                    return False
                raise ValueError(item)
            if isinstance(like, int):
                return int(item)
            if isinstance(like, float):
                return float(item)
        except ValueError:
            raise MetricError(f"{name}.{key}: cannot parse {item!r} as {type(like).__name__}") from None
        return item

    if isinstance(default, tuple):
        like = default[0] if default else ""
        return tuple(parse_scalar(item, like) for item in text.split(",") if item.strip())
    return parse_scalar(text, default)


def compute(name: str, dataset, representation_fn, random_state, *,
            cache: Optional[SampleCache] = None, **overrides) -> dict:
    """Computes metric ``name`` and returns its scores (a dict with the reference's keys).

    Args:
      name: one of :func:`metric_names`.
      dataset: any object with the documented ground-truth interface: ``factor_sizes`` (or
        ``factors_num_values``), ``observation_shape``, ``sample_factors(num, random_state)`` and
        ``sample_observations_from_factors(factors, random_state)``; ``sample``,
        ``sample_observations`` and ``num_factors`` are derived when missing, as
        disentanglement_lib's ``GroundTruthData`` base class does (see
        :class:`tfdisent.metrics.utils.GroundTruthView`). Observations of any shape.
      representation_fn: batch of observations -> numpy array [B, d]; for ``udr``, a list of
        functions each returning ``(mean, logvar)`` arrays [B, d].
      random_state: ``numpy.random.RandomState`` (an int seed is accepted); all sampling uses it.
      cache: optional :class:`SampleCache` shared between calls.
      **overrides: settings to change, e.g. ``num_train=2000`` (see :func:`default_settings`).

    Raises:
      MetricError: unknown metric or setting, a dataset the metric cannot use, or a
        representation that is not a finite [B, d] array.
    """
    module = _module(name)
    settings = resolve_settings(name, **overrides)
    random_state = check_random_state(random_state)
    dataset = as_ground_truth(dataset, name, needs_factors=module.NEEDS_FACTORS)
    if not getattr(module, "MULTI_MODEL", False) and not callable(representation_fn):
        raise MetricError(f"{name}: representation_fn must be callable")
    scores = module.compute(dataset, representation_fn, random_state, settings, cache)
    return to_python(scores)
