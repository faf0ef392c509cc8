"""The bar loop, over parts that are already built: the feed, the trader's decider, the exchange,
the account (ledger and portfolio) and the order book.

At bar t: (1) funding or interest due at the bar's open is paid; the exchange handles the
orders submitted up to bar t - 1 against bar t of the true market; the account admits
each fill by its rules; positions whose liquidation price the bar reaches are closed, and on
a bar where the modelled market's insurance fund runs dry a profitable perpetual position
may be closed by auto-deleveraging (``Ledger.deleverage``);
(2) the trader sees the feed up to bar t and decides; (3) its orders go to the book and
reach the exchange at bar t + 1. Bars on which (1) has nothing to do (no order working,
nothing due, at most one position, not reached) run in a tighter loop of their own: the
same run to the bit (tested against a run in which every bar is a full bar).
Nothing here touches pandas or allocates per bar beyond the orders and fills themselves.
Building the parts and measuring the outcome is ``runner.run_scenario``'s job.
"""
from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..account.ledger import Ledger
from ..account.portfolio import Portfolio
from ..errors import ScenarioError
from ..exchange.simulator import SimulatedExchange
from ..market.data import MarketData
from ..result.models import ExecutionResult
from ..scenario.faults import ModelFault
from ..trader.context import BarContext
from ..trader.orders import Order
from .book import OrderBook

__all__ = ["LoopRecord", "bar_loop", "ErrorPolicy"]

log = logging.getLogger("pytest_stress")

#: statuses published on the bus as "rejection" (the others without a fill: "failure")
_REJECTIONS = frozenset(("rejected", "rate_limited", "cancel_rejected", "insufficient_margin"))


@dataclass
class LoopRecord:
    """What the loop leaves behind for measuring: every execution, the account after each
    bar with fills, and the run's own counters."""

    executions: list[ExecutionResult] = field(default_factory=list)
    #: the account after each bar on which it changed, as flat lists (no object per snapshot):
    #: the bar, the cash, and the quantities of every symbol (``len(symbols)`` values per bar)
    snapshot_bars: list[int] = field(default_factory=list)
    snapshot_cash: list[float] = field(default_factory=list)
    snapshot_qty: list[float] = field(default_factory=list)
    orders_submitted: int = 0
    model_failures: int = 0
    component_errors: int = 0
    component_error_details: list[str] = field(default_factory=list)


class ErrorPolicy:
    """What happens when the trader's code raises: re-raise with a note naming the scenario,
    bar, timestamp and component, or (``record=True``) count it, log it and go on."""

    def __init__(self, scenario_name: str, feed: MarketData, record: bool) -> None:
        self.scenario_name = scenario_name
        self.timestamps = feed.timestamps
        self.record = record
        self.early: list[str] = []     #: errors recorded before the loop's record exists (indicators)

    def handle(self, exc: Exception, t: int, where: str, rec: LoopRecord | None) -> None:
        stamp = np.datetime_as_string(np.datetime64(int(self.timestamps[t]), "ns"), unit="s")
        note = f"pytest-stress: in scenario {self.scenario_name!r} at bar {t} ({stamp}Z), raised by the {where}"
        if not self.record:
            if not getattr(exc, "_stress_noted", False):     # an inner handler named it already
                exc.add_note(note)
                exc._stress_noted = True    # type: ignore[attr-defined]
            raise exc
        detail = f"bar {t} ({stamp}Z), {where}: {type(exc).__name__}: {exc}"
        if rec is None:
            self.early.append(detail)
        else:
            rec.component_errors += 1
            rec.component_error_details.append(detail)
        log.warning("%s: %s: %s (recorded, run goes on)", note, type(exc).__name__, exc)


def orders_of(out: Any) -> list[Order]:
    """The orders in what the trader returned: an Order, a list or tuple of Orders, or None."""
    if out.__class__ is Order or isinstance(out, Order):
        return [out]
    if isinstance(out, (list, tuple)):
        for i, o in enumerate(out):
            if not isinstance(o, Order):
                raise ScenarioError(f"the trader returned a {type(out).__name__} whose item {i} is {o!r} "
                                    f"({type(o).__name__}); expected only Order objects (pytest_stress.buy/sell)")
        return out if out.__class__ is list else list(out)   # read, never changed
    raise ScenarioError(f"the trader returned {out!r} ({type(out).__name__}); expected an Order "
                        "(pytest_stress.buy/sell), a list of Orders, or None for no orders")


def bar_loop(feed: MarketData, decider: Any, exchange: SimulatedExchange, portfolio: Portfolio, book: OrderBook,
             ctx: BarContext, model_faults: dict[int, ModelFault], errors: ErrorPolicy,
             ledger: Ledger) -> LoopRecord:
    """Run every bar of ``feed`` through the parts; return the record to measure."""
    rec = LoopRecord()
    rec.component_errors += len(errors.early)
    rec.component_error_details.extend(errors.early)
    executions = rec.executions
    snap_bar, snap_cash, snap_qty = rec.snapshot_bars.append, rec.snapshot_cash.append, rec.snapshot_qty.extend
    n = feed.n_bars
    sym_index = {s: i for i, s in enumerate(feed.symbols)}
    bus = decider.bus
    qty = portfolio.qty
    take = ledger.take
    finance_bars = ledger.finance_bars()   # bars with funding due (interest: every bar while borrowing)
    financing = bool(finance_bars) or ledger.can_borrow
    on_liquidation = getattr(decider, "on_liquidation", None)
    # Without model faults a simple trader's on_bar is called directly (one call less per bar).
    call: Callable[[BarContext], Any] | None = (decider.on_bar if (not model_faults and hasattr(decider, "on_bar"))
                                                else None)
    step = decider.step
    on_fill, on_rejection = decider.on_fill, decider.on_rejection
    hooks = decider.has_hooks
    submit = book.submit
    pending, cancels = book.pending, book.cancels   # the book changes both lists in place
    late = exchange.late_pending                    # timed-out orders that may still fill (changed in place)
    venue = exchange.venue                          # the venue's fault kinds (cancels may be delayed or refused)
    # one symbol: the liquidation check is two comparisons here, against prices the ledger
    # computes when the position changes (a long's is below, a short's above; the other is 0 or
    # inf), read from the true market's adverse rows (memoryviews: a float per index, no copy)
    single = len(feed.symbols) == 1
    liq_below, liq_above = ledger.liq_below, ledger.liq_above      # changed in place by the ledger
    low_row, high_row = ledger.adverse_rows(0)
    # A bar is quiet when nothing is working or late, no financing is due, nobody listens to every
    # bar on the bus ("bar" or "*": the other topics are published on full bars, or by the trader's
    # own calls, on either path), no model fault falls on it and at most one position can be
    # liquidated: the engine's only work is then the trader's turn (and, for a position at risk,
    # its one comparison).
    # Quiet bars run in a loop of their own up to the next bar that is not: the next funding or
    # fault bar, a bar reaching the liquidation price, the trader returning something. Funding
    # due on a bar that is otherwise quiet is paid here too (then the bar is checked against
    # the new liquidation price, recorded, and the trader has its turn, as on a full bar).
    turn = call if call is not None else step          # step(ctx) is step(ctx, None): no fault
    quiet_roles = getattr(decider, "quiet_roles", None)
    roles = quiet_roles() if quiet_roles is not None else None
    update, policy, check, generate = roles if roles is not None else (None, None, None, None)
    fault_bars = sorted(model_faults) if model_faults else []
    funding_bars = sorted(finance_bars)
    adl_bars = ledger.adl_bars                         # bars with a market-wide ADL event (rare: crashes)

    financed = -1                                      # the bar whose funding the quiet path paid
    t = 0
    while t < n:
        if not pending and not late and not cancels and not bus.every_bar and (single or not ledger.at_risk):
            stop = n
            if fault_bars:
                i = bisect_left(fault_bars, t)
                if i < len(fault_bars):
                    stop = fault_bars[i]
            if adl_bars and stop > t and any(qty):     # an ADL event may close a position: a full bar
                i = bisect_left(adl_bars, t)
                if i < len(adl_bars) and adl_bars[i] < stop:
                    stop = adl_bars[i]
            if stop > t and financing and (ledger.borrowing or any(qty)):
                if ledger.borrowing:
                    stop = t                           # interest is due every bar
                else:
                    i = bisect_left(funding_bars, t)
                    if i < len(funding_bars) and funding_bars[i] == t:
                        i += 1
                        if ledger.finance(t):          # due now: paid as a full bar would pay it
                            financed = t
                            if ledger.at_risk and (not single or low_row[t] <= liq_below[0]
                                                   or high_row[t] >= liq_above[0]):
                                stop = t               # the new price is reached: a full bar checks it
                            else:
                                snap_bar(t)
                                snap_cash(portfolio.cash)
                                snap_qty(qty)
                    if stop > t and i < len(funding_bars) and funding_bars[i] < stop:
                        stop = funding_bars[i]
            if stop > t:
                out = None
                at_risk = ledger.at_risk
                below, above = liq_below[0], liq_above[0]
                try:
                    if roles is None:
                        for t in range(t, stop):
                            if at_risk and (low_row[t] <= below or high_row[t] >= above):
                                break                  # bar t reaches the liquidation price: a full bar
                            ctx._t = t
                            out = turn(ctx)
                            if out is not None or bus.every_bar:
                                break
                        else:
                            t = stop                   # every bar up to the stop was quiet
                            continue
                    else:
                        # the eight roles' calls before the signals, inline (Pipeline.step makes the
                        # same calls on a full bar); a bar with signals or a governor's action is
                        # handed to the pipeline (decide, emergency) and ends the stretch. A role that
                        # raises is named by the try around its call (no cost unless it raises; a
                        # `try:` on its call's line, not a line of its own, which costs a NOP a bar).
                        # Only an emergency sets ctx.halted, and it ends the stretch: the first bar
                        # whose governor is quiet clears it, and it stays clear (a local, not a read a bar)
                        halted = ctx.halted
                        for t in range(t, stop):
                            if at_risk and (low_row[t] <= below or high_row[t] >= above):
                                break
                            ctx._t = t
                            if update is not None:
                                try: update(ctx, policy)
                                except Exception as exc:
                                    decider.annotate(exc, "policy controller")
                                    raise
                            if check is not None:
                                try:
                                    action = check(ctx)
                                    if action is not None:
                                        out = decider.emergency(action, ctx)
                                        break
                                except Exception as exc:
                                    decider.annotate(exc, "safety governor")
                                    raise
                                if halted:
                                    ctx.halted = halted = False
                            if generate is not None:
                                try: signals = generate(ctx)
                                except Exception as exc:
                                    decider.annotate(exc, "signal model")
                                    raise
                                if signals is not None:
                                    out = decider.decide(signals, ctx)    # names the role that raised
                                    break
                            if bus.every_bar:
                                break
                        else:
                            t = stop
                            continue
                except Exception as exc:
                    errors.handle(exc, t, "trader", rec)
                    t += 1
                    continue
                if ctx._t == t:                        # the trader has had bar t: its orders, then on
                    if out is not None:
                        _submit_out(out, submit, rec, bus, errors, t)
                    t += 1
                    continue
        # a full bar
        # (1) financing at the open, then the exchange handles what was submitted up to bar
        # t - 1 against bar t, the account admits each fill, and the venue liquidates
        if financed == t:
            changed = True                             # paid above; the liquidation check follows
        else:
            changed = financing and (t in finance_bars or ledger.borrowing) and ledger.finance(t)
        results = None
        if cancels:
            refused = book.apply_cancels(t, executions, venue)
            if refused:                                # a submit-only window: the trader is told
                results = refused
                if bus.active:
                    for refusal in refused:
                        _publish(bus, "rejection", refusal, errors, t, rec)
        if pending or late:
            # the account takes each fill as the venue makes it (``Ledger.take``: admitted, booked)
            handled, resting = exchange.process(t, pending, sym_index, take)
            results = results + handled if results else handled
            for r in handled:
                if r.filled_qty > 0:
                    changed = True
                    if bus.active:
                        _publish(bus, "fill", r, errors, t, rec)
                elif bus.active:
                    _publish(bus, "rejection" if r.status in _REJECTIONS else "failure", r, errors, t, rec)
            executions.extend(handled)
            book.settle(handled, resting)
        if ledger.at_risk and (not single or low_row[t] <= liq_below[0] or high_row[t] >= liq_above[0]):
            closes = ledger.check(t)
            if closes:
                forced = ledger.liquidate(t, closes)
                changed = True
                for s, *_ in closes:
                    book.cancel_symbol(feed.symbols[s])
                executions.extend(forced)
                results = (results or []) + forced
                if bus.active:
                    for r in forced:
                        _publish(bus, "margin_call" if ledger.kind == "margin" else "liquidation", r, errors, t, rec)
        if adl_bars and any(qty):
            deleveraged = ledger.deleverage(t)        # nothing unless bar t has an ADL event
            if deleveraged:
                changed = True
                for r in deleveraged:
                    book.cancel_symbol(r.symbol)
                executions.extend(deleveraged)
                results = (results or []) + deleveraged
                if bus.active:
                    for r in deleveraged:
                        _publish(bus, "adl", r, errors, t, rec)
        if changed:
            snap_bar(t)
            snap_cash(portfolio.cash)
            snap_qty(qty)
        # (2) the trader sees the feed up to bar t and decides
        ctx._t = t          # the engine owns the clock (BarContext.t is read-only to the trader)
        if results and (hooks or on_liquidation is not None):
            for r in results:
                try:
                    if r.status == "liquidation" or r.status == "adl":
                        more = on_liquidation(r, ctx) if on_liquidation is not None else None
                    else:
                        more = (on_fill if r.filled_qty > 0 else on_rejection)(r, ctx) if hooks else None
                except Exception as exc:
                    errors.handle(exc, t, _hook_name(r, on_liquidation), rec)
                    more = None
                if more is not None:
                    try:
                        _submit(orders_of(more), submit, rec, bus, errors, t)
                    except Exception as exc:      # what it returned is not orders: named as the hook's
                        errors.handle(exc, t, f"{_hook_name(r, on_liquidation)} (its return value)", rec)
        if bus.active and bus.wants("bar"):
            _publish(bus, "bar", ctx, errors, t, rec)
        try:
            if call is not None:
                out = call(ctx)
            else:
                fault = model_faults.get(t) if model_faults else None
                if fault is not None:
                    rec.model_failures += 1
                    ctx.model_status = fault[0]
                    if bus.active:
                        _publish(bus, "model_failure", {"bar": t, "kind": fault[0]}, errors, t, rec)
                    out = step(ctx, fault)
                    ctx.model_status = None
                else:
                    out = step(ctx, None)
        except Exception as exc:
            ctx.model_status = None
            errors.handle(exc, t, "trader", rec)
            t += 1
            continue
        # (3) its orders reach the exchange at bar t + 1
        if out is not None:
            _submit_out(out, submit, rec, bus, errors, t)
        t += 1

    book.expire_all(n - 1, executions)
    return rec


def _hook_name(r: Any, on_liquidation: Any) -> str:
    if (r.status == "liquidation" or r.status == "adl") and on_liquidation is not None:
        return "on_liquidation hook"
    return "on_fill hook" if r.filled_qty > 0 else "on_rejection hook"


def _publish(bus: Any, topic: str, payload: Any, errors: ErrorPolicy, t: int, rec: LoopRecord) -> None:
    """``bus.publish`` from the engine: a subscriber that raises is the trader's code raising, named
    (the subscriber and the topic) and raised with the bar's note, or recorded (``record_errors``)."""
    def on_error(exc: Exception, handler: Any) -> None:
        name = getattr(handler, "__qualname__", None) or type(handler).__name__
        errors.handle(exc, t, f"event-bus subscriber {name} on {topic!r}", rec)

    bus.publish_each(topic, payload, on_error)


def _submit_out(out: Any, submit: Callable[[Order], Any], rec: LoopRecord, bus: Any, errors: ErrorPolicy,
                t: int) -> None:
    """Send what the trader returned at bar ``t`` (an Order, Orders, or an empty list) to the book."""
    try:
        if out.__class__ is Order:
            if submit(out) is not None:     # None: this very Order is still working (a no-op)
                rec.orders_submitted += 1
                if bus.active:
                    _publish(bus, "order", out, errors, t, rec)
        elif out.__class__ is not list or out:
            _submit(orders_of(out), submit, rec, bus, errors, t)
    except Exception as exc:
        errors.handle(exc, t, "trader", rec)


def _submit(orders: list[Order], submit: Callable[[Order], Any], rec: LoopRecord, bus: Any, errors: ErrorPolicy,
            t: int) -> None:
    for o in orders:
        ticket = submit(o)
        if ticket is None:
            continue          # this very Order is still working: returning it again is a no-op
        rec.orders_submitted += 1
        if bus.active:
            _publish(bus, "order", o, errors, t, rec)
