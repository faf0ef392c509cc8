"""The simulated exchange: fills orders against the true market, worse as the market is.

Orders submitted at bar t are first handled at bar t + 1. On that first bar every order
reaches the venue: if the venue is in an outage (``outages.py``) it gets no answer
(``timeout``); otherwise it draws a latency (a timeout if it exceeds ``timeout_ms``) and
may fail on its own (``rejected``, or ``partial_cancel``: part fills, the rest is
cancelled; larger orders are likelier to be cut). A timed-out order may still fill
later (``late_fill``, ``late=True``) with probability ``late_fill_prob``.
The fault kinds a scenario adds (``faults.py``: rate limits, cancel-only windows, a
stale book, slow or refused cancels) act at arrival, on the book and on the trader's cancels.

A market order, a triggered stop, and a limit order that crosses the spread when it
arrives are takers: half the spread, adverse drift during latency (both kept inside
the bar's range), the displacement the trader's earlier fills left, and square-root
impact on the trader's cumulative quantity in the bar (``impact.py``). The takers of a
bar walk the book on each side at most ``price_band`` from the undisplaced price (after
spread and drift, before the trader's own displacement), however they are split (a limit
order: at most to its limit); what a market or stop order cannot fill inside the band expires
(``band_limited``), what a limit order cannot fill rests at its limit. A limit order
that rested before the price came to it fills as a maker at its limit (or the gapped
open). Stops are handled before limits in a bar (the pessimistic intrabar order).
docs/venue.md describes the model and the sources of its constants.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..market.data import DEPTH, HIGH, LOW, OPEN, VOLUME, MarketData
from ..result.models import ExecutionResult
from ..scenario.faults import NO_FAULTS, Faults
from ..trader.orders import BUY, LIMIT, MARKET, STOP
from .conditions import BLOCK_BARS, liquidity_at, market_conditions
from .config import ExchangeConfig
from .faults import VenueFaults
from .impact import ImpactState
from .outages import OutageSchedule, draw_outages

__all__ = ["SimulatedExchange", "outage_share"]

_PRIORITY = {MARKET: 0, STOP: 1, LIMIT: 2}
_SQRT2 = math.sqrt(2.0)


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function, vectorised: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)."""
    a = np.abs(x)
    k = 1.0 / (1.0 + 0.3275911 * a)
    poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))))
    y = poly * np.exp(-a * a)
    return np.where(x >= 0, y, 2.0 - y)


class _Draws:
    """The run generator's numbers, fetched a block at a time and handed out one by one.

    Same sequence for the same run wherever it executes; far cheaper than one
    generator call per number."""

    __slots__ = ("_rng", "_normal", "_uniform")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._normal: list[float] = []
        self._uniform: list[float] = []

    def normal(self) -> float:
        if not self._normal:
            self._normal = self._rng.standard_normal(512).tolist()[::-1]
        return self._normal.pop()

    def uniform(self) -> float:
        if not self._uniform:
            self._uniform = self._rng.random(512).tolist()[::-1]
        return self._uniform.pop()


class _Late:
    """A timed-out order the venue will still execute at bar ``due``."""

    __slots__ = ("due", "id", "symbol", "side", "type", "quantity", "limit_price", "stop_price", "latency")

    def __init__(self, due: int, order: Any, latency: float) -> None:
        self.due = due
        self.id, self.symbol, self.side, self.type = order.id, order.symbol, order.side, order.type
        self.quantity, self.limit_price, self.stop_price = order.quantity, order.limit_price, order.stop_price
        self.latency = latency


def fail_total(stress_rate: np.ndarray, extra: float) -> np.ndarray:
    """Total failure probability: the venue's stress-driven rate and the scenario's fault rate ``extra``."""
    return 1.0 - (1.0 - stress_rate) * (1.0 - extra)


def outage_share(config: ExchangeConfig, venue: np.ndarray, extra_fail: float = 0.0) -> np.ndarray:
    """The share of time the venue is down, per bar: ``outage_share`` of its failure budget at
    the venue's stress ``venue`` (``conditions.market_conditions(...).venue``). Element-wise, so in
    blocks of bars (a few temporaries of a block, not of the run: issue #16)."""
    out = np.empty(len(venue))
    for start in range(0, len(venue), BLOCK_BARS):
        stop = start + BLOCK_BARS
        out[start:stop] = config.outage_share * fail_total(config.failure_rate_at(venue[start:stop]), extra_fail)
    return out


class SimulatedExchange:
    """One run's exchange: configuration, the true market's conditions and its own generator.

    The generator is split once into two independent streams (``Generator.spawn``): one
    for the outage schedule (drawn at construction), one for per-order draws.
    """

    def __init__(self, config: ExchangeConfig, true: MarketData, rng: np.random.Generator,
                 faults: Faults | None = None) -> None:
        faults = faults or NO_FAULTS
        self.config = config
        self.symbols = true.symbols
        self._n = true.n_bars
        self._bars = memoryview(true.values)   # [field, symbol, bar] -> a float, no copy
        self._bar_ms = true.bar_seconds * 1000.0
        self._frictionless = config.frictionless and faults.exchange_failure_rate == 0 and not faults.venue_faults
        #: the venue's fault kinds beyond outages (``faults.py``; None: none): the engine asks it about cancels
        self.venue: VenueFaults | None = None
        self._extra_fail = faults.exchange_failure_rate
        self._latency_mult = faults.latency_mult
        self._charge_spread = config.charge_spread
        self._disp = config.latency_dispersion
        self._impact_coef, self._band, self._taker_fee = config.impact_coef, config.price_band, config.taker_fee
        self._capped = not math.isinf(config.participation)
        self._refill = config.refill(true.bar_seconds)       # the book's refills within a bar (resilience)
        self._acked: dict[int, float] = {}       # order id -> latency drawn on its first bar
        self._partial: set[int] = set()          # orders doomed to a partial fill then cancel
        self._late: list[_Late] = []             # timed-out orders that will still fill
        #: the same list, for the engine's per-bar check: non-empty while a late fill is pending
        self.late_pending = self._late
        self.outages = OutageSchedule([], [])
        self.impact = ImpactState(true.n_symbols, config.permanent_impact)
        #: a taker fill's book consumption, recorded only once the account has taken the fill
        #: (``_settle``): an order the account refuses never reaches the book and moves nothing
        self._unbooked: tuple[int, bool, float, float] | None = None
        if self._frictionless:
            self._draws = _Draws(rng)
            return
        outage_rng, order_rng = rng.spawn(2)
        self._draws = _Draws(order_rng)
        if faults.venue_faults:             # a third stream: the two above draw the same with or without it
            self.venue = VenueFaults(faults, self._n, self._bar_ms, true.symbols, rng.spawn(1)[0])
            self._bars = memoryview(self.venue.book(true.values))     # a stale book: earlier bars' prices
        c = market_conditions(true, config, liquidity=False)
        # kept for the orders, read as scalars through memoryviews ([symbol, bar] -> float, no copy):
        # sigma, spread (the market's own array), median latency, the rest of the failure budget;
        # liquidity is read per order from the market's volume and depth (``liquidity_at``); the
        # outage shares go as soon as they have been used, and the stress levels become the median
        # latencies (issue #16)
        self._sigma = memoryview(c.sigma)
        self._spread = memoryview(c.spread) if config.charge_spread else None
        stress, venue = c.stress, c.venue
        del c
        down = outage_share(config, venue, self._extra_fail)             # share of time down, per bar
        del venue
        self.outages = draw_outages(down, self._bar_ms, config.outage_mean_s * 1000.0, outage_rng)
        rest = self._rest_of_budget(stress, down)
        del down                                                           # (one symbol: rest is down's memory)
        self._lat, self._rest = memoryview(stress), memoryview(rest)   # stress now holds the median latency (ms)
        if self.venue is not None:
            self.venue.lat, self.venue.dispersion = self._lat, config.latency_dispersion

    def _liq(self, s: int, t: int) -> float:
        """The book's liquidity near the touch over bar ``t`` for symbol ``s``, its refills included
        (``conditions.liquidity_at``)."""
        bars = self._bars
        return liquidity_at(bars[VOLUME, s, t], bars[DEPTH, s, t], self._refill)

    def _rest_of_budget(self, stress: np.ndarray, down: np.ndarray) -> np.ndarray:
        """Per (symbol, bar): the probability of an i.i.d. failure for an order that met neither an
        outage nor a latency timeout, so that the three together spend the failure budget (the
        venue's rate at ``stress`` and the scenario's). Element-wise, so computed in blocks of
        bars: a dozen temporaries of a block, not of the run. Each block of ``stress`` is then
        replaced by its median latency (ms), which is all the venue needs of it: one array for both.
        With one symbol the result is written into ``down`` (each block is read before it is
        written), which the venue does not need afterwards: no third array of the run's length."""
        out = down.reshape(1, -1) if stress.shape[0] == 1 else np.empty_like(stress)
        for start in range(0, stress.shape[1], BLOCK_BARS):
            stop = start + BLOCK_BARS
            level = stress[:, start:stop]
            median = self.config.latency_at(level, self._latency_mult)
            p = fail_total(self.config.failure_rate_at(level), self._extra_fail)
            out[:, start:stop] = self._rest_of_budget_block(p, median, down[start:stop])
            level[...] = median
        return out

    def _rest_of_budget_block(self, p: np.ndarray, median: np.ndarray, outage_pi: np.ndarray) -> np.ndarray:
        pi = np.minimum(outage_pi, 0.999)[None, :]
        r = np.maximum((p - pi) / (1.0 - pi), 0.0)
        cfg = self.config
        if cfg.latency_dispersion > 0:
            with np.errstate(divide="ignore"):
                z = np.log(cfg.timeout_ms / np.maximum(median, 1e-300)) / cfg.latency_dispersion
            p_to = 0.5 * erfc(z / _SQRT2)          # P(latency > timeout), log-normal
        else:
            p_to = (median > cfg.timeout_ms).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(p_to < 1.0, (r - p_to) / (1.0 - p_to), 0.0)
        return np.clip(out, 0.0, 1.0)

    def _half_spread(self, s: int, t: int) -> float:
        """Half the quoted spread (a fraction of price) of symbol ``s`` at bar ``t``; 0 if not charged."""
        return 0.5 * self._spread[s, t] if self._spread is not None else 0.0

    # -- the engine's side --------------------------------------------------------
    def process(self, t: int, orders: list[Any], sym_index: dict[str, int],
                take: Callable[[ExecutionResult, int, int], ExecutionResult] | None = None
                ) -> tuple[list[ExecutionResult], list[Any]]:
        """Handle working ``orders`` (the engine's tickets: id, symbol, side, type, quantity, limit and
        stop prices) at bar ``t``; return the outcomes and the orders still resting.

        ``take(fill, symbol index, t)``: the account, called with each fill as the venue would
        make it, before the next order is handled; it returns the fill as it allows it (refused:
        nothing filled; reduced) and books it. Only what the account takes consumes the book (a
        refused order moves no price). Without ``take`` every fill stands as the venue made it.

        Outcomes include late fills that fell due at or before ``t`` (``late=True``), for
        orders the engine has already closed as timed out (see ``late_due``)."""
        results: list[ExecutionResult] = []
        resting: list[Any] = []
        venue = self.venue
        halted = venue is not None and venue.cancel_only_at(t)     # cancel-only: nothing matches
        if not self._frictionless:
            if self.impact._t != t:
                self.impact.begin(t)
            if self._late and self._late[0].due <= t and not halted:
                self._deliver_late(t, sym_index, results, take)
        if len(orders) > 1:
            orders = sorted(orders, key=lambda o: _PRIORITY[o.type])
        frictionless = self._frictionless
        for order in orders:
            if frictionless and order.type == MARKET:   # fills whole at the open: ``_plain``, inlined
                s = sym_index[order.symbol]
                ref = self._bars[OPEN, s, t]
                r = ExecutionResult(order.id, order.symbol, order.side, MARKET, t, "filled", order.quantity,
                                    order.quantity, ref, ref, 0.0, 0.0, 0.0, 0.0)
                results.append(take(r, s, t) if take is not None else r)
                continue
            s = sym_index[order.symbol]
            fresh = False
            if not self._frictionless and order.id not in self._acked:
                failed = self._acknowledge(t, s, order)
                if failed is not None:
                    results.append(failed)
                    continue
                fresh = True
            if halted:
                resting.append(order)
                continue
            outcome = self._try_fill(t, s, order, fresh)
            if outcome is None:
                resting.append(order)
                continue
            # what rests is decided on the venue's own outcome: a fill the account cut is final
            status, filled = outcome.status, outcome.filled_qty
            results.append(self._settle(outcome, s, t, take))
            remainder = order.quantity - filled
            if remainder > 0 and (status == "partial" and (self.config.carry_remainder or order.type == LIMIT)):
                order.quantity = remainder
                resting.append(order)
            else:
                self._acked.pop(order.id, None)
        return results, resting

    def _settle(self, outcome: ExecutionResult, s: int, t: int,
                take: Callable[[ExecutionResult, int, int], ExecutionResult] | None) -> ExecutionResult:
        """The account takes a fill (``take``), then the book records what was taken."""
        if take is not None and outcome.filled_qty > 0:
            outcome = take(outcome, s, t)
        venue = self.venue
        if venue is not None and venue.stale is not None and venue.stale[t] and outcome.filled_qty > 0:
            outcome.reason = venue.stale_note(t) + (f"; {outcome.reason}" if outcome.reason else "")
        unbooked, self._unbooked = self._unbooked, None
        if unbooked is not None and outcome.filled_qty > 0:
            sym, buy, ys, liq = unbooked
            self.impact.take(sym, buy, outcome.filled_qty, ys, liq)
        return outcome

    def late_due(self) -> int | None:
        """The bar at which the next late fill falls due (None: none pending). The engine
        should call ``process`` at that bar even with no working orders."""
        return self._late[0].due if self._late else None

    def impact_path(self) -> np.ndarray:
        """The trader's own price displacement per (symbol, bar), relative (``close * (1 + path)`` is
        the price its impact left). The engine marks at the true close (see docs/venue.md)."""
        return self.impact.path(len(self.symbols), self._n)

    # -- arrival -----------------------------------------------------------------
    def _acknowledge(self, t: int, s: int, order: Any) -> ExecutionResult | None:
        cfg, rng = self.config, self._draws
        latency, r = self._lat[s, t], self._rest[s, t]
        if self._disp:
            latency *= math.exp(self._disp * rng.normal())
        u = rng.uniform()
        now = t * self._bar_ms
        end = self.outages.end_of(now) if self.outages.starts else None
        if end is not None:                 # the venue is down: no answer
            if u < cfg.late_fill_prob:
                self._schedule_late(max(t + 1, math.ceil(end / self._bar_ms)), order, latency)
            # the reason tells what is known at the bar's open: the faults begun by then (a fault that
            # starts later, and would extend this outage, is not known yet: ``known_end``)
            known = self.outages.known_end(now) or end
            return self._failure(t, order, "timeout", cfg.timeout_ms,
                                 f"venue outage until {(known - now) / 1000:.0f} s after the bar's open: no answer")
        if self.venue is not None:
            refused = self.venue.admit(t, order)      # a rate limit, a cancel-only window
            if refused is not None:
                return refused
        timeout = cfg.timeout_ms
        if latency > timeout:
            if u < cfg.late_fill_prob:
                self._schedule_late(max(t + 1, int((now + latency) // self._bar_ms)), order, latency)
            return self._failure(t, order, "timeout", latency, f"latency {latency:.0f} ms > timeout {timeout:.0f} ms")
        # r: the rest of the failure budget (see _rest_of_budget)
        if r > 0 and rng.uniform() < r:
            liq = self._liq(s, t)
            x = order.quantity / (0.01 * liq) if liq > 0 else math.inf
            if rng.uniform() * (1.0 + x) < x:          # P(cut) = x / (1 + x): 1/2 at 1% of the book
                self._partial.add(order.id)
            else:
                return self._failure(t, order, "rejected", latency, "exchange rejected the order")
        self._acked[order.id] = latency
        return None

    def _schedule_late(self, due: int, order: Any, latency: float) -> None:
        if due >= self._n:
            return                          # after the run: it never shows
        self._late.append(_Late(due, order, latency))
        self._late.sort(key=lambda x: x.due)

    def _deliver_late(self, t: int, sym_index: dict[str, int], results: list[ExecutionResult],
                      take: Callable[[ExecutionResult, int, int], ExecutionResult] | None = None) -> None:
        while self._late and self._late[0].due <= t:
            late = self._late.pop(0)
            s = sym_index[late.symbol]
            self._acked[late.id] = late.latency
            out = self._try_fill(t, s, late, True)     # at ``due``, or the first bar the engine calls after it
            self._acked.pop(late.id, None)
            self._partial.discard(late.id)
            if out is None or out.filled_qty <= 0:
                self._unbooked = None
                continue                    # not marketable when the venue got to it: it never fills
            out.status, out.late = "late_fill", True
            out.reason = "filled after the order had timed out" + (f"; {out.reason}" if out.reason else "")
            results.append(self._settle(out, s, t, take))

    def _failure(self, t: int, order: Any, status: str, latency: float, reason: str) -> ExecutionResult:
        return ExecutionResult(order.id, order.symbol, order.side, order.type, t, status, order.quantity, 0.0,
                               math.nan, math.nan, 0.0, 0.0, 0.0, latency, reason)

    # -- fills -------------------------------------------------------------------
    def _try_fill(self, t: int, s: int, order: Any, fresh: bool) -> ExecutionResult | None:
        bars = self._bars
        o = bars[OPEN, s, t]
        buy = order.side == BUY
        limit = math.nan
        if order.type == MARKET:
            ref = o
        elif order.type == STOP:
            stop = order.stop_price
            if buy:
                if bars[HIGH, s, t] < stop:
                    return None
                ref = o if o >= stop else stop
            else:
                if bars[LOW, s, t] > stop:
                    return None
                ref = o if o <= stop else stop
        else:
            limit = order.limit_price
            half = 0.0 if self._frictionless else self._half_spread(s, t)
            if fresh and (limit >= o * (1.0 + half) if buy else limit <= o / (1.0 + half)):
                ref = o                     # crosses the spread on arrival: a taker
            else:
                if self._frictionless and (o <= limit if buy else o >= limit):
                    ref = o
                elif buy:
                    if o <= limit:
                        ref = o
                    elif bars[LOW, s, t] < limit:   # must trade through, not just touch
                        ref = limit
                    else:
                        return None
                elif o >= limit:
                    ref = o
                elif bars[HIGH, s, t] > limit:
                    ref = limit
                else:
                    return None
                return self._maker(t, s, order, ref) if not self._frictionless else self._plain(t, order, ref)
        if self._frictionless:
            return self._plain(t, order, ref)
        return self._taker(t, s, order, ref, buy, limit)

    def _plain(self, t: int, order: Any, ref: float) -> ExecutionResult:
        return ExecutionResult(order.id, order.symbol, order.side, order.type, t, "filled", order.quantity,
                               order.quantity, ref, ref, 0.0, 0.0, 0.0, 0.0)

    def _cap(self, t: int, s: int, buy: bool) -> float:
        """Quantity the participation cap still allows on this side in this bar."""
        p = self.config.participation
        if math.isinf(p):
            return math.inf
        return max(p * self._bars[VOLUME, s, t] - self.impact.cumulative(s, buy), 0.0)

    def _maker(self, t: int, s: int, order: Any, ref: float) -> ExecutionResult | None:
        cfg = self.config
        latency = self._acked.get(order.id, 0.0)
        qty = min(order.quantity, self._cap(t, s, order.side == BUY))
        if qty <= 0:
            return None                     # the cap is reached in this bar: the order keeps resting
        doomed = order.id in self._partial
        if doomed:
            qty *= 0.1 + 0.8 * self._draws.uniform()
            self._partial.discard(order.id)
        status, reason = self._status(order, qty, doomed, "participation cap")
        return ExecutionResult(order.id, order.symbol, order.side, order.type, t, status, order.quantity, qty, ref, ref,
                               0.0, 0.0, qty * ref * cfg.maker_fee, latency, reason)

    def _taker(self, t: int, s: int, order: Any, ref: float, buy: bool, limit: float) -> ExecutionResult | None:
        imp = self.impact
        latency = self._acked.get(order.id, 0.0)
        bars = self._bars
        sigma, half, liq = self._sigma[s, t], self._half_spread(s, t), self._liq(s, t)
        hi, lo = bars[HIGH, s, t], bars[LOW, s, t]
        # half-spread and latency drift, kept inside the bar's range
        drift = sigma * math.sqrt(latency / self._bar_ms) * abs(self._draws.normal()) if latency > 0 else 0.0
        if buy:
            cap = hi if hi > ref else ref
            pre = ref * (1.0 + half)
            if pre > cap:
                pre = cap
            spread_paid = pre / ref - 1.0
            if drift:
                cap = hi if hi > pre else pre
                pre *= 1.0 + drift
                if pre > cap:
                    pre = cap
            q0 = imp._buy[s]
        else:
            floor = lo if lo < ref else ref
            pre = ref / (1.0 + half)
            if pre < floor:
                pre = floor
            spread_paid = ref / pre - 1.0
            if drift:
                floor = lo if lo < pre else pre
                pre /= 1.0 + drift
                if pre < floor:
                    pre = floor
            q0 = imp._sell[s]
        # the trader's earlier fills (``impact.py``: a log displacement, so ``start`` is positive
        # whatever was carried), then the book inside this bar
        shift = imp.displacement(s, t) if imp._events else 0.0
        gain = math.exp(shift) if shift else 1.0
        start = pre * gain
        ys = self._impact_coef * sigma
        band = self._band
        if ys <= 0.0 or band == math.inf:
            room = math.inf
        elif liq <= 0.0:
            room = 0.0
        else:
            # the band bounds the marginal price from the undisplaced ``pre`` (inside the bar's
            # range): a buy's ``start (1 + m)`` at most ``pre (1 + band)``, a sell's ``start / (1 + m)``
            # at least ``pre / (1 + band)``; the bar's cumulative walk, so no split walks further
            # (``impact.max_quantity``, inlined)
            m = band if gain == 1.0 else ((1.0 + band) / gain - 1.0 if buy else (1.0 + band) * gain - 1.0)
            room = liq * (m / ys) ** 2 - q0 if m > 0.0 else 0.0
        limited_by = "price band"
        if limit == limit:                  # a marketable limit: no further than its limit
            gap = (limit / start - 1.0) if buy else (start / limit - 1.0)
            room_limit = (liq * (gap / ys) ** 2 - q0 if ys > 0 else math.inf) if gap > 0 else 0.0
            if room_limit < room:
                room, limited_by = max(room_limit, 0.0), "limit price"
        if self._capped:
            cap = self._cap(t, s, buy)
            if cap < room:
                room, limited_by = cap, "participation cap"
        qty = order.quantity if order.quantity <= room else room
        if qty <= 0:
            if limit == limit:
                return None                 # nothing within its limit now: the limit order rests
            why = "no volume or book depth in the bar" if liq <= 0 or limited_by == "participation cap" \
                else f"nothing fillable within the {limited_by}"
            return ExecutionResult(order.id, order.symbol, order.side, order.type, t, "cancelled", order.quantity, 0.0,
                                   ref, math.nan, 0.0, 0.0, 0.0, latency, why)
        doomed = order.id in self._partial
        if doomed:
            qty *= 0.1 + 0.8 * self._draws.uniform()
            self._partial.discard(order.id)
        # average impact over this order's own segment of the bar's cumulative quantity
        q1 = q0 + qty
        own = ys * (2.0 / 3.0) * (q1 * math.sqrt(q1) - q0 * math.sqrt(q0)) / (qty * math.sqrt(liq)) \
            if ys > 0.0 and liq > 0.0 else 0.0
        self._unbooked = (s, buy, ys, liq)          # booked once the account takes the fill (_settle)
        if buy:
            price = start * (1.0 + own)
            if price > limit:               # False for NaN (no limit)
                price = limit
            cost = price / ref - 1.0
            impact_bps = (gain * (1.0 + own) - 1.0) * 1e4
        else:
            price = start / (1.0 + own)
            if price < limit:
                price = limit
            cost = ref / price - 1.0
            impact_bps = ((1.0 + own) / gain - 1.0) * 1e4
        outside = price > hi or price < lo         # only the trader's own impact can take it there
        if qty >= order.quantity and not doomed:
            status, reason = "filled", ""
        else:
            status, reason = self._status(order, qty, doomed, limited_by)
        if outside:
            reason = (reason + "; " if reason else "") + "outside the bar's range by the trader's own impact"
        return ExecutionResult(order.id, order.symbol, order.side, order.type, t, status, order.quantity, qty, ref,
                               price, spread_paid * 1e4, (cost - spread_paid) * 1e4, qty * price * self._taker_fee,
                               latency, reason, impact_bps, outside)

    def _status(self, order: Any, qty: float, doomed: bool, limited_by: str) -> tuple[str, str]:
        if doomed:
            return "partial_cancel", "partially filled, then the exchange cancelled the rest"
        if qty >= order.quantity:
            return "filled", ""
        if order.type == LIMIT:
            return "partial", f"{limited_by}: the rest rests at the limit"
        if limited_by == "participation cap":
            return "partial", "participation cap: " + ("remainder carried" if self.config.carry_remainder
                                                        else "remainder cancelled")
        return "band_limited", (f"{limited_by}: filled {qty:.6g} of {order.quantity:.6g} within "
                                f"{self.config.price_band:.2%}; the rest expired")
