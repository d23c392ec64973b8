"""Declarative hyperparameters of the objectives.

Each method class lists its :class:`Hyperparameter` s; ``tfdisent-train`` turns the union of
them into documented absl flags, so adding a method needs no edit of the binary.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    name: str
    default: object
    help: str
    kind: type = float  # float, int or str
    choices: Optional[Tuple[str, ...]] = None
    lower_bound: Optional[float] = 0.0
    upper_bound: Optional[float] = None
    # Held as a tf.Variable by the objective, so that it can change between training steps without a
    # rebuild or retrace (population-based training mutates it) and is saved in checkpoints.
    mutable: bool = False

    def validate(self, value, method: str):
        """Returns ``value`` converted to ``kind``; raises ValueError when it is out of range."""
        if self.kind is str:
            value = str(value)
            if self.choices and value not in self.choices:
                raise ValueError(f"{method}: {self.name} must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        try:
            converted = self.kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{method}: {self.name} must be a number, got {value!r}") from None
        if self.kind is int and converted != value:
            raise ValueError(f"{method}: {self.name} must be an integer, got {value!r}")
        if self.lower_bound is not None and converted < self.lower_bound:
            raise ValueError(f"{method}: {self.name} must be >= {self.lower_bound}, got {value}")
        if self.upper_bound is not None and converted > self.upper_bound:
            raise ValueError(f"{method}: {self.name} must be <= {self.upper_bound}, got {value}")
        return converted


def mutable_names(hyperparameters: Sequence[Hyperparameter]) -> Tuple[str, ...]:
    return tuple(h.name for h in hyperparameters if h.mutable)


def defaults(hyperparameters: Sequence[Hyperparameter]) -> dict:
    return {h.name: h.default for h in hyperparameters}


def resolve(method: str, hyperparameters: Sequence[Hyperparameter], values: dict) -> dict:
    """Defaults overridden by ``values``, each validated; unknown names raise ValueError."""
    known = {h.name: h for h in hyperparameters}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{method} has no hyperparameter {', '.join(unknown)} "
                         f"(its hyperparameters: {', '.join(sorted(known)) or 'none'})")
    resolved = defaults(hyperparameters)
    resolved.update({name: known[name].validate(value, method) for name, value in values.items()})
    return resolved
