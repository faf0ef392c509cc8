"""The command line's progress display for long runs: a tqdm bar with an ETA on a terminal.

Shown only where a person watches: standard error is a terminal, ``CI`` is not set and
``TERM`` is not ``dumb``. On a pipe, in a file or in CI nothing is drawn and nothing else
changes: the output is the summary table alone. While a bar is shown, lines above it (a case's
verdict, the breaking point found, a log message) are written through ``tqdm.write``, which
clears the bar first, so they never mix with it.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
from typing import IO, Any

__all__ = ["wanted", "Progress", "levels_of", "level_note"]


def wanted(stream: IO[str] | None = None) -> bool:
    """Whether a progress bar may be drawn on ``stream`` (default: standard error)."""
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):   # a closed or stand-in stream
        return False
    return tty and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


class Progress:
    """One bar over ``total`` units (scenarios, paths, search levels), with rate and ETA, or
    nothing at all when it is not ``wanted``. ``write`` prints a line: above the bar on a
    terminal, as plain ``print`` to ``file`` otherwise (``quiet``: not at all without a bar)."""

    def __init__(self, total: int, unit: str, desc: str = "", *, enabled: bool | None = None) -> None:
        self.enabled = wanted() if enabled is None else enabled
        self._bar: Any = None
        self._logs: contextlib.ExitStack | None = None
        if not self.enabled:
            return
        from tqdm import tqdm   # lazy: only a terminal run draws a bar
        from tqdm.contrib.logging import logging_redirect_tqdm   # lazy: as above

        self._bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True, leave=False,
                         smoothing=0.1)
        self._logs = contextlib.ExitStack()
        self._logs.enter_context(logging_redirect_tqdm())   # warnings logged meanwhile go above the bar

    def advance(self, n: int = 1, *, note: str | None = None) -> None:
        if self._bar is None:
            return
        if self._bar.total is not None and self._bar.n + n > self._bar.total:   # an estimate ran short
            self._bar.total = self._bar.n + n
        if note is not None:
            self._bar.set_postfix_str(note, refresh=False)
        self._bar.update(n)

    @property
    def count(self) -> int:
        """Units done so far (0 without a bar)."""
        return int(self._bar.n) if self._bar is not None else 0

    def describe(self, desc: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(desc)

    def write(self, text: str, *, file: IO[str] | None = None, quiet: bool = False) -> None:
        """Print ``text`` to ``file``: standard error beside the bar when none is given (a line
        for the person watching, such as a case's verdict: never in a redirected standard output),
        standard output without a bar; ``quiet``: nothing at all without a bar."""
        if self._bar is not None:
            from tqdm import tqdm   # loaded with the bar

            tqdm.write(text, file=sys.stderr if file is None else file)
        elif not quiet:
            print(text, file=sys.stdout if file is None else file)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._logs is not None:
            self._logs.close()
            self._logs = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def levels_of(search_range: tuple[float, float] | None, precision: float | None, parameter: str | None) -> int:
    """About how many levels a breaking-point search evaluates (``breaking.py``: bisection to the
    precision, then the bracket's ends confirmed on independent paths): the bar's total, an
    estimate that the bar extends when a search needs more."""
    from .breaking import DEFAULT_HIGH, DEFAULT_PRECISION   # lazy: the search's own defaults, only for a search

    if parameter is None:
        low, high = search_range or (0.0, DEFAULT_HIGH)
        steps = abs(high - low) / (precision or DEFAULT_PRECISION)
    elif precision is None:
        steps = 100.0          # 1% of the parameter's range
    elif search_range is not None:
        steps = abs(search_range[1] - search_range[0]) / precision
    else:
        steps = 100.0          # the parameter's default range is not known here
    return max(1, math.ceil(math.log2(max(steps, 2.0)))) + 2


def level_note(level: Any, axis: str) -> str:
    """What the bar shows beside it for a decided breaking-point level (``result.breaking.Level``)."""
    return f"{axis} {level.x:.4g}: {level.verdict} ({level.failures} of {level.paths} paths failed)"
