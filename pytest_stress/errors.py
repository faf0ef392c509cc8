"""Error types of pytest-stress, and the did-you-mean helper their messages use.

Every error names the thing that is wrong, the value it got, and what would be valid.
"""
from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "StressError",
    "ScenarioError",
    "UnknownScenarioError",
    "DataQualityError",
    "HistoricalDataError",
    "LookAheadError",
    "PathError",
    "close_matches",
    "DataGapWarning",
    "is_number",
    "is_integer",
]


class StressError(Exception):
    """Base class of every error raised by pytest-stress."""


class ScenarioError(StressError, ValueError):
    """A scenario, parameter or option is invalid."""


class UnknownScenarioError(ScenarioError, KeyError):
    """A scenario name is not in the library."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DataQualityError(StressError, ValueError):
    """Market data failed validation; ``report`` holds the findings."""

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


class HistoricalDataError(StressError):
    """A historical data source could not deliver what was asked."""


class LookAheadError(StressError):
    """A precomputed indicator used data from after the bar it belongs to."""


class DataGapWarning(UserWarning):
    """Market data has bars missing from its regular spacing (gaps are run as if the bars on
    either side were adjacent; no repair invents bars): said once per load, naming the symbol,
    the number of gaps and the longest."""


class PathError(StressError):
    """A path of a verdict raised (the trader's code, the check, or its worker died): an error,
    not a failed assertion, so the verdict stops there; the message names the path and its seed."""


def is_number(value: Any) -> bool:
    """A real number: Python's or numpy's ints and floats (``np.int64(5)``, ``np.float32``), never a
    bool (``True`` is not 1.0 here) nor a string. Finiteness and range are the caller's to check."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)   # np.bool_ is not a Real


def is_integer(value: Any) -> bool:
    """An integer: ``int`` or a numpy integer, never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def close_matches(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Choices that look like ``name``, case-insensitively, best first."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    if not hits:
        hits = [c for c in lowered if name.lower() in c or c in name.lower()][:n]
    return [lowered[h] for h in hits]


def unknown_name_message(kind: str, name: str, choices: Iterable[str]) -> str:
    """'unknown <kind> 'x'; did you mean ...? valid: ...' for any closed set of names."""
    choices = list(choices)
    hints = close_matches(name, choices)
    msg = f"unknown {kind} {name!r}"
    if hints:
        msg += "; did you mean " + " or ".join(repr(h) for h in hints) + "?"
    return msg + " Valid: " + ", ".join(repr(c) for c in choices)
