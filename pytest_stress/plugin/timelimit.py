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
"""
from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from ..workers import DEFAULT_TIMEOUT
from .options import StressOptions

__all__ = ["apply_time_limits", "timed_out_summary", "describe_time_limit"]

_TIMEOUT_PLUGIN = "timeout"      # pytest-timeout's entry-point name
_MESSAGE_MARK = "from pytest-timeout"
#: Where a stress case's time limit came from, set with its marker (absent: not set by pytest-stress).
_SOURCE_KEY = pytest.StashKey[str]()


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
    """If ``call`` ended in pytest-timeout's failure: name the scenario and the bar in its
    message (in place, before the report is made) and return the case's summary (no metrics)."""
    exc = call.excinfo.value if call.excinfo is not None else None
    if not isinstance(exc, pytest.fail.Exception) or _MESSAGE_MARK not in str(exc.msg):
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
    if source is None:   # the test's own @pytest.mark.timeout, or pytest-timeout's --timeout / ini / env
        how = ("the test's own @pytest.mark.timeout" if marker is not None else
               "pytest-timeout's --timeout (or its timeout ini option, or PYTEST_TIMEOUT)")
        hint = f"the limit is {how}; a stress case's own: --stress-timeout or @stress(..., timeout=SECONDS)"
    else:
        hint = f"the limit is {source}; set it with --stress-timeout or @stress(..., timeout=SECONDS)"
    exc.msg = f"{exc.msg} pytest-stress: ran past its time limit{limit} in {where} ({hint})"
    return {"scenario": name, "scenario_type": None, "seed": seed, "success": False,
            "error": f"TimeLimitExceeded: ran past its time limit{limit} in {where}", "metrics": {}}
