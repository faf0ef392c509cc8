"""Running scenarios: one (``run_scenario``), on Monte Carlo paths (``run_paths``), or many in parallel.

``run_batch`` uses worker processes by default (``workers.py``: a worker that dies or a
scenario that hangs loses only that scenario) and takes any ``concurrent.futures.Executor``
(a dask.distributed client's ``get_executor()`` included). Results come back in input
order, and one failing scenario never loses the others.
"""
from __future__ import annotations

import logging
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from . import library
from .account.ledger import Ledger
from .account.portfolio import Portfolio, mark_to_market
from .account.rules import Account, account_from
from .account.view import AccountView
from .engine.book import OrderBook
from .engine.loop import ErrorPolicy, LoopRecord, bar_loop
from .engine.where import position_of
from .errors import LookAheadError, PathError, ScenarioError
from .exchange.config import ExchangeConfig, preset
from .exchange.simulator import SimulatedExchange
from .indicators import precompute_indicators
from .market.data import MarketData, MarketViews
from .result.metrics import METRIC_FIELDS, drawdown_curve, equity_metrics, execution_metrics, trade_metrics
from .result.models import ScenarioResult
from .paths_pool import resolve_path_workers, run_path_chunks, run_path_range
from .result.paths import PathChunk, PathsResult, PathTable, reduce_path
from .result.verdicts import PathFailure, VerdictResult
from .result.table import format_table
from .scenario.definition import Scenario, derive_seed
from .trader.context import BarContext
from .trader.system import as_decider
from .verdict import DEFAULT_RULE, VerdictRule
from .workers import DEFAULT_TIMEOUT, Outcome, TimeLimitExceeded, rerun_on_fresh_pools, run_tasks, step

__all__ = ["run_scenario", "run_paths", "run_verdict", "path_seeds", "run_batch", "BatchResult", "exchange_config"]

log = logging.getLogger("pytest_stress")


def _resolve(scenario: Scenario | str) -> Scenario:
    if isinstance(scenario, str):
        return library.get(scenario)
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"scenario = {scenario!r}; expected a Scenario or a library name")
    return scenario


def exchange_config(exchange: ExchangeConfig | str | None) -> ExchangeConfig:
    """The exchange configuration for ``exchange``: a config, a preset name, or None ('calm')."""
    if exchange is None:
        return preset("calm")
    if isinstance(exchange, str):
        return preset(exchange)
    if isinstance(exchange, ExchangeConfig):
        return exchange
    raise ScenarioError(f"exchange={exchange!r}: expected an ExchangeConfig or a preset name")


def run_scenario(scenario: Scenario | str, trader: Any, exchange: ExchangeConfig | str | None = None, *,
                 account: Account | str | None = None, market: MarketViews | None = None,
                 record_errors: bool = False) -> ScenarioResult:
    """Run ``trader`` through one scenario (a ``Scenario`` or a library name) and measure it.

    ``exchange`` is an ``ExchangeConfig`` or a preset name ('frictionless', 'calm',
    'stressed'; default 'calm'). ``account`` is an ``Account`` or a preset name ('margin',
    the default 1x margin account; 'cash', 'reg-t', 'perpetual'; or 'perpetual:leverage=10').
    ``market`` reuses views already built for this scenario.
    Errors in the trader's code propagate, annotated with the scenario, bar and
    timestamp, unless ``record_errors`` (then: ``component_errors``, and the run goes on).

    The one place a scenario is run: build the market and the parts, wire them, run the
    bar loop, measure.
    """
    started = time.perf_counter()
    scenario = _resolve(scenario)
    config = exchange_config(exchange)
    rules = account_from(account)
    # build
    # (keep_base=False: the stresses write into the base market's memory; a run never reads the base)
    views = market if market is not None else scenario.build_market(keep_base=False)
    true, feed, corrupted = views.true, views.feed, views.corrupted
    del views, market     # the unstressed base market is not needed during the run: let it go
    faults = scenario.faults
    # wire
    decider = as_decider(trader)
    errors = ErrorPolicy(scenario.name, feed, record_errors)
    try:
        indicators = precompute_indicators(trader, feed)
    except (LookAheadError, ScenarioError):
        raise          # not the trader's code failing but its indicators being wrong: never recorded
    except Exception as exc:
        # the trader's indicators(feed) raised: named (before bar 0), or recorded and the run goes on without
        # them (each ctx.value/ctx.indicator then raises, and is recorded, on the bar it is read)
        errors.handle(exc, 0, "indicators(feed) hook, computed once before the first bar", None)
        indicators = {}
    portfolio = Portfolio(true.symbols, scenario.initial_equity, true.close)
    book = OrderBook(true.symbols)
    ledger = Ledger(rules, portfolio, true, config.taker_fee,
                    partial(scenario.rng, "adl") if rules.kind == "perpetual" and rules.adl else None,
                    scenario.rng("funding") if rules.kind == "perpetual" else None)
    ctx = BarContext(feed, portfolio, book, decider.policy, decider.bus, indicators)
    del indicators        # the context holds the one copy it reads from
    decider.policy.follow(ctx)     # policy changes are recorded at the run's bar
    ctx.account = AccountView(ledger, ctx)
    exchange_sim = SimulatedExchange(config, true, scenario.rng("exchange"), faults)
    model_faults = faults.model_schedule(true.n_bars, scenario.rng("faults"))
    # loop
    record = bar_loop(feed, decider, exchange_sim, portfolio, book, ctx, model_faults,
                      errors, ledger)
    # measure, without the loop's parts: the exchange's per-bar conditions, the context (its
    # indicators) and a corrupted feed go before the measure's arrays are made. ctx refers to its
    # account view and to the policy, which refer back to it: unlinked, they (and the market) go
    # now, not at a full gc (tests/test_memory.py)
    ctx.account = None
    decider.policy.follow(None)    # the run is over: the policy is outside a run again (bar -1)
    del ctx, exchange_sim, feed, book, model_faults
    # the market goes too (unless the caller holds it): what the measure and the result need of it
    # are the true closes and the timestamps, copied first; the account's parts forget their views
    # of it, so its arrays are freed before the measure's are made (issue #16)
    closes = MarketCloses(true.symbols, true.bar_seconds, np.array(true.close, copy=True), true.timestamps.copy(),
                          int(np.count_nonzero(corrupted[:true.n_bars])))
    ledger.drop_market()
    portfolio.drop_market()
    del true, corrupted
    result = _measure(scenario, closes, portfolio, record, decider, ledger)
    result.duration_s = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class MarketCloses:
    """What measuring a run needs of its true market: the closes (symbol, bar) the positions are
    marked at, the timestamps, and the number of corrupted feed bars."""

    symbols: tuple[str, ...]
    bar_seconds: int
    close: np.ndarray
    timestamps: np.ndarray
    data_issues: int


def _measure(scenario: Scenario, market: MarketCloses, portfolio: Portfolio, record: LoopRecord, decider: Any,
             ledger: Ledger) -> ScenarioResult:
    """Metrics of the run. Positions are marked at the true close: the venue's mark price, the
    price liquidation is checked on too (the trader's own impact is paid in its fills)."""
    marks = market.close
    n = marks.shape[1]
    equity, gross, qty, held_value = mark_to_market(record.snapshot_bars, record.snapshot_cash,
                                                    record.snapshot_qty, scenario.initial_equity, marks)
    drawdown = drawdown_curve(np.concatenate([[scenario.initial_equity], equity]))
    fields = equity_metrics(equity, gross, scenario.initial_equity, market.bar_seconds, drawdown)
    trades = portfolio.trades + portfolio.open_trades(n - 1, marks[:, -1].tolist())
    fields.update(trade_metrics(trades))
    fields.update(execution_metrics(record.executions))
    fields.update(orders_submitted=record.orders_submitted, model_failures=record.model_failures,
                  component_errors=record.component_errors, risk_rejections=decider.risk_rejections,
                  emergency_stops=decider.emergency_stops,
                  data_issues=market.data_issues)
    fields.update(ledger.counters())
    fields.update(ledger.margin_curves(qty, marks, equity, gross))
    del gross
    cash = np.subtract(equity, held_value, out=held_value)    # the cash curve, in place (issue #16)
    del held_value
    missing = set(METRIC_FIELDS) - set(fields)
    unknown = set(fields) - set(METRIC_FIELDS)
    if missing or unknown:   # the metric table and the measurements must agree
        raise AssertionError(f"metrics not measured: {sorted(missing)}; measured but not in METRICS: {sorted(unknown)}")
    return ScenarioResult(
        scenario_name=scenario.name, scenario_type=scenario.type.value, seed=scenario.seed, **fields,
        component_error_details=record.component_error_details,
        risk_rejection_details=[f"bar {t}: {reason}" for t, reason in decider.rejection_reasons],
        policy_changes=list(decider.policy.changes), equity_curve=equity,
        drawdown_curve=drawdown[1:],
        timestamps=market.timestamps, trades=trades, executions=record.executions,
        symbols=market.symbols, positions=qty, cash_curve=cash, mark_prices=marks,
        account=ledger.account.describe())


def path_seeds(seed: int, paths: int) -> list[int]:
    """The seeds of Monte Carlo paths 0..paths-1 of a scenario with this seed."""
    return [derive_seed(seed, i) for i in range(paths)]


@dataclass(frozen=True)
class _PathJob:
    """What every path of a ``run_paths`` call shares (sent once per worker, or per chunk to an executor)."""

    scenario: Scenario
    trader_factory: Callable[[], Any]
    exchange: ExchangeConfig
    account: Account
    record_errors: bool


def _run_path(job: _PathJob, path: int) -> ScenarioResult:
    """Path ``path`` of the job, in full, with a fresh trader."""
    sc = job.scenario.replace(seed=derive_seed(job.scenario.seed, path))
    return run_scenario(sc, job.trader_factory(), job.exchange, account=job.account, record_errors=job.record_errors)


def _run_path_chunk(job: _PathJob, start: int, stop: int) -> PathChunk:
    """Paths ``start..stop-1``, each reduced to its row where it ran; a path whose trader
    raises becomes a failed row with its traceback, never a lost chunk."""
    chunk = PathChunk(start, PathTable.empty(stop - start))
    for i in range(start, stop):
        step(i)   # in a worker under a time limit: path i's own clock starts
        try:
            reduce_path(chunk, i, derive_seed(job.scenario.seed, i), _run_path(job, i))
        except TimeLimitExceeded as exc:   # raised by the worker process at the path's deadline (workers.py)
            seed = derive_seed(job.scenario.seed, i)
            pos = position_of(exc.__traceback__)
            where = pos.describe() if pos is not None else f"scenario {job.scenario.name!r}"
            log.error("path %d (seed %d) %s, in %s", i, seed, exc, where)
            reduce_path(chunk, i, seed, None, f"TimeLimitExceeded: path {i} (seed {seed}) {exc}, in {where}")
        except Exception as exc:  # the user's trader raised: this path fails, the others run
            detail = "".join(traceback.format_exception(exc)).rstrip()
            seed = derive_seed(job.scenario.seed, i)
            log.error("scenario %r, path %d (seed %d) failed: %s", job.scenario.name, i, seed, detail)
            reduce_path(chunk, i, seed, None, f"{type(exc).__name__}: {exc} (path {i}, seed {seed})\n{detail}")
    return chunk


def run_paths(scenario: Scenario | str, trader_factory: Callable[[], Any], paths: int,
              exchange: ExchangeConfig | str | None = None, *, account: Account | str | None = None,
              record_errors: bool = False, workers: int | str | None = None,
              executor: Executor | None = None, progress: Callable[[int], None] | None = None,
              timeout: float | None = DEFAULT_TIMEOUT) -> PathsResult:
    """Run ``scenario`` on ``paths`` market paths, each with a fresh trader from ``trader_factory``.

    Path i uses seed ``derive_seed(scenario.seed, i)``. Paths run in ``workers`` worker
    processes (None or "auto": the cores divided by the xdist workers sharing them; 1, or
    fewer than 4 paths: in this process), or on ``executor`` (any
    ``concurrent.futures.Executor``, e.g. a dask.distributed client's ``get_executor()``;
    ``trader_factory`` and the scenario must then pickle; ``workers``, if given, says how many
    workers it has, for cutting the paths into tasks). Each path is reduced to its metric
    row where it ran (``PathsResult`` keeps rows, not runs; ``worst()`` reruns a path's seed
    here for its full result). The rows are bit-identical whatever the workers or executor.
    A path whose trader raises, or whose worker process dies, fails alone: its row has
    ``success`` False and an ``error`` naming its seed (``PathsResult.failures``).
    ``progress(n)``: called in this process as each chunk of n paths is done (not with an executor).
    ``timeout``: seconds each path may run in a worker process (default ``DEFAULT_TIMEOUT``;
    None or 0: no limit), enforced as ``run_batch``'s: a path past it is interrupted and fails
    alone, naming its bar; one that does not stop within the grace period has its worker killed
    (the other paths run again, to the same rows). With a limit, paths run in worker processes
    even when there are fewer than 4; ``workers=1`` (this process) and an executor have none.
    """
    scenario = _resolve(scenario)
    _check_timeout(timeout)
    if not isinstance(paths, int) or isinstance(paths, bool) or paths < 1:
        raise ScenarioError(f"paths = {paths!r}; expected an integer >= 1")
    if not callable(trader_factory):
        raise ScenarioError(f"trader_factory = {trader_factory!r}; expected a zero-argument callable that builds "
                            "a fresh trader (the class, or a function)")
    job = _PathJob(scenario, trader_factory, exchange_config(exchange), account_from(account), record_errors)
    table, sketches = run_path_chunks(_run_path_chunk, job, paths, workers=workers, executor=executor,
                                      progress=progress, seed_of=lambda i: derive_seed(scenario.seed, i),
                                      name=scenario.name, timeout=float(timeout) if timeout else None)
    return PathsResult(scenario, table=table, sketches=sketches, rerun=partial(_run_path, job))


#: A claim about one path: ``check(result, trader)`` returns if it holds on that path and raises
#: ``AssertionError`` if it does not; anything else it raises is an error in the check itself.
Check = Callable[[ScenarioResult, Any], None]


@dataclass(frozen=True)
class _VerdictJob:
    """What every path of a ``run_verdict`` call shares: the paths' job and the claim."""

    paths: _PathJob
    check: Check


def _judge(job: _VerdictJob, chunk: PathChunk, path: int, result: ScenarioResult, trader: Any) -> None:
    """Reduce path ``path``'s run into ``chunk`` and note whether the claim holds on it."""
    reduce_path(chunk, path, result.seed, result)
    try:
        job.check(result, trader)
    except AssertionError as exc:
        chunk.checks[path] = str(exc).strip() or f"{type(exc).__name__} (no message)"


def _run_verdict_path(job: _VerdictJob, chunk: PathChunk, path: int) -> None:
    """Run and judge one path with a fresh trader; what it raises (but a failed claim) propagates."""
    trader = job.paths.trader_factory()
    sc = job.paths.scenario.replace(seed=derive_seed(job.paths.scenario.seed, path))
    p = job.paths
    _judge(job, chunk, path, run_scenario(sc, trader, p.exchange, account=p.account, record_errors=p.record_errors),
           trader)


def _run_verdict_chunk(job: _VerdictJob, start: int, stop: int) -> PathChunk:
    """Paths ``start..stop-1`` in a worker. An error (the trader's code or the check raised) is not
    a statistic: it becomes a failed row with its traceback and ends the chunk."""
    chunk = PathChunk(start, PathTable.empty(stop - start))
    for i in range(start, stop):
        try:
            _run_verdict_path(job, chunk, i)
        except Exception as exc:   # reported in path order by run_verdict, which stops there
            seed = derive_seed(job.paths.scenario.seed, i)
            detail = "".join(traceback.format_exception(exc)).rstrip()
            reduce_path(chunk, i, seed, None, f"{type(exc).__name__}: {exc} (path {i}, seed {seed})\n{detail}")
            break
    return chunk


def _round(rule: VerdictRule, failures: int, done: int, workers: int) -> int:
    """How many paths the next round runs in parallel: up to the next path count at which a
    PASS is possible (fewer would certainly need another round; more are wasted if it passes),
    at most 16 per worker (a clean case in one round; a failing one is decided in a few paths,
    and what it wastes is at most a round's paths), at least one per worker."""
    pass_max, _ = rule.boundaries
    ahead = np.flatnonzero(pass_max[done + 1:] >= failures)
    to_pass = int(ahead[0]) + 1 if len(ahead) else rule.max_paths - done
    size = max(workers, min(to_pass, 16 * workers))
    return min(-(-size // workers) * workers, rule.max_paths - done)


def run_verdict(scenario: Scenario | str, trader_factory: Callable[[], Any], check: Check,
                exchange: ExchangeConfig | str | None = None, *, rule: VerdictRule | None = None,
                account: Account | str | None = None, record_errors: bool = False,
                workers: int | str | None = None, executor: Executor | None = None,
                first: tuple[ScenarioResult, Any] | None = None) -> VerdictResult:
    """Decide ``check`` about ``scenario`` over its paths (``verdict.VerdictRule``, default: pass if
    it fails on at most 1% of paths, fail if on at least 10%, each error at most 5%).

    Path i is the scenario with seed ``derive_seed(scenario.seed, i)`` and a fresh trader from
    ``trader_factory``; ``check(result, trader)`` raises ``AssertionError`` where the claim
    does not hold. Paths run one after the other in this process (``workers`` 1; the trader's
    and the check's exceptions propagate as raised: an error is not a statistic), or in rounds
    on ``workers`` worker processes or an ``executor`` (an error there raises ``PathError``
    with its traceback, naming the path and its seed). The rule is applied in path order and
    paths computed beyond the deciding one are discarded, so the verdict and every figure are
    the same to the bit whatever runs the paths. ``first``: path 0's result and trader, already
    run. Under an executor, the trader factory, the check and the scenario must pickle.
    """
    scenario = _resolve(scenario)
    rule = rule if rule is not None else DEFAULT_RULE
    if not callable(trader_factory):
        raise ScenarioError(f"trader_factory = {trader_factory!r}; expected a zero-argument callable that builds "
                            "a fresh trader (the class, or a function)")
    job = _VerdictJob(_PathJob(scenario, trader_factory, exchange_config(exchange), account_from(account),
                               record_errors), check)
    n_workers = resolve_path_workers(workers)
    table = PathTable.empty(rule.max_paths)
    sketches: dict[int, tuple[int, Any, Any]] = {}
    failing: list[PathFailure] = []
    done, decided = 0, None
    seed_of = partial(derive_seed, scenario.seed)
    while decided is None:
        if done == 0 and first is not None:
            chunks = [PathChunk(0, PathTable.empty(1))]
            _judge(job, chunks[0], 0, *first)
        elif executor is None and n_workers == 1:
            chunks = [PathChunk(done, PathTable.empty(1))]
            _run_verdict_path(job, chunks[0], done)
        else:
            stop = done + _round(rule, len(failing), done, n_workers)
            chunks = run_path_range(_run_verdict_chunk, job, done, stop, seed_of=seed_of, name=scenario.name,
                                    workers=n_workers, executor=executor)
        for c in chunks:
            for i in range(c.start, c.start + len(c.table)):
                if not c.table.success[i - c.start]:
                    raise PathError(f"scenario {scenario.name!r}, path {i} (seed {seed_of(i)}): "
                                    f"{c.table.errors.get(i - c.start, 'failed')}")
                table.put(i, c.table.rows(i - c.start, i - c.start + 1))
                if i in c.sketches:
                    sketches[i] = c.sketches[i]
                if i in c.checks:
                    failing.append(PathFailure(i, seed_of(i), c.checks[i]))
                done = i + 1
                decided = rule.decision(len(failing), done)
                if decided is not None:
                    break
            if decided is not None:
                break
    paths = PathsResult(scenario, table=table.rows(0, done), sketches=sketches, rerun=partial(_run_path, job.paths))
    return VerdictResult(rule, decided, failing, paths)


def _check_timeout(timeout: Any) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not timeout >= 0 or math.isinf(timeout)):
        raise ScenarioError(f"timeout = {timeout!r}; expected seconds (a finite number >= 0), or None for no limit")


def _failed(scenario: Scenario, error: str) -> ScenarioResult:
    return ScenarioResult(scenario_name=scenario.name, scenario_type=scenario.type.value, seed=scenario.seed,
                          success=False, error=error, initial_equity=scenario.initial_equity,
                          final_equity=scenario.initial_equity)


def _run_safely(scenario: Scenario, trader_factory: Callable[[], Any], exchange: Any,
                record_errors: bool, timeout: float | None = None, account: Any = None) -> ScenarioResult:
    """One case of a batch; whatever the trader does becomes a failed result, never a lost batch."""
    try:
        return run_scenario(scenario, trader_factory(), exchange, account=account, record_errors=record_errors)
    except TimeLimitExceeded as exc:   # raised by the worker process at the deadline (workers.py)
        pos = position_of(exc.__traceback__)
        where = pos.describe() if pos is not None else f"scenario {scenario.name!r}"
        limit = f" of {timeout:g} s" if timeout else ""
        log.error("%s ran past its time limit%s", where, limit)
        return _failed(scenario, f"TimeLimitExceeded: ran past its time limit{limit}, in {where}")
    except Exception as exc:  # a failed scenario becomes a failed result, never a lost batch
        detail = "".join(traceback.format_exception(exc)).rstrip()
        log.error("scenario %r failed: %s", scenario.name, detail)
        return _failed(scenario, f"{type(exc).__name__}: {exc}\n{detail}")


def _from_outcome(scenario: Scenario, outcome: Outcome) -> ScenarioResult:
    if outcome.status == "ok":
        return outcome.value
    if outcome.status == "error" and outcome.detail.startswith("Traceback"):   # SystemExit, KeyboardInterrupt
        error = f"{outcome.detail.splitlines()[-1]} (scenario {scenario.name!r}, in its worker process)\n{outcome.detail}"
    elif outcome.status == "error":
        error = f"WorkerError: scenario {scenario.name!r}: {outcome.detail}"
    else:
        kind = "WorkerDied" if outcome.status == "died" else "TimeLimitExceeded"
        error = f"{kind}: scenario {scenario.name!r} {outcome.detail} (the other scenarios are unaffected)"
    log.error("%s", error)
    return _failed(scenario, error)


@dataclass
class BatchResult:
    """The results of a batch, in input order, with aggregates over the successful ones."""

    results: list[ScenarioResult]

    @property
    def total_scenarios(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> list[ScenarioResult]:
        return [r for r in self.results if r.success]

    @property
    def successful(self) -> int:
        return len(self.ok)

    @property
    def failed(self) -> int:
        return self.total_scenarios - self.successful

    def _mean(self, field: str) -> float:
        vals = [getattr(r, field) for r in self.ok if math.isfinite(getattr(r, field))]
        return sum(vals) / len(vals) if vals else 0.0

    @property
    def avg_winrate(self) -> float:
        return self._mean("winrate")

    @property
    def avg_sharpe(self) -> float:
        return self._mean("sharpe_ratio")

    @property
    def worst_drawdown(self) -> float:
        return max((r.max_drawdown for r in self.ok), default=0.0)

    @property
    def total_pnl(self) -> float:
        return sum(r.total_pnl for r in self.ok)

    def aggregates(self) -> dict[str, float | int]:
        return {k: getattr(self, k) for k in ("total_scenarios", "successful", "failed", "avg_winrate",
                                              "worst_drawdown", "avg_sharpe", "total_pnl")}

    def summary(self) -> str:
        """A table of every scenario's key metrics, worst drawdown first, and the aggregates."""
        return format_table(self.results) + "\n" + "  ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in self.aggregates().items())


def run_batch(scenarios: Iterable[Scenario | str], trader_factory: Callable[[], Any],
              exchange: ExchangeConfig | str | None = None, *, max_workers: int | None = None,
              executor: Executor | None = None, record_errors: bool = False,
              timeout: float | None = DEFAULT_TIMEOUT, account: Account | str | None = None,
              progress: Callable[[ScenarioResult], None] | None = None) -> BatchResult:
    """Run every scenario with a fresh trader from ``trader_factory``, in parallel.

    By default each scenario runs in one of ``max_workers`` worker processes (all cores if
    None; see ``workers.py``): a worker that dies (``os._exit``, a segfault) loses only its
    own scenario, which comes back failed with the exit code, and a scenario that runs past
    ``timeout`` seconds (default ``DEFAULT_TIMEOUT``; None or 0: no limit) is interrupted and
    comes back failed, naming the bar it was on. ``max_workers=1`` runs in this process,
    one after the other (for debugging; there, no time limit and no crash isolation).

    ``executor``: any ``concurrent.futures.Executor`` instead (a dask.distributed client's
    ``get_executor()``, say). Its workers are its own: run_batch waits at most ``timeout``
    seconds for each result once the previous one is in (a case that hangs is reported
    and cancelled if it has not started; a running one cannot be stopped), and a task whose
    worker died is reported with the executor's error.
    ``trader_factory`` and the scenarios must pickle for process and cluster executors.
    ``account``: as for ``run_scenario`` (the same for every scenario).
    ``progress(result)``: called in this process with each scenario's result as it comes in (in
    the order they finish; not with an executor, whose results are read in order).
    """
    items: Sequence[Scenario] = [_resolve(s) for s in scenarios]
    _check_timeout(timeout)
    if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1):
        raise ScenarioError(f"max_workers = {max_workers!r}; expected an integer >= 1, or None for all cores")
    limit = float(timeout) if timeout else None
    if executor is None and max_workers == 1:
        done = []
        for s in items:
            done.append(_run_safely(s, trader_factory, exchange, record_errors, None, account))
            if progress is not None:
                progress(done[-1])
        return BatchResult(done)
    if executor is None:
        workers = min(max_workers or os.cpu_count() or 1, len(items))
        tell = None if progress is None else (lambda i, o: progress(_from_outcome(items[i], o)))
        outcomes = run_tasks(_run_safely, [(s, trader_factory, exchange, record_errors, limit, account) for s in items],
                             workers=workers, timeout=limit, on_done=tell)
        return BatchResult([_from_outcome(s, o) for s, o in zip(items, outcomes)])
    futures: list[Any] = []
    for s in items:
        try:
            futures.append(executor.submit(_run_safely, s, trader_factory, exchange, record_errors, limit, account))
        except BrokenProcessPool as exc:   # broken while submitting: the rest are lost with it (below)
            futures.append(exc)
    results: list[ScenarioResult | None] = []
    broken: list[int] = []
    for k, (s, f) in enumerate(zip(items, futures)):
        try:
            if isinstance(f, BaseException):
                raise f
            results.append(f.result(timeout=limit))
        except BrokenProcessPool:   # a worker of a ProcessPoolExecutor died: every task in it is lost
            results.append(None)
            broken.append(k)
        except FutureTimeout:
            started = not f.cancel()
            results.append(_failed(s, f"TimeLimitExceeded: no result for scenario {s.name!r} within {limit:g} s "
                                      + ("(still running in the executor, which cannot be stopped from here)"
                                         if started else "(cancelled before it started)")))
        except Exception as exc:  # the worker itself died (or could not unpickle the task)
            results.append(_failed(s, f"{type(exc).__name__}: {exc} (the executor could not run scenario "
                                      f"{s.name!r}: its worker died or the task did not pickle)"))
    if broken:   # run again on fresh pools like it; the one that breaks a pool alone is named
        log.warning("a worker process of the executor died and broke it (BrokenProcessPool), losing %d scenario(s); "
                    "running them again on fresh ProcessPoolExecutors of its size (the executor passed stays broken "
                    "and takes no new task)", len(broken))
        tasks = [(items[k], trader_factory, exchange, record_errors, limit, account) for k in broken]
        for k, (ok, value) in zip(broken, rerun_on_fresh_pools(executor, _run_safely, tasks)):
            s = items[k]
            results[k] = value if ok else _failed(s, (
                f"WorkerDied: scenario {s.name!r} killed its worker process (it broke the executor's "
                "ProcessPoolExecutor, and again a fresh pool where it ran alone; the other scenarios are unaffected)"
                if isinstance(value, BrokenProcessPool) else
                f"{type(value).__name__}: {value} (the executor could not run scenario {s.name!r})"))
    return BatchResult([r for r in results if r is not None])
