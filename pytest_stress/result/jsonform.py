"""The one JSON form of results: strict JSON, with non-finite floats as strings.

``inf``, ``-inf`` and ``nan`` are written as the strings "inf", "-inf" and "nan" (JSON
has no such numbers, and browsers and most tools reject Python's ``Infinity``/``NaN``
tokens); numpy scalars become Python numbers. Everything that writes a result (the
plugin's reports and baselines, ``ScenarioResult.to_dict``, Monte Carlo summaries) goes
through ``encode``, and everything that reads one back goes through ``decode``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import StressError

__all__ = ["encode", "decode", "decode_metrics"]

_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def encode(value: Any) -> Any:
    """A JSON-compatible copy of ``value`` (dicts, lists, tuples, arrays, numbers, strings)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, np.ndarray):
        return [encode(v) for v in value.tolist()] if value.dtype.kind == "f" else value.tolist()
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} {value!r} as JSON")


def decode(value: Any) -> Any:
    """``encode``'s inverse for numbers: "inf", "-inf" and "nan" strings become floats again."""
    if isinstance(value, str):
        return _NONFINITE.get(value, value)
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    return value


def decode_metrics(metrics: Any, where: str) -> dict[str, float | int | None]:
    """A metrics mapping read from JSON, checked: every value a number, a non-finite string or None."""
    if not isinstance(metrics, Mapping):
        raise StressError(f"{where}: 'metrics' is a {type(metrics).__name__}; expected a mapping of metric -> number")
    out: dict[str, float | int | None] = {}
    for name, raw in metrics.items():
        value = decode(raw)
        if value is not None and not isinstance(value, (int, float)):
            raise StressError(f"{where}: metric {name!r} = {raw!r}; expected a number, true/false, \"inf\", "
                              "\"-inf\", \"nan\" or null")
        out[name] = value
    return out
