"""What runs inside a worker process: one run, with its progress written to the store.

The trader factory is handed to each worker process once, by the pool's initializer
(``init_worker``). Progress comes from the run's own EventBus: a "bar" subscriber that
does nothing but count until ``every_s`` seconds (or ``every_bars`` bars) have passed, then
writes one progress row (bar, equity, drawdown from the peak of the sampled equity) and
reads the run's cancel flag. A cancelled run stops at that point (``RunCancelled``).

A breaking-point run (``spec["breaking_point"]``) is a search (``breaking.find_breaking_point``)
with the request's declarative check (``claims.Claims``), its paths one after the other
in this process, each with a fresh trader whose bus carries the progress subscriber (progress
counts the bars of every path run so far); then one run is shown with it, as the plugin shows
one: a path where the check held at the bracket's passing end.
"""
from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any, Callable

from ..plugin.session import summarize
from ..report.payload import case_payload, run_payload
from ..result.paths import PathChunk, PathsResult, PathTable, reduce_path
from ..runner import exchange_config, path_seeds, run_scenario
from ..trader.roles import EventBus
from ..trader.system import TradingSystem
from ..claims import claims_from_request
from .specs import build_scenario
from .store import RunStore

__all__ = ["init_worker", "execute", "RunCancelled"]

log = logging.getLogger("pytest_stress")

_FACTORY: Callable[[], Any] | None = None
_STORES: dict[str, RunStore] = {}


class RunCancelled(BaseException):
    """Raised from the progress subscriber when the run's cancel flag is set (not an Exception:
    nothing in the trader or the engine catches it)."""


def init_worker(factory: Callable[[], Any], server: int | None = None) -> None:
    """The pool's initializer: the server's trader factory, fixed for this process's life; and
    this process dies with the server (``server``, its pid), so that a server killed by SIGKILL
    or the OOM killer does not leave its workers running and writing progress for runs nobody
    will finish (issue 30). The kernel signals only the death of a parent (``PR_SET_PDEATHSIG``,
    ``workers._bind_to_parent``), and under the forkserver context the parent is the fork server,
    which the workers themselves keep alive (each holds a copy of its "alive" pipe); so the worker
    also watches the server: a thread blocked on a pidfd of it (``os.pidfd_open``, Linux 5.3+; else
    it looks every 0.5 s) SIGKILLs this process when the server ends. Then the fork server, its
    pipe closed by all, exits too."""
    global _FACTORY
    _FACTORY = factory
    from ..workers import _bind_to_parent   # lazy: only in a pool's worker process

    _bind_to_parent(None, keep=())
    if server is not None and server != os.getpid():
        _die_with(server)


def _die_with(pid: int) -> None:
    """SIGKILL this process when process ``pid`` ends (a daemon thread that waits for it)."""
    import select   # lazy: only in a pool's worker process
    import signal   # lazy: as above
    import threading   # lazy: as above

    try:
        fd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):   # no pidfd (not Linux, an old kernel) or already gone: look instead
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])   # readable once the process has ended
        else:
            while True:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:   # alive, someone else's (cannot be: it started us); keep looking
                    pass
                time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="pytest-stress server watch", daemon=True).start()


def _store(path: str) -> RunStore:
    """This process's store: a call to a database that dropped the connection tries to reach it
    once, not for seconds (a progress row is skipped rather than the run held up)."""
    if path not in _STORES:
        _STORES[path] = RunStore(path, reconnect_s=0.0)
    return _STORES[path]


def _start(store: RunStore, run_id: str, wait_s: float = 10.0) -> bool:
    """``store.start``, trying for up to ``wait_s`` while the database is unreachable."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return store.start(run_id, os.getpid())
        except store.errors:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


class Progress:
    """The "bar" subscriber: throttled progress rows and the cancel check. The equity's peak and
    the largest drawdown are followed on every bar (a comparison a bar), not only on the sampled
    ones: a short run's only row, its last, used to show the drawdown from a peak of one sample (0)."""

    def __init__(self, run_id: str, store: RunStore, every_s: float, every_bars: int, offset: int = 0,
                 initial: float = float("-inf")) -> None:
        self.run_id, self.store, self.every_s, self.every_bars = run_id, store, every_s, every_bars
        self.offset = offset       # bars of the earlier paths
        self.seq = 0
        self.unstored = 0          # progress rows skipped since the store became unreachable
        self.peak = initial        # this path's (the metrics' drawdown starts from the initial equity)
        self.max_dd = 0.0          # the largest drawdown of any path so far, percent
        self.next_at = time.monotonic() + every_s
        self.next_bar = every_bars or -1

    def new_path(self, offset: int, initial: float) -> None:
        """A path begins, after ``offset`` bars of earlier ones, from ``initial`` equity."""
        self.offset, self.peak = offset, initial

    def __call__(self, topic: str, ctx: Any) -> None:
        t, equity = ctx.t, ctx.equity
        if equity > self.peak:
            self.peak = equity
        elif self.peak > 0 and (self.peak - equity) * 100.0 > self.max_dd * self.peak:
            self.max_dd = (self.peak - equity) / self.peak * 100.0
        if (self.every_bars and t >= self.next_bar) or time.monotonic() >= self.next_at:
            self.emit(self.offset + t, equity)

    def emit(self, bar: int, equity: float, max_drawdown: float | None = None) -> None:
        """A progress row at ``bar`` (``max_drawdown``: the run's own figure, at its end)."""
        self.peak = max(self.peak, equity)
        dd = (1.0 - equity / self.peak) * 100.0 if self.peak > 0 else 0.0
        if max_drawdown is not None:
            self.max_dd = max_drawdown
        self.max_dd = max(self.max_dd, dd)
        self.seq += 1
        self.next_at = time.monotonic() + self.every_s
        if self.every_bars:
            self.next_bar = bar - self.offset + self.every_bars
        try:   # progress is a sample: with the store unreachable (a database restart) the run goes on
            self.store.add_progress(self.run_id, self.seq, int(bar), float(equity), float(dd), float(self.max_dd))
            cancelled = self.store.cancel_requested(self.run_id)
        except self.store.errors as exc:
            if not self.unstored:   # once per outage
                log.warning("run %s: the run store is unreachable; progress from bar %d is not stored until it is "
                            "back, the run goes on (%s)", self.run_id, bar, type(exc).__name__)
            self.unstored += 1
            self.seq -= 1
            return
        if self.unstored:
            log.warning("run %s: the run store is back (%d progress rows skipped)", self.run_id, self.unstored)
            self.unstored = 0
        if cancelled:
            raise RunCancelled(self.run_id)


def _run_drawdown(result: Any) -> float | None:
    """A single run's max_drawdown metric (percent), or None."""
    metrics = getattr(result, "metrics", None)
    value = (metrics() if callable(metrics) else metrics or {}).get("max_drawdown")
    return float(value) if isinstance(value, (int, float)) and value == value else None


def _attach(trader: Any, progress: Progress) -> bool:
    """Subscribe ``progress`` to the bus this trader's run will publish on; False if it has none."""
    if isinstance(trader, TradingSystem):
        trader.bus.subscribe("bar", progress)
        return True
    bus = getattr(trader, "bus", None)
    if bus is None:
        bus = EventBus()
        try:
            trader.bus = bus
        except AttributeError:   # __slots__ without a bus: the run goes on without live progress
            log.warning("trader %r takes no 'bus' attribute: no live progress for this run", trader)
            return False
    bus.subscribe("bar", progress)
    return True


def execute(run_id: str, spec: dict[str, Any], db: str, every_s: float, every_bars: int,
            factory: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Run one stored run; ``{"state": ..., "summary"|"error": ...}`` (the server writes it).
    ``factory``: the trader factory, where no pool initializer gave one (a dask worker)."""
    make = factory or _FACTORY
    if make is None:
        raise RuntimeError("worker process without a trader factory (init_worker was not called)")
    store = _store(db)
    if not _start(store, run_id):
        return {"state": "cancelled", "error": "cancelled before it started", "failure": "cancelled"}
    scenario = build_scenario(spec)
    exchange, account, paths = spec.get("exchange") or "calm", spec.get("account"), int(spec.get("paths") or 1)
    progress = Progress(run_id, store, every_s, every_bars)
    if spec.get("breaking_point"):
        return _search(run_id, scenario, spec, make, progress)
    try:
        seeds = path_seeds(scenario.seed, paths) if paths > 1 else [scenario.seed]
        chunk = PathChunk(0, PathTable.empty(paths))    # each path reduced to its row as it ends
        for i, seed in enumerate(seeds):
            sc = scenario if paths == 1 else scenario.replace(seed=seed)
            trader = make()
            progress.new_path(i * scenario.bars, scenario.initial_equity)
            _attach(trader, progress)
            views = sc.build_market()
            last = run_scenario(sc, trader, exchange, account=account, market=views)
            if paths > 1:
                reduce_path(chunk, i, seed, last)

        def rerun(i: int) -> Any:   # the worst path's full run, for the report: its seed again
            return run_scenario(scenario.replace(seed=seeds[i]), make(), exchange, account=account)

        result = last if paths == 1 else PathsResult(scenario, table=chunk.table, sketches=chunk.sketches,
                                                     rerun=rerun)
        progress.emit(paths * scenario.bars - 1, float(last.final_equity),
                      _run_drawdown(last) if paths == 1 else None)
    except RunCancelled:
        return dict(_CANCELLED)
    except Exception as exc:   # the user's trader failed: a failed run with its traceback, never a lost server
        return _trader_failed(run_id, scenario.name, exc)
    summary = summarize(result)
    summary["outcome"] = "passed" if result.success else "failed"
    config = exchange_config(exchange)   # the single run's market is reused, not built again
    summary["report"] = (run_payload(result, views if result.success else None, config) if paths == 1
                         else case_payload(result, scenario, config))
    if not result.success:
        return {"state": "failed", "error": summary.get("error") or "the run failed", "summary": summary,
                "failure": "run_error"}
    return {"state": "finished", "summary": summary}


#: The outcome of a run cancelled while it ran.
_CANCELLED = {"state": "cancelled", "error": "cancelled while running", "failure": "cancelled"}


def _trader_failed(run_id: str, what: str, exc: Exception) -> dict[str, Any]:
    """The outcome of a run whose trader raised: failed, with its traceback (logged too)."""
    detail = "".join(traceback.format_exception(exc)).rstrip()
    log.error("run %s (%s) failed: %s", run_id, what, detail)
    return {"state": "failed", "error": f"{type(exc).__name__}: {exc}\n{detail}", "failure": "trader_error"}


def _search(run_id: str, scenario: Any, spec: dict[str, Any], make: Callable[[], Any],
            progress: Progress) -> dict[str, Any]:
    """A breaking-point run (module docstring): the search, then the run shown with it."""
    from ..breaking import find_breaking_point, run_where_it_held, scenario_at   # lazy: only a breaking-point run
    from ..result.breaking import AT_LOW, BreakingCase   # lazy: as above

    search, exchange, account = spec["breaking_point"], spec.get("exchange") or "calm", spec.get("account")
    ran = 0

    def traders() -> Any:   # a fresh trader per path, its bus carrying the progress subscriber
        nonlocal ran
        trader = make()
        progress.new_path(ran * scenario.bars, scenario.initial_equity)
        ran += 1
        _attach(trader, progress)
        return trader

    try:
        bp = find_breaking_point(scenario, traders, claims_from_request(search["check"]), parameter=search["parameter"],
                                 low=search["low"], high=search["high"], precision=search["precision"],
                                 exchange=exchange, account=account, workers=1, max_runs=search["max_runs"])
        result, _ = run_where_it_held(bp, scenario, traders, exchange_config(exchange), account=account)
        progress.emit(ran * scenario.bars - 1, float(result.final_equity))
    except RunCancelled:
        return dict(_CANCELLED)
    except Exception as exc:   # the user's trader failed: a failed run with its traceback, never a lost server
        return _trader_failed(run_id, f"breaking point of {scenario.name}", exc)
    log.info("run %s: %s", run_id, bp.headline())
    summary = summarize(BreakingCase(result, bp))
    summary["check"] = search["describe"]
    # the check fails at the scenario as defined (or already at the mild end): the report marks it failed
    summary["outcome"] = "failed" if bp.status == AT_LOW or bp.breaks_as_defined else "passed"
    lo, hi = bp.bracket   # the run shown is at the passing end (the failing one when nothing passed)
    market = scenario_at(scenario, lo if lo is not None else hi, bp.parameter).replace(seed=result.seed)
    summary["report"] = case_payload(result, market, exchange_config(exchange))
    return {"state": "finished", "summary": summary}
