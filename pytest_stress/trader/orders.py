"""Orders a trader sends: market, limit and stop; buy and sell; with helpers for common cases."""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from ..errors import ScenarioError

__all__ = ["Order", "buy", "sell", "MARKET", "LIMIT", "STOP", "BUY", "SELL"]

MARKET, LIMIT, STOP = "market", "limit", "stop"
BUY, SELL = "buy", "sell"


@dataclass(slots=True, init=False)
class Order:
    """An instruction to the exchange, validated when built and again when sent.

    ``symbol`` None means the scenario's first symbol. A limit order fills at its price or
    better; a stop order becomes a market order once the price trades through its stop
    (a stop in a gap fills at the gapped open, not at the stop). Orders rest until they
    fill or are cancelled; market orders are handled on the next bar only.

    One ``Order`` object is one order: returning the same object again while it is still
    working (a resting limit or stop) does nothing; once it has filled, been cancelled or
    failed, returning it again sends a new order. The engine never writes into it; the
    id it gets is in the execution records (``ExecutionResult.order_id``). What reaches
    the exchange is what the order said when it was sent: changing a field afterwards
    (say through ``ctx.open_orders``) does not change the working order; cancel it and
    send a new one. A field changed before sending is checked again then, and an invalid
    value is an error naming the field, the value and the bar.
    """

    side: str
    quantity: float
    symbol: str | None = None
    type: str = MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    tag: str = ""

    def __init__(self, side: str, quantity: float, symbol: str | None = None, type: str = MARKET,
                 limit_price: float | None = None, stop_price: float | None = None, tag: str = "") -> None:
        self.side = side
        self.quantity = quantity
        self.symbol = symbol
        self.type = type
        self.limit_price = limit_price
        self.stop_price = stop_price
        self.tag = tag
        # validate() inlined for the common case (an order is built on many bars of a run)
        if not (type == MARKET and quantity.__class__ is float and 0.0 < quantity < _INF
                and (side == BUY or side == SELL) and (symbol is None or symbol.__class__ is str)
                and tag.__class__ is str and limit_price is None and stop_price is None):
            self.validate()

    def validate(self) -> "Order":
        """Check every field (numpy scalars become floats); return the order, or raise naming the field."""
        q, symbol = self.quantity, self.symbol
        if (self.type == MARKET and q.__class__ is float and 0.0 < q < _INF and (self.side == BUY or self.side == SELL)
                and (symbol is None or symbol.__class__ is str) and self.tag.__class__ is str
                and self.limit_price is None and self.stop_price is None):
            return self  # the common case, checked cheaply
        if self.side not in (BUY, SELL):
            raise ScenarioError(f"Order: side = {self.side!r}; expected 'buy' or 'sell'")
        self.quantity = _positive("quantity", q, "(use side for direction)")
        if self.symbol is not None and not (isinstance(self.symbol, str) and self.symbol):
            raise ScenarioError(f"Order: symbol = {self.symbol!r}; expected a symbol name or None (the first symbol)")
        if self.type == LIMIT:
            self.limit_price = _positive("limit_price", self.limit_price, "for a limit order")
        elif self.type == STOP:
            self.stop_price = _positive("stop_price", self.stop_price, "for a stop order")
        elif self.type != MARKET:
            raise ScenarioError(f"Order: type = {self.type!r}; expected 'market', 'limit' or 'stop'")
        # a price the order's type does not use would be ignored without a word: refused
        unused = [(n, v) for n, v, used in (("limit_price", self.limit_price, LIMIT), ("stop_price", self.stop_price,
                                                                                       STOP))
                  if v is not None and self.type != used]
        if unused:
            n, v = unused[0]
            raise ScenarioError(f"Order: {n} = {v!r} on a {self.type} order, which does not use it; expected "
                                f"{n} only on a {'limit' if n == 'limit_price' else 'stop'} order (a stop-limit "
                                "order is not simulated)")
        if not isinstance(self.tag, str):
            raise ScenarioError(f"Order: tag = {self.tag!r}; expected a string")
        return self

    @property
    def sign(self) -> int:
        return 1 if self.side == BUY else -1


_INF = math.inf


def _positive(name: str, value: object, what: str) -> float:
    """``value`` as a float if it is a finite real number > 0 (numpy scalars included), else an error."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ScenarioError(f"Order: {name} = {value!r}; expected a finite number > 0 {what}")
    return float(value)


def _order(side: str, quantity: float, symbol: str | None, limit: float | None, stop: float | None,
           tag: str) -> Order:
    if limit is not None and stop is not None:
        raise ScenarioError("Order: give limit or stop, not both")
    kind = LIMIT if limit is not None else STOP if stop is not None else MARKET
    return Order(side, quantity, symbol, kind, limit, stop, tag)


def buy(quantity: float, symbol: str | None = None, *, limit: float | None = None, stop: float | None = None,
        tag: str = "") -> Order:
    """A buy order: market by default, limit with ``limit=``, stop with ``stop=``."""
    if limit is None and stop is None:
        return Order(BUY, quantity, symbol, MARKET, None, None, tag)
    return _order(BUY, quantity, symbol, limit, stop, tag)


def sell(quantity: float, symbol: str | None = None, *, limit: float | None = None, stop: float | None = None,
         tag: str = "") -> Order:
    """A sell order (which may open a short): market by default, limit or stop by keyword."""
    if limit is None and stop is None:
        return Order(SELL, quantity, symbol, MARKET, None, None, tag)
    return _order(SELL, quantity, symbol, limit, stop, tag)
