"""Named registries and the plugins that fill them: one mechanism for methods, metrics and datasets.

A :class:`Registry` maps names to *targets*: an object, or a lazy ``"package.module"`` /
``"package.module:attribute"`` string imported on first use, so that a registered name costs nothing
until it is used (the built-ins register themselves this way in ``tfdisent.methods``,
``tfdisent.metrics`` and ``tfdisent.data``; a plugin calls the same public ``register_*`` function).
Each registry checks what it loads with its kind's contract (``validate``) the first time.

Plugins are modules whose import registers methods, metrics or datasets. They arrive by

* name: :func:`import_plugins` (``--plugins=pkg.mod[,more]`` on every binary, ``"plugins"`` in study
  files and PBT settings; Ray trials import the same list before they build anything);
* installation: every entry point of the group ``tfdisent.plugins`` (the convention of pytest, Keras
  and Ray: ``[project.entry-points."tfdisent.plugins"] name = "pkg.mod"`` in the plugin's
  ``pyproject.toml``) is imported the first time any registry is read, in every process.

A module that fails to import, or that registers a name already taken, is a one-line
:class:`PluginError` / :class:`RegistryError`. This module imports nothing from tfdisent (it sits
below every layer).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from tfdisent.errors import one_line

ENTRY_POINT_GROUP = "tfdisent.plugins"
# The packages whose registries plugins fill. Imported by name (all three are cheap: their entries
# are lazy) before a plugin, so that what the plugin adds can be told apart from the built-ins.
REGISTRY_MODULES = ("tfdisent.data", "tfdisent.methods", "tfdisent.metrics")


class RegistryError(ValueError):
    """An unknown, duplicate or invalid registration (one line naming the name and the culprit)."""


class PluginError(RegistryError):
    """A plugin module could not be imported or registered something invalid (one line)."""


Validator = Callable[[str, Any], None]


def import_target(target: str) -> Any:
    """The object a lazy target names: ``"pkg.mod"`` is the module, ``"pkg.mod:attr.sub"`` an attribute."""
    module_name, _, attribute = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        obj = getattr(obj, part)
    return obj


def describe_target(target: Any) -> str:
    """``"pkg.mod:Name"`` for an object (its module and qualified name), the string for a lazy one."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    if module is None and hasattr(target, "__name__"):   # a module object
        return str(target.__name__)
    return f"{module}:{getattr(target, '__qualname__', type(target).__name__)}"


class Registry:
    """Names -> targets of one kind (``"method"``, ``"metric"``, ``"dataset"``).

    Args:
      kind: the word used in messages ("unknown method 'x'").
      validate: ``validate(name, obj)`` raises :class:`RegistryError` when ``obj`` breaks the kind's
        contract; called when an object is registered and when a lazy target is first loaded.
      sort_names: list names alphabetically (else in registration order, e.g. cheap metrics first).
    """

    def __init__(self, kind: str, validate: Optional[Validator] = None, sort_names: bool = True):
        self.kind = kind
        self._validate = validate
        self._sort = sort_names
        self._targets: Dict[str, Any] = {}
        self._loaded: Dict[str, Any] = {}

    # --- registration -------------------------------------------------------------------------
    def register(self, name: str, target: Any) -> Any:
        """Registers ``target`` (an object or a lazy ``"pkg.mod[:attr]"`` string) under ``name``.

        Registering the same target again under its name is a no-op (a module imported twice); any
        other reuse of a taken name is a :class:`RegistryError`. Returns ``target``.
        """
        if not isinstance(name, str) or not name or not name.replace("_", "a").replace("-", "a").isalnum():
            raise RegistryError(f"{self.kind} name {name!r} must be a non-empty word (letters, digits, _ or -)")
        if isinstance(target, str) and (not target or target.startswith(":") or target.count(":") > 1):
            raise RegistryError(f"{self.kind} {name!r}: lazy target {target!r} must read 'package.module[:attribute]'")
        if name in self._targets:
            if self._same(name, target):
                return target
            raise RegistryError(f"{self.kind} {name!r} is already registered (by "
                                f"{describe_target(self._targets[name])}); {describe_target(target)} cannot "
                                "take the name")
        if not isinstance(target, str) and self._validate is not None:
            self._validate(name, target)
            self._loaded[name] = target
        self._targets[name] = target
        return target

    def _same(self, name: str, target: Any) -> bool:
        existing = self._targets[name]
        if existing is target or describe_target(existing) == describe_target(target):
            return True
        loaded = self._loaded.get(name)
        return loaded is not None and loaded is target

    # --- look-up ------------------------------------------------------------------------------
    def names(self) -> List[str]:
        """Every registered name (built-ins and plugins)."""
        discover_plugins()
        return sorted(self._targets) if self._sort else list(self._targets)

    def __contains__(self, name: object) -> bool:
        discover_plugins()
        return name in self._targets

    def target(self, name: str) -> str:
        """Where ``name`` comes from, as ``"pkg.mod[:attr]"`` (without importing it)."""
        self._check_known(name)
        return describe_target(self._targets[name])

    def get(self, name: str) -> Any:
        """The object registered as ``name``, imported and validated on first use."""
        self._check_known(name)
        if name not in self._loaded:
            target = self._targets[name]
            try:
                obj = import_target(target)
            except (ImportError, AttributeError) as error:
                raise RegistryError(f"{self.kind} {name!r}: cannot import {target} ({one_line(error)})") from None
            if self._validate is not None:
                self._validate(name, obj)
            self._loaded[name] = obj
        return self._loaded[name]

    def _check_known(self, name: str) -> None:
        if name not in self:
            raise RegistryError(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}")

    def view(self) -> "RegistryView":
        """A read-only mapping name -> loaded object (e.g. ``tfdisent.methods.METHODS``)."""
        return RegistryView(self, load=True)

    def target_view(self) -> "RegistryView":
        """A read-only mapping name -> target string, importing nothing."""
        return RegistryView(self, load=False)


class RegistryView(Mapping):
    """Read-only :class:`collections.abc.Mapping` over a registry, always current (plugins included)."""

    def __init__(self, registry: Registry, load: bool):
        self._registry = registry
        self._load = load

    def __getitem__(self, name: str) -> Any:
        if name not in self._registry:
            raise KeyError(name)
        return self._registry.get(name) if self._load else self._registry.target(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.names())

    def __len__(self) -> int:
        return len(self._registry.names())

    def __contains__(self, name: object) -> bool:
        return name in self._registry


_REGISTRIES: List[Registry] = []


def new_registry(kind: str, validate: Optional[Validator] = None, sort_names: bool = True) -> Registry:
    """A registry that :func:`import_plugins` checks after every plugin import."""
    registry = Registry(kind, validate, sort_names)
    _REGISTRIES.append(registry)
    return registry


# ----------------------------------------------------------------------------------------------
# Plugins


def parse_plugin_list(value: Any) -> Tuple[str, ...]:
    """``"a.b, c"`` or ``["a.b", "c"]`` -> ``("a.b", "c")`` (order kept, repeats dropped)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    names = []
    for item in items:
        if not isinstance(item, str):
            raise PluginError(f"plugins must be module names, got {item!r}")
        item = item.strip()
        if item and item not in names:
            names.append(item)
    return tuple(names)


def import_plugins(modules: Any, paths: Sequence[str] = ()) -> Tuple[str, ...]:
    """Imports plugin modules (``"pkg.mod"``, a list or a comma-separated string) and validates what
    each registered. ``paths``: folders appended to ``sys.path`` first (those that exist here), e.g. the
    folders a study's driver imported the plugins from, carried to its Ray trials.

    Returns the module names. Raises :class:`PluginError` (one line) for a module that does not
    import, and :class:`RegistryError` for a name it takes twice or an entry that breaks its contract.
    """
    names = parse_plugin_list(modules)
    for path in paths:
        if path and os.path.isdir(path) and path not in sys.path:
            sys.path.append(path)
    discover_plugins()
    for name in names:
        _import_plugin(name, name)
    return names


def _import_plugin(name: str, label: str) -> None:
    for module in REGISTRY_MODULES:
        importlib.import_module(module)
    before = {id(r): set(r._targets) for r in _REGISTRIES}
    try:
        importlib.import_module(name)
        added = [(r, n) for r in _REGISTRIES for n in sorted(set(r._targets) - before.get(id(r), set()))]
        # Checked at registration: every entry the plugin added is loaded and validated now, so a
        # broken plugin fails before anything runs (built-ins stay lazy).
        for registry, entry in added:
            registry.get(entry)
    except Exception as error:  # noqa: BLE001 - ImportError, SyntaxError, anything its import raises
        # Nothing half-registered: a failed plugin's names are free again.
        added = [(r, n) for r in _REGISTRIES for n in sorted(set(r._targets) - before.get(id(r), set()))]
        for registry, entry in added:
            registry._targets.pop(entry, None)
            registry._loaded.pop(entry, None)
        sys.modules.pop(name, None)
        if isinstance(error, RegistryError):
            raise PluginError(f"plugin {label}: {error}") from None
        raise PluginError(f"plugin {label} failed to import: {one_line(error)}") from None


_discovered = False
_discovery_error: Optional[PluginError] = None


def entry_point_plugins() -> List[Tuple[str, str]]:
    """``(entry point name, module)`` of every installed ``tfdisent.plugins`` entry point."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return sorted((ep.name, ep.value) for ep in found)


def discover_plugins() -> None:
    """Imports the installed ``tfdisent.plugins`` entry points, once per process (raises PluginError)."""
    global _discovered, _discovery_error
    if _discovery_error is not None:   # every later look-up fails the same way, never half-loaded
        raise _discovery_error
    if _discovered:
        return
    _discovered = True
    for name, module in entry_point_plugins():
        try:
            _import_plugin(module.partition(":")[0].strip(), f"{module} (entry point {name!r} of {ENTRY_POINT_GROUP})")
        except RegistryError as error:
            _discovery_error = error if isinstance(error, PluginError) else PluginError(str(error))
            raise _discovery_error from None


def plugin_paths(modules: Iterable[str]) -> List[str]:
    """The ``sys.path`` folders the (imported) plugin modules were found in, for Ray trials whose
    processes started without them (a local Ray started before the plugin was put on the path)."""
    paths: List[str] = []
    for name in modules:
        top = sys.modules.get(name.split(".")[0])
        location = getattr(top, "__file__", None)
        if location is None:
            continue
        depth = 2 if os.path.basename(location) == "__init__.py" else 1
        root = os.path.abspath(location)
        for _ in range(depth):
            root = os.path.dirname(root)
        if root not in paths:
            paths.append(root)
    return paths
