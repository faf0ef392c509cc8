"""The time limit of each stress case, enforced by pytest-timeout.

Every stress case gets a ``@pytest.mark.timeout(seconds, method="signal", func_only=False)`` marker at
collection (on each xdist worker too): ``@stress(..., timeout=)`` first, else
``--stress-timeout`` / ini ``stress_timeout``, else pytest-timeout's own ``--timeout`` /
``timeout`` ini / ``PYTEST_TIMEOUT`` if set, else ``workers.DEFAULT_TIMEOUT`` (300 s: a
library scenario at 1,000 bars takes well under a second, see there). A test that carries
its own ``timeout`` marker keeps it. 0 means no limit.

The ``signal`` method (SIGALRM on the main thread of each process, which is where pytest
and xdist workers run tests) fails only that case and lets the session go on; the
interruption's traceback still holds the bar loop's frame, from which the failure message
names the scenario and the bar (``engine/where.py``: nothing is recorded per bar).
Without pytest-timeout (``pip install pytest-timeout``, or ``pytest-stress-trading[timeout]``) the
default limit is off (the report header says so) and an explicit limit is a usage error.

How a stress case's limit runs (``CaseClocks``, through pytest-timeout's own hooks for another
timer, ``pytest_timeout_set_timer`` / ``pytest_timeout_cancel_timer``; pytest-timeout still
raises the failure, ``timeout_sigalrm``):

- The clock runs only while the case's own code runs: its setup (the fixtures, where the
  scenario runs), its call and its teardown. It stops while pytest and the plugins make and
  send the reports (the plugin encodes and keeps each case's result there), so a limit never
  interrupts that bookkeeping: with pytest-timeout's timer, which spans the whole protocol, it
  could, and pytest ended the session with INTERNALERROR.
- At the limit, SIGALRM raises pytest-timeout's failure in the case's code. A trader that catches
  it (``except BaseException``) and returns is stopped before its next bar
  (``engine.where.stop_at_next_bar``).
- Second stage: a case still running ``grace`` seconds later (``--stress-timeout-grace``; it
  catches the interruption in a loop, or is inside C code that does not return to Python) cannot
  be stopped in its process. A watchdog thread then ends the process, saying which case and
  where its main thread was: under xdist the worker, which pytest-xdist reports as crashed while
  running that case and replaces (the other cases go on); in a session without xdist, the
  session, after saving the finished cases' results (``--stress-save``), with exit code 1. Code
  that holds the GIL (a C loop) starves that thread as well: ``faulthandler`` (C, no GIL) then
  dumps the stacks and ends the process ``grace`` seconds later still.
"""
from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

import pytest

from ..errors import StressError
from ..workers import DEFAULT_TIMEOUT
from .options import StressOptions
from .session import SESSION_KEY

__all__ = ["apply_time_limits", "timed_out_summary", "describe_time_limit", "CaseClocks", "register_clocks"]

log = logging.getLogger("pytest_stress")

_TIMEOUT_PLUGIN = "timeout"      # pytest-timeout's entry-point name
_MESSAGE_MARK = "from pytest-timeout"
#: Where a stress case's time limit came from, set with its marker (absent: not set by pytest-stress).
_SOURCE_KEY = pytest.StashKey[str]()
_STOPPED_MARK = "pytest-stress: ran past its time limit"   # the stop at the next bar (_Clock._on_alarm)


def _available(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin(_TIMEOUT_PLUGIN)


def _pytest_timeout_configured(config: pytest.Config) -> bool:
    """pytest-timeout has a limit of its own for every test (then that one applies by default)."""
    if not _available(config):
        return False
    values = (config.getoption("timeout", None), config.getini("timeout"), os.environ.get("PYTEST_TIMEOUT"))
    return any(v not in (None, "") for v in values)


def _session_limit(config: pytest.Config, options: StressOptions) -> float | None:
    if options.timeout is not None:
        return options.timeout
    return None if _pytest_timeout_configured(config) else DEFAULT_TIMEOUT


def describe_time_limit(config: pytest.Config, options: StressOptions) -> str:
    """One phrase for the report header."""
    if not _available(config):
        return "no time limit per case (pytest-timeout is not installed)"
    if options.timeout is None and _pytest_timeout_configured(config):
        return "time limit per case from pytest-timeout's own setting"
    limit = _session_limit(config, options)
    return f"time limit {limit:g} s per case" if limit else "no time limit per case"


def apply_time_limits(config: pytest.Config, items: list[pytest.Item], options: StressOptions) -> None:
    """Give every stress case its time limit as a pytest-timeout marker."""
    session_limit = _session_limit(config, options)
    explicit = options.timeout is not None
    available = _available(config)
    for item in items:
        callspec = getattr(item, "callspec", None)
        param = callspec.params.get("stress_scenario") if callspec else None
        if param is None or item.get_closest_marker("timeout") is not None:
            continue
        own = param[0].overrides.get("timeout")
        seconds = own if own is not None else session_limit
        if seconds is None:
            continue
        if not available:
            if own is not None or explicit:
                what = f"@stress(timeout={own!r}) on {item.nodeid}" if own is not None else "--stress-timeout"
                raise pytest.UsageError(f"{what} needs pytest-timeout to enforce it: pip install pytest-timeout "
                                        "(or pytest-stress-trading[timeout]), or drop the time limit")
            continue
        kwargs: dict[str, Any] = {"func_only": False}   # the scenario runs in the stress_result fixture's setup
        if hasattr(signal, "SIGALRM"):
            kwargs["method"] = "signal"                # fails the case; "thread" would end the process
        item.add_marker(pytest.mark.timeout(seconds, **kwargs))
        item.stash[_SOURCE_KEY] = ("@stress(..., timeout=)" if own is not None else
                                   "--stress-timeout / ini stress_timeout" if explicit else "pytest-stress's default")


def timed_out_summary(item: pytest.Item, call: pytest.CallInfo[Any]) -> dict[str, Any] | None:
    """If ``call`` ended in pytest-timeout's failure (or in the stop at the next bar of a trader
    that caught it): name the scenario and the bar in its message (in place, before the report
    is made) and return the case's summary (no metrics)."""
    exc = call.excinfo.value if call.excinfo is not None else None
    if not isinstance(exc, pytest.fail.Exception):
        return None
    swallowed = str(exc.msg).startswith(_STOPPED_MARK)
    if not swallowed and _MESSAGE_MARK not in str(exc.msg):
        return None
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("stress_scenario") if callspec else None
    from ..engine.where import position_of   # lazy: the bar loop (numpy), only after a time-out

    pos = position_of(call.excinfo.tb)
    if pos is None and param is None:
        return None
    if pos is not None:
        where, name, seed = pos.describe(), pos.scenario, pos.seed
    else:
        scenario = param[1]
        name = scenario if isinstance(scenario, str) else scenario.name
        where, seed = f"scenario {name!r}, outside the scenario run", None
    marker = item.get_closest_marker("timeout")
    source = item.stash.get(_SOURCE_KEY, None)
    limit = f" of {marker.args[0]:g} s" if source is not None and marker is not None and marker.args else ""
    if swallowed:
        exc.msg = f"{exc.msg}, in {where}"
        return {"scenario": name, "scenario_type": None, "seed": seed, "success": False,
                "error": f"TimeLimitExceeded: ran past its time limit{limit}, caught the interruption and went on; "
                         f"stopped in {where}", "metrics": {}}
    if source is None:   # the test's own @pytest.mark.timeout, or pytest-timeout's --timeout / ini / env
        how = ("the test's own @pytest.mark.timeout" if marker is not None else
               "pytest-timeout's --timeout (or its timeout ini option, or PYTEST_TIMEOUT)")
        hint = f"the limit is {how}; a stress case's own: --stress-timeout or @stress(..., timeout=SECONDS)"
    else:
        hint = f"the limit is {source}; set it with --stress-timeout or @stress(..., timeout=SECONDS)"
    exc.msg = f"{exc.msg} pytest-stress: ran past its time limit{limit} in {where} ({hint})"
    return {"scenario": name, "scenario_type": None, "seed": seed, "success": False,
            "error": f"TimeLimitExceeded: ran past its time limit{limit} in {where}", "metrics": {}}


def _stress_case(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "stress_scenario" in callspec.params


def register_clocks(config: pytest.Config, grace: float) -> None:
    """Run stress cases' time limits on ``CaseClocks`` where pytest-timeout's signal method can."""
    if _available(config) and hasattr(signal, "SIGALRM"):
        config.pluginmanager.register(CaseClocks(config, grace), "stress-case-clocks")


class _Watchdog:
    """One daemon thread per process that calls ``clock.give_up()`` if ``clock`` is still armed
    at its deadline (``arm`` / ``disarm`` from the main thread, at each phase's start and end)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._clock: _Clock | None = None
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None

    def arm(self, clock: _Clock, deadline: float) -> None:
        with self._cond:
            self._clock, self._deadline = clock, deadline
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="pytest-stress watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._clock = self._deadline = None
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while True:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                clock = self._clock
                break
        assert clock is not None
        clock.give_up()


class _Clock:
    """One stress case's time limit: ``left`` seconds of its own phases (setup, call, teardown)."""

    def __init__(self, clocks: CaseClocks, item: pytest.Item, settings: Any) -> None:
        self.clocks, self.item, self.settings = clocks, item, settings
        self.limit = float(settings.timeout)
        self.left = self.limit
        self.fired = False          # the limit was reached and the case interrupted
        self.debugging = False      # pytest-timeout saw a debugger and did not interrupt
        self.when = "setup"

    def _on_alarm(self, signum: int, frame: Any) -> None:
        from pytest_timeout import timeout_sigalrm   # lazy: pytest-timeout's failure, only at a time-out

        try:
            timeout_sigalrm(self.item, self.settings)   # dumps other threads' stacks, raises its failure
        except BaseException:
            self.fired = True
            from ..engine.where import stop_at_next_bar   # lazy: the bar loop (numpy), only at a time-out

            # a test outcome, as pytest-timeout's (pytest's setup and teardown handle no other BaseException)
            stop_at_next_bar(frame, pytest.fail.Exception(
                f"{_STOPPED_MARK} of {self.limit:g} s; the trader caught the interruption and went on, so its run "
                "was stopped before its next bar"))
            self.clocks.arm(self, self.clocks.grace)   # the second stage, from now
            raise
        self.debugging = True                          # under a debugger: pytest-timeout lets it run
        self.clocks.disarm()

    def resume(self, when: str) -> None:
        self.when = when
        signal.signal(signal.SIGALRM, self._on_alarm)
        if self.debugging:
            return
        if self.fired:                                 # interrupted already: this phase gets the grace period
            self.clocks.arm(self, self.clocks.grace)
            return
        left = max(self.left, 1e-3)                    # at 0 the alarm is due: it still fires
        self.clocks.backstop(left + self.clocks.grace)  # if the alarm's handler cannot run (a C loop)
        signal.setitimer(signal.ITIMER_REAL, left)

    def pause(self) -> None:
        left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        self.clocks.disarm()
        if not self.fired:
            self.left = left

    def give_up(self) -> None:
        """The second stage, on the watchdog thread: the case is still running ``grace`` seconds after
        its limit; end this process (module docstring)."""
        item, grace = self.item, self.clocks.grace
        ident = threading.main_thread().ident
        main = sys._current_frames().get(ident) if ident is not None else None
        stack = "".join(traceback.format_stack(main)) if main is not None else "(no stack)\n"
        how = ("was interrupted at its limit and did not stop within" if self.fired else
               "could not be interrupted at its limit (its code did not return to Python) for")
        lines = [f"pytest-stress: {item.nodeid} ({self.when}) ran past its time limit of {self.limit:g} s and {how} "
                 f"{grace:g} s (--stress-timeout-grace); where it was:", stack.rstrip()]
        if hasattr(item.config, "workerinput"):
            lines.append("pytest-stress: nothing in this process can stop it, so this xdist worker ends here: "
                         "pytest-xdist reports the case as crashed and starts a new worker; the other cases go on.")
        else:
            lines.append(self._end_session())
        text = "\n".join(lines)
        log.critical("%s", text)
        self.clocks.write(text)
        os._exit(1)

    def _end_session(self) -> str:
        saved = ""
        stress = self.item.config.stash.get(SESSION_KEY, None)
        if stress is not None and stress.options.save:
            try:
                stress.finish(self.item.session)   # the main thread is stuck in the case: nothing else writes
                saved = f" The {stress.saved} finished case(s) were saved to {stress.saved_to}."
            except StressError as exc:
                saved = f" Saving the finished cases failed: {exc}"
        return ("pytest-stress: nothing in this process can stop it, so the session ends here (exit code 1); the "
                f"cases after it did not run.{saved} Run the session under pytest-xdist (-n 2), where such a case "
                "ends only its worker and costs only itself.")


class CaseClocks:
    """The time limits of stress cases under pytest-timeout's signal method (module docstring)."""

    def __init__(self, config: pytest.Config, grace: float) -> None:
        self.config, self.grace = config, grace
        self._watchdog: _Watchdog | None = None
        # the C-level backstop writes where the terminal is, not into a case's captured output
        capman = config.pluginmanager.getplugin("capturemanager")
        saved = getattr(getattr(getattr(capman, "_global_capturing", None), "err", None), "targetfd_save", None)
        self._stderr = os.dup(saved if isinstance(saved, int) else 2)
        # pytest's own faulthandler_timeout uses the one faulthandler timer: then it is left to it
        self._backstop = not float(config.getini("faulthandler_timeout") or 0)

    def arm(self, clock: _Clock, seconds: float) -> None:
        """The second stage in ``seconds``: the watchdog thread (started at the first interruption, so
        that no thread of the plugin's runs before one: none is in pytest-timeout's dump of the
        other threads, none is copied by a fork), and the backstop ``grace`` seconds later."""
        if self._watchdog is None:
            self._watchdog = _Watchdog()
        self._watchdog.arm(clock, time.monotonic() + seconds)
        self.backstop(seconds + self.grace)

    def backstop(self, seconds: float) -> None:
        """``faulthandler`` ends the process in ``seconds`` (C code, no GIL needed), dumping every thread's stack."""
        if self._backstop:
            faulthandler.dump_traceback_later(seconds, exit=True, file=self._stderr)

    def disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.disarm()
        if self._backstop:
            faulthandler.cancel_dump_traceback_later()

    def write(self, text: str) -> None:
        try:
            os.write(self._stderr, (text + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> bool | None:
        if (not _stress_case(item) or settings.method != "signal"
                or threading.current_thread() is not threading.main_thread()):
            return None                              # pytest-timeout's own timer
        item.stash[_CLOCK] = _Clock(self, item, settings)
        return True

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_timeout_cancel_timer(self, item: pytest.Item) -> bool | None:
        clock = item.stash.get(_CLOCK, None)
        if clock is None:
            return None
        del item.stash[_CLOCK]
        clock.pause()
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        return True

    def _phase(self, item: pytest.Item, when: str) -> Any:
        clock = item.stash.get(_CLOCK, None)
        if clock is None:
            return (yield)
        clock.resume(when)
        try:
            return (yield)
        finally:
            clock.pause()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        return (yield from self._phase(item, "setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        return (yield from self._phase(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Any:
        return (yield from self._phase(item, "teardown"))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        os.close(self._stderr)


_CLOCK = pytest.StashKey[_Clock]()
