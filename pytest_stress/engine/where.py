"""Where a run was when it was interrupted (by a time limit): the scenario, the bar and its
timestamp, read from the frames of the interrupting exception's traceback; and stopping an
interrupted run at its next bar (``stop_at_next_bar``) when the trader swallows the interruption.

Nothing is recorded per bar: the bar loop's own frame holds the bar index ``t`` and the
``ErrorPolicy`` (scenario name, timestamps), and ``runner.run_scenario``'s frame holds the
scenario; both are read only after the interruption.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

import numpy as np

from .loop import ErrorPolicy, bar_loop

__all__ = ["RunPosition", "position_of", "stop_at_next_bar"]


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


def _new_frames_untraced(frame: FrameType, event: str, arg: Any) -> None:
    """The thread's trace function while a stop is armed: it traces no new frame (one call per call)."""
    return None


def stop_at_next_bar(frame: FrameType | None, exc: BaseException) -> bool:
    """Make the bar loop running under ``frame`` (a signal handler's frame: the interrupted code)
    raise ``exc`` as soon as it has control again; False if no bar loop is in that stack.

    A time limit interrupts the trader's code; a trader that catches the interruption
    (``except BaseException: pass`` around a sleep) would return to the loop and go on to its
    next bar. The loop's own frame is then traced (``frame.f_trace``, as pdb does): its next line
    raises ``exc`` there, outside the trader's code, which cannot catch it. Nothing is checked per
    bar, so a run that is never interrupted costs nothing and runs as before, to the bit. Only an
    interruption that propagates (not swallowed) or the loop's end disarm it; the thread's previous
    trace function (a coverage tool's, say) is put back either way.
    """
    while frame is not None and frame.f_code is not bar_loop.__code__:
        frame = frame.f_back
    if frame is None:
        return False
    previous = sys.gettrace()
    unwinding = False

    def in_loop(f: FrameType, event: str, arg: Any) -> Any:
        nonlocal unwinding
        if event == "exception":      # the interruption propagates through the loop: nothing to add
            unwinding = True
        elif event == "return":
            sys.settrace(previous)
            return None
        elif event == "line" and not unwinding:
            f.f_trace = None
            sys.settrace(previous)
            raise exc
        return in_loop

    frame.f_trace = in_loop
    frame.f_trace_lines = True
    sys.settrace(previous or _new_frames_untraced)   # tracing on in this thread, or f_trace is never called
    return True
