"""The account during one run: admits fills by its rules, liquidates, pays funding and interest.

The ``Ledger`` wraps the run's ``Portfolio`` (cash and units, spot-style: a buy pays
``qty * price`` from cash, so for a perpetual the wallet balance is
``cash + sum(qty * entry)`` and equity is ``cash + sum(qty * price)`` in every kind).

Cheap by design: a liquidation price is computed when a position (or the cash behind
it) changes, and each bar costs one comparison per open position against the true
bar's adverse extreme (low for a long, high for a short): the mark price's where the
market carries one (``MarketData.mark``, perpetual data), else the trade price's. Accounts with several
positions in one pool of margin (cross perpetuals, margin accounts) are evaluated as a
whole on bars where more than one position is open.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..market.data import CLOSE, HIGH, LOW, MARK_CLOSE, MARK_HIGH, MARK_LOW, OPEN, MarketData
from ..result.models import ExecutionResult
from ..trader.orders import BUY, STOP
from .portfolio import Portfolio
from .adl import adl_events, crowd_scores, leverage_pnl, queue_quantile, window_bars
from .funding import funding_schedule
from .rules import Account
from .tiers import TierTable, isolated_liquidation_price, tiers_for

__all__ = ["Ledger", "funding_schedule"]

_YEAR_S = 365.0 * 86_400.0
_EPS = 1e-9
#: Relative tolerance of the perpetual margin checks: an all-in order whose initial margin equals
#: the equity (or the free balance) up to float rounding is admitted (issue #27: a cross order of
#: exactly the equity was refused with "initial margin 250,000.00 above equity 250,000.00").
_REL = 1e-9
INF = math.inf


class Ledger:
    """One run's account: ``admit`` each fill, ``finance`` at funding/interest bars, ``check`` for
    liquidations after the bar's fills. Counts everything the result reports."""

    __slots__ = ("account", "pf", "kind", "perp", "cross", "lev", "mm", "taker_fee", "tables", "iso_margin",
                 "liq_below", "liq_above", "at_risk", "_values", "_bar", "_lows", "_highs", "_closes", "_marked",
                 "_open0", "_bar_years", "_use_extremes",
                 "_events", "borrowing", "can_borrow", "_single", "_iso", "_iso_single",
                 "liquidations", "margin_calls", "margin_rejections", "ruin_bar",
                 "funding_paid", "borrow_cost", "liquidation_fees", "insurance_fund_loss",
                 "adl_events", "adl_bars", "_adl", "_adl_rng", "_adl_window")

    def __init__(self, account: Account, portfolio: Portfolio, true: MarketData, taker_fee: float,
                 adl_rng: Callable[[], np.random.Generator] | None = None,
                 funding_rng: np.random.Generator | None = None) -> None:
        """``adl_rng``: makes the run's generator for auto-deleveraging draws (called only when the market
        has an ADL event); without it (or with an account whose ``adl`` is off) no ADL is modelled.
        ``funding_rng``: the run's generator for the funding model's noise (perpetual accounts)."""
        self.account = account
        self.pf = portfolio
        self.kind = account.kind
        self.perp = account.kind == "perpetual"
        self.cross = account.kind == "margin" or (self.perp and account.mode == "cross")
        self.lev = account.max_leverage
        self.mm = account.maintenance_margin
        self.taker_fee = taker_fee
        k = len(portfolio.qty)
        self.tables: list[TierTable | None] = [tiers_for(s, dict(account.tiers or {})) if self.perp else None
                                               for s in portfolio.symbols]
        self.iso_margin = [0.0] * k               # isolated perpetuals: margin behind each position
        self.liq_below = [0.0] * k                # a long is liquidated at or below this price
        self.liq_above = [INF] * k                # a short at or above this price
        self.at_risk = False
        self._values = true.values
        self._bar = memoryview(true.values)    # [field, symbol, bar] -> a float, no copy
        self._open0 = memoryview(true.values[OPEN, 0])   # [bar] -> the first symbol's open (1-D: cheaper)
        self._bar_years = true.bar_seconds / _YEAR_S
        self._use_extremes = account.check == "extremes"
        # what the liquidation check compares with the liquidation price, (symbol, bar) rows: the mark
        # price's low, high and close where the market has one, else the trade price's (the same floats)
        mark = true.mark
        self._marked = mark is not None
        self._lows = memoryview(mark[MARK_LOW] if mark is not None else true.values[LOW])
        self._highs = memoryview(mark[MARK_HIGH] if mark is not None else true.values[HIGH])
        self._closes = memoryview(mark[MARK_CLOSE] if mark is not None else true.values[CLOSE])
        fb, fr = funding_schedule(account, true, funding_rng)     # rates per symbol
        self._events = dict(zip(fb, fr))
        self.borrowing = False
        #: interest can be due at all (a margin account with a rate): the engine checks every bar only then
        self.can_borrow = account.kind == "margin" and (account.borrow_rate > 0 or account.short_borrow_rate > 0)
        self._single = k == 1
        #: isolated perpetuals: each position has margin of its own, which fills move (``apply``)
        self._iso = self.perp and not self.cross
        #: one isolated perpetual: the common case, without lists
        self._iso_single = self._single and self._iso
        # what the result reports
        self.liquidations = 0
        self.margin_calls = 0
        self.margin_rejections = 0
        self.ruin_bar: int | None = None
        self.funding_paid = 0.0
        self.borrow_cost = 0.0
        self.liquidation_fees = 0.0
        self.insurance_fund_loss = 0.0
        # auto-deleveraging: the market's events, computed once (``adl.adl_events``), and the run's generator
        self.adl_events = 0
        self._adl = adl_events(true, account.insurance_fund) if (self.perp and account.adl and adl_rng is not None) \
            else {}
        self._adl_rng = adl_rng() if self._adl and adl_rng is not None else None
        self._adl_window = window_bars(true.bar_seconds)
        #: the bars with an ADL event in some symbol, sorted (the engine makes them full bars when a position is open)
        self.adl_bars = sorted(self._adl)

    def drop_market(self) -> None:
        """The run is over: let go of the true market (the counters and ``margin_curves`` remain)."""
        self._values = self._bar = self._open0 = self._lows = self._highs = self._closes = None

    # -- what the account is worth ---------------------------------------------------
    def equity_at(self, prices: list[float]) -> float:
        pf = self.pf
        return pf.cash + sum(q * p for q, p in zip(pf.qty, prices) if q)

    def maintenance_at(self, prices: list[float]) -> float:
        """The maintenance requirement at these prices (0 for a cash account)."""
        if self.kind == "cash":
            return 0.0
        if self.kind == "margin":
            return self.mm * sum(abs(q) * p for q, p in zip(self.pf.qty, prices) if q)
        return sum(tab.maintenance(abs(q) * p) for q, p, tab in zip(self.pf.qty, prices, self.tables) if q)

    def initial_at(self, prices: list[float]) -> float:
        """The initial margin the open positions use at these prices."""
        gross = sum(abs(q) * p for q, p in zip(self.pf.qty, prices) if q)
        return gross / self.lev

    @property
    def ruined(self) -> bool:
        return self.ruin_bar is not None

    # -- admitting fills -----------------------------------------------------------------
    def admit(self, r: ExecutionResult, s: int, t: int) -> ExecutionResult:
        """The fill as the account allows it: unchanged, reduced (cash account) or refused
        (status ``insufficient_margin``, nothing filled)."""
        pf = self.pf
        if self.ruin_bar is not None:
            return self._refuse(r, "the account is ruined and can no longer trade")
        sign = 1 if r.side == "buy" else -1
        q0 = pf.qty[s]
        q1 = q0 + sign * r.filled_qty
        price = r.fill_price
        # (sizes as comparisons, not abs/max calls: this runs for every fill)
        size0 = -q0 if q0 < 0.0 else q0
        size1 = -q1 if q1 < 0.0 else q1
        if q0 * q1 >= 0 and size1 <= size0 + _EPS * (size0 if size0 > 1.0 else 1.0):
            return r                               # reducing a position is always allowed
        if self.kind == "cash":
            if sign < 0:
                return self._refuse(r, f"no short selling in a cash account (holds {q0:g}, sells {r.filled_qty:g})")
            cost = r.filled_qty * price + r.fee
            if cost <= pf.cash * (1 + 1e-12):
                return r
            if pf.cash <= 0:
                return self._refuse(r, "no cash left to buy with")
            part = pf.cash / cost * (1 - 1e-12)
            self.margin_rejections += 1
            return ExecutionResult(r.order_id, r.symbol, r.side, r.order_type, r.bar, "partial", r.requested_qty,
                                   r.filled_qty * part, r.reference_price, price, r.spread_bps, r.slippage_bps,
                                   r.fee * part, r.latency_ms, f"reduced to what the cash pays for ({part:.1%})")
        if self._single and self.kind == "margin":     # the common case, without lists
            cash_after = pf.cash - sign * r.filled_qty * price - r.fee
            gross_after = size1 * price
            equity_after = cash_after + q1 * price
            if gross_after > self.lev * equity_after * (1 + 1e-12):
                return self._refuse(r, f"gross exposure {gross_after:,.2f} above {self.lev:g} x equity "
                                       f"{equity_after:,.2f}")
            return r
        if self.perp:
            table = self.tables[s]
            notional = abs(q1) * price
            allowed = table.max_leverage(notional)
            if self.lev > allowed + _EPS:
                return self._refuse(r, f"{self.lev:g}x is above the {allowed:g}x allowed for a {notional:,.0f} "
                                       f"notional ({table.name})")
            if self._iso:
                # isolated: new margin comes from the wallet's free balance, which excludes every
                # position's margin and never counts unrealised profit (Binance's available balance)
                added = (abs(q1) - (abs(q0) if q0 * q1 > 0 else 0.0)) * price / self.lev
                if self._single:     # the sum below over one position, without a generator
                    wallet = pf.cash + (q0 * pf.avg[0] if q0 else 0)
                else:
                    wallet = pf.cash + sum(q * a for q, a in zip(pf.qty, pf.avg) if q)
                free = wallet - sum(self.iso_margin) - r.fee
                if q0 * q1 < 0:      # flipping: the old position's margin comes back after its close
                    free += self.iso_margin[s] + abs(q0) * (price - pf.avg[s]) * (1.0 if q0 > 0 else -1.0)
                if added > free + _EPS + _REL * abs(free):
                    return self._refuse(r, f"needs {added:,.2f} of isolated margin, {max(free, 0.0):,.2f} available")
                return r
        # the pooled accounts (cross perpetuals, margin): the equity after the fill at the bar's marks
        prices = self._marks(t, s, price)
        cash_after = pf.cash - sign * r.filled_qty * price - r.fee
        equity_after = cash_after + sum(q * p for q, p in zip(pf.qty, prices) if q) + sign * r.filled_qty * price
        if self.perp:
            need = sum(abs(q) * p for q, p in zip(self._qty_after(s, q1), prices) if q) / self.lev
            if need > equity_after + _REL * abs(equity_after):
                return self._refuse(r, f"initial margin {need:,.2f} above equity {equity_after:,.2f}")
            return r
        gross_after = sum(abs(q) * p for q, p in zip(self._qty_after(s, q1), prices) if q)
        if gross_after > self.lev * equity_after * (1 + 1e-12):
            return self._refuse(r, f"gross exposure {gross_after:,.2f} above {self.lev:g} x equity {equity_after:,.2f}")
        return r

    def _qty_after(self, s: int, q1: float) -> list[float]:
        q = list(self.pf.qty)
        q[s] = q1
        return q

    def _marks(self, t: int, s: int, price: float) -> list[float]:
        k = len(self.pf.qty)
        if k == 1:
            return [price]
        marks = [self._bar[OPEN, j, t] for j in range(k)]
        marks[s] = price
        return marks

    def _refuse(self, r: ExecutionResult, reason: str) -> ExecutionResult:
        self.margin_rejections += 1
        return ExecutionResult(r.order_id, r.symbol, r.side, r.order_type, r.bar, "insufficient_margin",
                               r.requested_qty, 0.0, r.reference_price, math.nan, 0.0, 0.0, 0.0, r.latency_ms, reason)

    def take(self, r: ExecutionResult, s: int, t: int) -> ExecutionResult:
        """A fill of symbol ``s`` at bar ``t`` as the account allows it (``admit``), booked
        (``apply``) if anything is left: the venue calls this with each fill before it handles
        the next order, and before the fill consumes the book."""
        r = self.admit(r, s, t)
        qty = r.filled_qty
        if qty > 0:
            sign = 1 if r.side == BUY else -1
            reason = "stop" if r.order_type == STOP else "signal"
            if self._iso:
                self.apply(s, sign, qty, r.fill_price, r.fee, t, reason)
            else:                       # ``apply`` without isolated margin to move (a frame less a fill)
                self.pf.fill(s, sign, qty, r.fill_price, r.fee, t, reason)
                self.refresh()
        return r

    # -- after a fill ---------------------------------------------------------------------
    def apply(self, s: int, sign: int, qty: float, price: float, fee: float, bar: int, reason: str) -> None:
        """Book an admitted fill of ``qty`` units of symbol ``s`` (``sign`` +1 buy, -1 sell) on the
        portfolio (``reason``: the exit reason of a trade it closes), then update the isolated
        margin behind the position and recompute liquidation prices.

        Isolated margin is the position's own wallet: opening or adding moves notional / leverage
        (and the fee) into it; a reduction books the closed part's profit or loss (and the fee) in
        it, then releases the closed share of what is left."""
        pf = self.pf
        before = pf.qty[s]
        avg_before = pf.avg[s]
        pf.fill(s, sign, qty, price, fee, bar, reason)
        if self._iso:
            after = pf.qty[s]
            if before == 0.0 or before * after < 0:          # opened, or flipped through zero
                self.iso_margin[s] = abs(after) * price / self.lev
            elif abs(after) > abs(before):                   # added
                self.iso_margin[s] += (abs(after) - abs(before)) * price / self.lev
            else:                                            # reduced
                closed = abs(before) - abs(after)
                pnl = closed * (price - avg_before) * (1.0 if before > 0 else -1.0)
                wallet = self.iso_margin[s] + pnl - fee
                self.iso_margin[s] = max(wallet, 0.0) * (abs(after) / abs(before)) if after else 0.0
        self.refresh()

    def refresh(self) -> None:
        """Recompute each position's liquidation price (after fills, funding, interest). A cash
        account has none (a long is never below 0, nothing is short) and never borrows: nothing to do."""
        kind = self.kind
        if kind == "cash":
            return
        pf = self.pf
        if self._single and (kind == "margin" or self._iso_single):   # the common cases, without lists
            q = pf.qty[0]
            lo, hi = 0.0, INF
            if q:
                if kind == "margin":                   # cash + q p = mm |q| p
                    denom = self.mm * (q if q > 0.0 else -q) - q
                    liq = pf.cash / denom if denom else INF
                else:                                  # the bracket at the liquidation price (one rule)
                    liq = isolated_liquidation_price(self.iso_margin[0], q, pf.avg[0], self.tables[0])
                if q > 0:
                    lo = 0.0 if liq < 0.0 else liq     # max(liq, 0.0), without the call
                else:
                    hi = liq if liq > 0 else INF
            self.liq_below[0], self.liq_above[0] = lo, hi
            self.at_risk = lo > 0 or hi < INF
            self.borrowing = self.can_borrow and (pf.cash < 0 or q < 0)
            return
        qty, avg = pf.qty, pf.avg
        k = len(qty)
        risky = False
        open_positions = sum(1 for q in qty if q)
        for s in range(k):
            q = qty[s]
            lo, hi = 0.0, INF
            if q and self.kind != "cash":
                if self._iso:
                    liq = isolated_liquidation_price(self.iso_margin[s], q, avg[s], self.tables[s])
                elif open_positions == 1:
                    if self.perp:
                        wallet = pf.cash + q * avg[s]
                        liq = isolated_liquidation_price(wallet, q, avg[s], self.tables[s])
                    else:   # margin: cash + q p = mm |q| p
                        denom = self.mm * abs(q) - q
                        liq = pf.cash / denom if denom else INF
                        liq = max(liq, 0.0) if q > 0 else (liq if liq > 0 else INF)
                else:
                    liq = None   # several positions in one pool: evaluated as a whole in ``check``
                if liq is None:
                    risky = True
                elif q > 0:
                    lo = liq
                    risky = risky or liq > 0
                else:
                    hi = liq
                    risky = risky or liq < INF
            self.liq_below[s], self.liq_above[s] = lo, hi
        self.at_risk = risky
        self.borrowing = self.can_borrow and (pf.cash < 0 or any(q < 0 for q in qty))

    # -- financing at the start of a bar ------------------------------------------------
    def finance_bars(self) -> frozenset[int]:
        """The bars at which funding is due (interest is due on every bar while borrowing)."""
        return frozenset(self._events)

    def finance(self, t: int) -> bool:
        """Funding (perpetuals) or interest (margin) due at bar ``t``; True if the cash changed."""
        pf = self.pf
        if self._iso_single:           # one isolated perpetual: funding only (no borrowing)
            rates = self._events.get(t)
            q = pf.qty[0]
            if rates is None or not q:
                return False
            pay = q * self._open0[t] * rates[0]
            pf.cash -= pay
            self.funding_paid += pay
            self.iso_margin[0] -= pay
            self.refresh()
            return True
        changed = False
        rates = self._events.get(t)
        if rates is not None and any(pf.qty):
            for s, q in enumerate(pf.qty):
                if q:
                    pay = q * self._bar[OPEN, s, t] * rates[s]      # longs pay a positive rate
                    pf.cash -= pay
                    self.funding_paid += pay
                    if self._iso:
                        self.iso_margin[s] -= pay
            changed = True
        if self.borrowing and t > 0:
            dt = self._bar_years
            cost = max(-pf.cash, 0.0) * self.account.borrow_rate * dt
            cost += sum(-q * self._bar[CLOSE, s, t - 1] for s, q in enumerate(pf.qty) if q < 0) * (
                self.account.short_borrow_rate * dt)
            if cost:
                pf.cash -= cost
                self.borrow_cost += cost
                changed = True
        if changed:
            self.refresh()
        return changed

    # -- liquidation ----------------------------------------------------------------------
    def adverse_rows(self, s: int) -> tuple[memoryview, memoryview]:
        """What a long and a short in symbol ``s`` are checked against, bar by bar, as memoryviews
        of the true market (indexing one gives a float, no copy): the true bar's low and high
        (the default, intrabar), or its close (``check="close"``); the mark price's where the
        market has one (``MarketData.mark``: bar t's mark at bar t only, like its low)."""
        if self._use_extremes:      # (a memoryview has no row views: the rows of the arrays behind them)
            return memoryview(np.asarray(self._lows.obj)[s]), memoryview(np.asarray(self._highs.obj)[s])
        row = memoryview(np.asarray(self._closes.obj)[s])
        return row, row

    def check(self, t: int) -> list[tuple[int, int, float, float, str]]:
        """Positions to force-close at bar ``t``: ``(symbol, sign of the closing fill, qty, price, why)``.

        A long whose liquidation price the bar's low reaches (a short: the high) is closed at
        that price, or at the open if the bar opened beyond it. With several positions in
        one pool, the account is liquidated as a whole when its equity at the adverse
        extremes falls below the maintenance requirement there, each position closed at its
        bar's adverse extreme. Where the market has a mark price, the trigger compares the
        mark's low (high, close) instead; the fill prices stay the trade price's (open, extreme).
        """
        pf = self.pf
        qty = pf.qty
        bar = self._bar
        lows, highs, closes = self._lows, self._highs, self._closes
        ext = self._use_extremes
        out: list[tuple[int, int, float, float, str]] = []
        why = "margin_call" if self.kind == "margin" else "liquidation"
        pooled = self.cross and sum(1 for q in qty if q) > 1
        if pooled:
            worst = [((lows if q > 0 else highs)[s, t] if ext else closes[s, t]) if q else 0.0
                     for s, q in enumerate(qty)]
            if self.equity_at(worst) >= self.maintenance_at(worst):
                return out
            if self._marked:           # the trigger was the mark's; the closes fill at the trade price's extremes
                worst = [(bar[LOW if q > 0 else HIGH, s, t] if ext else bar[CLOSE, s, t]) if q else 0.0
                         for s, q in enumerate(qty)]
            for s, q in enumerate(qty):
                if q:
                    out.append((s, -1 if q > 0 else 1, abs(q), worst[s], why))
            return out
        for s, q in enumerate(qty):
            if q > 0:
                liq = self.liq_below[s]
                if liq <= 0:
                    continue
                low = lows[s, t] if ext else closes[s, t]
                if low <= liq:
                    o = bar[OPEN, s, t]
                    out.append((s, -1, q, o if o <= liq else liq, why))
            elif q < 0:
                liq = self.liq_above[s]
                if liq == INF:
                    continue
                high = highs[s, t] if ext else closes[s, t]
                if high >= liq:
                    o = bar[OPEN, s, t]
                    out.append((s, 1, -q, o if o >= liq else liq, why))
        return out

    def liquidate(self, t: int, closes: list[tuple[int, int, float, float, str]]) -> list[ExecutionResult]:
        """Apply forced closes: fill at the given price, charge the liquidation fee (perpetuals)
        or the taker fee (margin calls), let the insurance fund absorb what the margin cannot."""
        pf = self.pf
        out = []
        events = {why for *_, why in closes}
        if "margin_call" in events:
            self.margin_calls += 1
        for s, sign, qty, price, why in closes:
            notional = qty * price
            before = pf.qty[s]
            margin_left = None
            if self._iso:
                margin_left = self.iso_margin[s] + before * (price - pf.avg[s])
            rate = self.account.liquidation_fee if self.perp else max(self.account.liquidation_fee, self.taker_fee)
            fee = rate * notional
            if margin_left is not None:
                fee = min(fee, max(margin_left, 0.0))
                absorbed = max(-margin_left, 0.0)
            else:
                absorbed = 0.0
            pf.fill(s, sign, qty, price, fee, t, why)
            if absorbed:
                pf.cash += absorbed
                self.insurance_fund_loss += absorbed
            self.liquidation_fees += fee
            self.liquidations += 1
            if self._iso:
                self.iso_margin[s] = 0.0
            out.append(ExecutionResult(-1, pf.symbols[s], "buy" if sign > 0 else "sell", "market", t, "liquidation",
                                       qty, qty, price, price, 0.0, 0.0, fee, 0.0,
                                       f"{why.replace('_', ' ')}: position closed by the venue"))
        if not any(pf.qty):
            equity = pf.cash
            if equity < 0:                       # a gap past the bankruptcy price: the fund covers it
                self.insurance_fund_loss += -equity
                pf.cash = 0.0
        if self.equity_at([self._bar[CLOSE, s, t] for s in range(len(pf.qty))]) <= _EPS * abs(pf.cash + 1.0) \
                and self.ruin_bar is None:
            self.ruin_bar = t
        self.refresh()
        return out

    # -- auto-deleveraging -----------------------------------------------------------------
    def adl_score(self, s: int, price: float, t: int) -> float:
        """Binance's ADL score (``adl.leverage_pnl``) of the position in symbol ``s`` marked at ``price``:
        isolated, the position's own margin, profit and maintenance; cross, the wallet's, with the
        other positions marked at bar ``t``'s close."""
        pf = self.pf
        q = pf.qty[s]
        table = self.tables[s]
        assert table is not None
        if self._iso:
            return leverage_pnl(q * (price - pf.avg[s]), self.iso_margin[s], table.maintenance(abs(q) * price))
        marks = [price if j == s else self._bar[CLOSE, j, t] for j in range(len(pf.qty))]
        wallet = pf.cash + sum(qj * a for qj, a in zip(pf.qty, pf.avg) if qj)
        upnl = sum(qj * (m - a) for qj, m, a in zip(pf.qty, marks, pf.avg) if qj)
        return leverage_pnl(upnl, wallet, self.maintenance_at(marks))

    def deleverage(self, t: int) -> list[ExecutionResult]:
        """The ADL events of bar ``t`` (``adl.adl_events``): each profitable position on the side an event
        closes is ranked (``adl_score``) and, with one draw from the run's generator, reached or not;
        a position reached is closed whole at the event's price (the bankrupt counterparties'), with
        no fee (Binance: "no trading fee will be charged")."""
        pf = self.pf
        out: list[ExecutionResult] = []
        for event in self._adl.get(t, ()):
            s = event.symbol
            q = pf.qty[s]
            if not q or (q > 0) != (event.side > 0) or q * (event.price - pf.avg[s]) <= 0:
                continue                 # flat, on the other side, or not in profit: not in this queue
            score = self.adl_score(s, event.price, t)
            quantile = event.quantile(score)
            assert self._adl_rng is not None          # made with the events
            if not event.reaches(quantile, self._adl_rng):
                continue
            qty = abs(q)
            sign = -1 if q > 0 else 1
            self.apply(s, sign, qty, event.price, 0.0, t, "adl")     # isolated: its margin goes back to the wallet
            self.adl_events += 1
            out.append(ExecutionResult(-1, pf.symbols[s], "buy" if sign > 0 else "sell", "market", t, "adl",
                                       qty, qty, event.price, event.price, 0.0, 0.0, 0.0, 0.0,
                                       f"auto-deleveraging: the insurance fund ran dry; position closed by the venue "
                                       f"at the bankrupt side's price (queue quantile {quantile:.2f}, "
                                       f"{event.share:.0%} of the queue closed)"))
        return out

    def adl_quantile(self, s: int, t: int) -> float | None:
        """The position in symbol ``s``'s place in its side's ADL queue at bar ``t``'s close: the share
        of the modelled crowd's profitable positions on its side that it outranks (Binance shows it as
        the ADL indicator's lights). None when ADL is off, the position flat or not in profit."""
        q = self.pf.qty[s]
        if not (self.perp and self.account.adl and q):
            return None
        price = self._bar[CLOSE, s, t]
        if q * (price - self.pf.avg[s]) <= 0:
            return None
        closes = self._values[CLOSE, s]
        entries = closes[max(t - self._adl_window, 0):t] if t else self._values[OPEN, s, :1]
        side = 1 if q > 0 else -1
        return queue_quantile(self.adl_score(s, price, t), crowd_scores(entries, price, side))

    # -- a view for the trader --------------------------------------------------------------
    def liquidation_price(self, s: int) -> float | None:
        """The price at which the position in symbol ``s`` would be force-closed (None: never / flat)."""
        q = self.pf.qty[s]
        if q > 0 and self.liq_below[s] > 0:
            return self.liq_below[s]
        if q < 0 and self.liq_above[s] < INF:
            return self.liq_above[s]
        return None

    def describe(self) -> dict[str, Any]:
        return self.account.to_dict()

    # -- measured once, after the run -----------------------------------------------------
    def margin_curves(self, qty: np.ndarray, close: np.ndarray, equity: np.ndarray,
                      gross: np.ndarray) -> dict[str, Any]:
        """``max_margin_usage_pct`` and ``min_margin_ratio`` from the positions, equity and gross
        exposure (the sum of ``|qty| * close``) at every close (vectorised: tiers by ``searchsorted``)."""
        # one bar-length float array at a time (issue #16): usage and the ratio are written into
        # the initial margin and the maintenance arrays they come from
        usage = gross / self.lev                 # initial margin, then initial / equity where equity is positive
        positive = equity > 0
        blind = not positive.all() and (usage[~positive] > 0).any()   # a position held with nothing behind it
        np.divide(usage, equity, out=usage, where=positive)
        np.copyto(usage, 0.0, where=~positive)
        max_usage = math.inf if blind else float(usage.max()) * 100.0 if usage.size else 0.0
        del usage, positive
        if self.kind == "cash":
            maint = np.zeros_like(equity)
        elif self.kind == "margin":
            maint = self.mm * gross
        else:
            notional = np.abs(qty) * close
            maint = np.zeros(notional.shape[1])
            for s, table in enumerate(self.tables):
                floors = np.array([t.floor for t in table.tiers])
                rates = np.array([t.rate for t in table.tiers])
                amounts = np.array([t.amount for t in table.tiers])
                i = np.maximum(np.searchsorted(floors, notional[s], side="right") - 1, 0)
                maint += np.where(notional[s] > 0, notional[s] * rates[i] - amounts[i], 0.0)
            del notional
        held = maint > 0
        ratio = maint                            # equity / maintenance where a position is held, else inf
        np.divide(equity, maint, out=ratio, where=held)
        np.copyto(ratio, math.inf, where=~held)
        min_ratio = float(ratio.min()) if held.any() else None
        return {"max_margin_usage_pct": max_usage, "min_margin_ratio": min_ratio}

    def counters(self) -> dict[str, Any]:
        """The account's metrics counted during the run."""
        return {"liquidations": self.liquidations, "margin_calls": self.margin_calls,
                "margin_rejections": self.margin_rejections, "ruined": self.ruined, "ruin_bar": self.ruin_bar,
                "funding_paid": self.funding_paid, "borrow_cost": self.borrow_cost,
                "liquidation_fees": self.liquidation_fees, "insurance_fund_loss": self.insurance_fund_loss,
                "adl_events": self.adl_events}
