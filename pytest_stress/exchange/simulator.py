"""The simulated exchange: fills orders against the true market, worse as the market is.

Orders submitted at bar t are first handled at bar t + 1: a market order fills at that
bar's open plus costs; limit and stop orders rest and are checked against each bar's
range, stops before limits (the pessimistic intrabar order). On its first bar every order
draws a latency and may fail (rejection, timeout, or a partial fill then cancel).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..market.data import HIGH, LOW, OPEN, SPREAD, VOLUME, MarketData
from ..result.models import ExecutionResult
from ..scenario.faults import NO_FAULTS, Faults
from ..trader.orders import BUY, LIMIT, MARKET, STOP
from .conditions import market_conditions
from .config import ExchangeConfig

__all__ = ["SimulatedExchange"]

_PRIORITY = {MARKET: 0, STOP: 1, LIMIT: 2}


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


class SimulatedExchange:
    """One run's exchange: configuration, the true market's conditions and its own generator."""

    def __init__(self, config: ExchangeConfig, true: MarketData, rng: np.random.Generator,
                 faults: Faults | None = None) -> None:
        faults = faults or NO_FAULTS
        self.config = config
        self._draws = _Draws(rng)
        self.symbols = true.symbols
        self._bars = true.values.item        # scalar reads; orders are sparse, so no per-run lists
        self._bar_ms = true.bar_seconds * 1000.0
        self._frictionless = config.frictionless and faults.exchange_failure_rate == 0
        self._extra_fail = faults.exchange_failure_rate
        self._latency_mult = faults.latency_mult
        self.conditions = None if self._frictionless else market_conditions(true, config)
        self._spread = true.values[SPREAD]
        self._volume = true.values[VOLUME]
        self._acked: dict[int, float] = {}       # order id -> latency drawn on its first bar
        self._partial: set[int] = set()          # orders doomed to a partial fill then cancel

    # -- one bar -------------------------------------------------------------
    def process(self, t: int, orders: list[Any], sym_index: dict[str, int]) -> tuple[list[ExecutionResult], list[Any]]:
        """Handle working ``orders`` (the engine's tickets: id, symbol, side, type, quantity, limit and
        stop prices) at bar ``t``; return the outcomes and the orders still resting."""
        results: list[ExecutionResult] = []
        resting: list[Any] = []
        if len(orders) > 1:
            orders = sorted(orders, key=lambda o: _PRIORITY[o.type])
        for order in orders:
            s = sym_index[order.symbol]
            if not self._frictionless and order.id not in self._acked:
                failed = self._acknowledge(t, s, order)
                if failed is not None:
                    results.append(failed)
                    continue
            outcome = self._try_fill(t, s, order)
            if outcome is None:
                resting.append(order)
                continue
            results.append(outcome)
            remainder = order.quantity - outcome.filled_qty
            if outcome.status == "partial" and self.config.carry_remainder and remainder > 0:
                order.quantity = remainder
                resting.append(order)
            else:
                self._acked.pop(order.id, None)
        return results, resting

    def _acknowledge(self, t: int, s: int, order: Any) -> ExecutionResult | None:
        c, cfg, rng = self.conditions, self.config, self._draws
        stress = c.stress.item(s, t)
        latency = cfg.latency_at(stress, self._latency_mult)
        if cfg.latency_dispersion:
            latency *= math.exp(cfg.latency_dispersion * rng.normal())
        p = 1.0 - (1.0 - cfg.failure_rate_at(stress)) * (1.0 - self._extra_fail)
        u = rng.uniform()
        if latency > cfg.timeout_ms:
            return self._failure(t, order, "timeout", latency, f"latency {latency:.0f} ms > timeout {cfg.timeout_ms:.0f} ms")
        if u < p:
            kind = rng.uniform()
            if kind < 0.5:
                return self._failure(t, order, "rejected", latency, "exchange rejected the order")
            if kind < 0.7:
                return self._failure(t, order, "timeout", latency, "no acknowledgement before the timeout")
            self._partial.add(order.id)
        self._acked[order.id] = latency
        return None

    def _failure(self, t: int, order: Any, status: str, latency: float, reason: str) -> ExecutionResult:
        return ExecutionResult(order.id, order.symbol, order.side, order.type, t, status, order.quantity, 0.0,
                               math.nan, math.nan, 0.0, 0.0, 0.0, latency, reason)

    def _try_fill(self, t: int, s: int, order: Any) -> ExecutionResult | None:
        o = self._bars(OPEN, s, t)
        buy = order.side == BUY
        if order.type == MARKET:
            ref, taker = o, True
        elif order.type == STOP:
            stop = order.stop_price
            if buy:
                if self._bars(HIGH, s, t) < stop:
                    return None
                ref = o if o >= stop else stop
            else:
                if self._bars(LOW, s, t) > stop:
                    return None
                ref = o if o <= stop else stop
            taker = True
        else:
            limit = order.limit_price
            if buy:
                if o <= limit:
                    ref = o
                elif self._bars(LOW, s, t) < limit:   # must trade through, not just touch
                    ref = limit
                else:
                    return None
            else:
                if o >= limit:
                    ref = o
                elif self._bars(HIGH, s, t) > limit:
                    ref = limit
                else:
                    return None
            taker = False
        if self._frictionless:
            return ExecutionResult(order.id, order.symbol, order.side, order.type, t, "filled", order.quantity,
                                   order.quantity, ref, ref, 0.0, 0.0, 0.0, 0.0)
        return self._fill(t, s, order, ref, taker)

    def _fill(self, t: int, s: int, order: Any, ref: float, taker: bool) -> ExecutionResult:
        c, cfg, rng = self.conditions, self.config, self._draws
        volume = max(self._volume.item(s, t), 0.0)
        qty = min(order.quantity, cfg.participation * volume)
        latency = self._acked.get(order.id, 0.0)
        if qty <= 0:
            return ExecutionResult(order.id, order.symbol, order.side, order.type, t, "cancelled", order.quantity,
                                   0.0, ref, math.nan, 0.0, 0.0, 0.0, latency, "no volume traded in the bar")
        doomed = order.id in self._partial
        if doomed:
            qty *= 0.1 + 0.8 * rng.uniform()
            self._partial.discard(order.id)
        half = slip = 0.0
        if taker:
            sigma = c.sigma.item(s, t)
            half = self._spread.item(s, t) / 2.0 if cfg.charge_spread else 0.0
            slip = cfg.impact_coef * sigma * math.sqrt(qty / volume)
            if latency > 0:
                slip += sigma * math.sqrt(latency / self._bar_ms) * abs(rng.normal())
        cost = half + slip
        price = ref * (1.0 + cost) if order.side == BUY else ref / (1.0 + cost)
        fee = qty * price * (cfg.taker_fee if taker else cfg.maker_fee)
        if doomed:
            status, reason = "partial_cancel", "partially filled, then the exchange cancelled the rest"
        elif qty < order.quantity:
            status = "partial"
            reason = "volume cap: " + ("remainder carried" if cfg.carry_remainder else "remainder cancelled")
        else:
            status, reason = "filled", ""
        return ExecutionResult(order.id, order.symbol, order.side, order.type, t, status, order.quantity, qty, ref,
                               price, half * 1e4, slip * 1e4, fee, latency, reason)
