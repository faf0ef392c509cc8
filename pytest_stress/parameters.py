"""Parameter specifications: one default, one valid range and one line of doc per parameter.

Transforms and faults declare their parameters here once; scenario validation, the
documentation and the hypothesis strategies all read the same specification.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ScenarioError, close_matches, is_number

__all__ = ["Param", "ParamSet", "with_params", "split_prefixed"]


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is "float", "int", "bool", "choice" or "choices" (a subset).

    ``scale`` says how the parameter grows with a scenario's severity (``severity.py``):
    "share", "factor", "growth", "correlation", or None (it stays as given at every severity).
    """

    name: str
    default: Any
    doc: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    choices: tuple[str, ...] = ()
    scale: str | None = None

    def describe_range(self) -> str:
        if self.kind in ("choice", "choices"):
            return "one of " + ", ".join(map(repr, self.choices)) if self.kind == "choice" else (
                "a non-empty list drawn from " + ", ".join(map(repr, self.choices)))
        if self.kind == "bool":
            return "true or false"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "[" if self.low_inclusive else "("
        what = "an integer" if self.kind == "int" else "a number"
        return f"{what} in {left}{lo}, {hi}]"

    def validate(self, value: Any, owner: str) -> Any:
        """Return the value in canonical form, or raise naming owner, parameter and range."""
        def bad(reason: str = "") -> ScenarioError:
            return ScenarioError(
                f"{owner}: parameter {self.name!r} = {value!r} is invalid{reason}; "
                f"expected {self.describe_range()}")

        if value is None and self.default is None:
            return None  # "not set": the consumer falls back to its own default
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if is_number(value) and value in (0, 1):     # 0 and 1 (numpy's too), not 0.5 nor 'no'
                return bool(value)
            raise bad()
        if self.kind == "choice":
            if value not in self.choices:
                raise bad()
            return value
        if self.kind == "choices":
            if isinstance(value, str):
                value = [value]
            try:
                items = tuple(value)
            except TypeError:
                raise bad() from None
            if not items or any(v not in self.choices for v in items):
                raise bad()
            return tuple(dict.fromkeys(items))
        if not is_number(value):      # Python's and numpy's ints and floats; never a bool
            raise bad(" (not a number)")
        if not math.isfinite(float(value)):
            raise bad(" (not finite)")
        if self.kind == "int":
            if float(value) != int(value):
                raise bad(" (not a whole number)")
            value = int(value)
        else:
            value = float(value)
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            raise bad()
        if self.high is not None and value > self.high:
            raise bad()
        return value


class ParamSet(Mapping[str, Param]):
    """An ordered, read-only set of parameters with whole-mapping validation."""

    def __init__(self, params: Sequence[Param]) -> None:
        self._params = {p.name: p for p in params}
        self._full: dict[str, tuple[tuple[str, str], ...]] = {}

    def full_names(self, prefix: str) -> tuple[tuple[str, str], ...]:
        """``(name, prefix + name)`` of each parameter, a name already so prefixed kept as is (see
        ``prefixed``); remembered per prefix (the set is read-only; a run splits by it several times)."""
        pairs = self._full.get(prefix)
        if pairs is None:
            pairs = self._full[prefix] = tuple((name, name if name.startswith(prefix) else prefix + name)
                                               for name in self._params)
        return pairs

    def __getitem__(self, key: str) -> Param:
        return self._params[key]

    def __iter__(self):
        return iter(self._params)

    def __contains__(self, key: object) -> bool:
        # Mapping's own goes through __getitem__ and a caught KeyError: slow on the misses a run makes
        return key in self._params

    def __len__(self) -> int:
        return len(self._params)

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self._params.items()}

    def validate(self, values: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """Check every key is known and every value in range; return canonical values."""
        out = {}
        for key, value in values.items():
            if key not in self._params:
                hints = close_matches(key, self._params)
                hint = f" Did you mean {' or '.join(map(repr, hints))}?" if hints else ""
                raise ScenarioError(
                    f"{owner}: unknown parameter {key!r}.{hint} Valid parameters: "
                    + (", ".join(self._params) or "none"))
            out[key] = self._params[key].validate(value, owner)
        return out

    def __or__(self, other: "ParamSet") -> "ParamSet":
        return ParamSet([*self._params.values(), *other._params.values()])

    def prefixed(self, prefix: str) -> "ParamSet":
        """The same parameters named ``prefix + name`` (a name already so prefixed is kept)."""
        return ParamSet([
            Param(**{**p.__dict__, "name": p.name if p.name.startswith(prefix) else prefix + p.name})
            for p in self._params.values()])


def split_prefixed(values: Mapping[str, Any], components: Sequence[tuple[str, ParamSet]]
                   ) -> dict[str, dict[str, Any]]:
    """Group ``prefix + name`` values by component, with their own (unprefixed) names.

    ``components`` are ``(prefix, ParamSet)`` pairs; a name that already starts with its
    prefix is used as is (see ``ParamSet.prefixed``). Only components with at least one
    value appear in the result. Keys that belong to no component are ignored.
    """
    groups: dict[str, dict[str, Any]] = {}
    for prefix, params in components:
        for name, full in params.full_names(prefix):
            if full in values:
                groups.setdefault(prefix, {})[name] = values[full]
    return groups


def with_params(**ranges: dict[str, Any]) -> Callable[[Callable], Callable]:
    """Attach a ``ParamSet`` to a transform, taking each default from its signature.

    ``ranges`` maps each keyword-only parameter to the remaining ``Param`` fields
    (``doc``, ``kind``, ``low``, ``high``...), so a default is written exactly once.
    """
    def attach(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        params = []
        for name, spec in ranges.items():
            default = sig.parameters[name].default
            if default is inspect.Parameter.empty:
                raise TypeError(f"{fn.__name__}: parameter {name!r} needs a default")
            params.append(Param(name=name, default=default, **spec))
        missing = [n for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY and n not in ranges]
        if missing:
            raise TypeError(f"{fn.__name__}: no range declared for {missing}")
        fn.params = ParamSet(params)
        return fn

    return attach
