"""Where a run was when it was interrupted (by a time limit): the scenario, the bar and its
timestamp, read from the frames of the interrupting exception's traceback.

Nothing is recorded per bar: the bar loop's own frame holds the bar index ``t`` and the
``ErrorPolicy`` (scenario name, timestamps), and ``runner.run_scenario``'s frame holds the
scenario; both are read only after the interruption.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from .loop import ErrorPolicy, bar_loop

__all__ = ["RunPosition", "position_of"]


@dataclass(frozen=True)
class RunPosition:
    """The scenario (name, seed) and the bar a run was on; ``bar`` None: before the bar loop."""

    scenario: str | None
    seed: int | None
    bar: int | None
    n_bars: int | None = None
    timestamp: str | None = None

    def describe(self) -> str:
        """``scenario 'X' (seed 1) at bar 17 of 1000 (2021-05-19T17:00:00Z)``, or where else it was."""
        who = f"scenario {self.scenario!r}" if self.scenario else "an unnamed scenario"
        if self.seed is not None:
            who += f" (seed {self.seed})"
        if self.bar is None:
            return f"{who} before its first bar (building the market, the indicators or the parts)"
        of = f" of {self.n_bars}" if self.n_bars is not None else ""
        return f"{who} at bar {self.bar}{of}" + (f" ({self.timestamp}Z)" if self.timestamp else "")


def position_of(tb: TracebackType | None) -> RunPosition | None:
    """Where the innermost scenario run in traceback ``tb`` was; None if no run is in it."""
    scenario: Any = None
    loop_locals: dict[str, Any] | None = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code is bar_loop.__code__:
            loop_locals = frame.f_locals
        elif frame.f_code.co_name == "run_scenario" and frame.f_globals.get("__name__") == "pytest_stress.runner":
            scenario, loop_locals = frame.f_locals.get("scenario"), None
        tb = tb.tb_next
    if scenario is None and loop_locals is None:
        return None
    name = getattr(scenario, "name", None) if not isinstance(scenario, str) else scenario
    seed = getattr(scenario, "seed", None)
    if loop_locals is None or not isinstance(loop_locals.get("t"), int):
        return RunPosition(name, seed, None)
    t: int = loop_locals["t"]
    errors = loop_locals.get("errors")
    stamp = None
    if isinstance(errors, ErrorPolicy):
        name = name or errors.scenario_name
        stamp = str(np.datetime_as_string(np.datetime64(int(errors.timestamps[t]), "ns"), unit="s"))
    n = loop_locals.get("n")
    return RunPosition(name, seed, t, n if isinstance(n, int) else None, stamp)
