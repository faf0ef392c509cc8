"""What the trader sees at each bar: the observed feed up to now, its account, policy and bus.

History comes as read-only numpy views of a buffer that holds only the bars revealed so
far (later bars are NaN until their time comes), so even ``ctx.close.base`` cannot show
the future. Bars are revealed lazily, when history is first asked for, so a trader that
only reads ``ctx.price`` or its precomputed indicators pays nothing for the buffer.
"""
from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ScenarioError, unknown_name_message
from ..market.data import CLOSE, FIELDS, MarketData
from .orders import BUY, SELL, Order, buy, sell

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.book import OrderBook
    from .roles import EventBus, PolicyStore

__all__ = ["BarContext"]


class _PerSymbol:
    """``[t]`` gives one bar of a (symbol, bar) indicator as a list, one value per symbol."""

    __slots__ = ("_a",)

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    def __getitem__(self, t: int) -> list[float]:
        return self._a[:, t].tolist()


class BarContext:
    """The trader's window on the run at bar ``t`` (one object, advanced bar by bar by the engine).

    The clock ``t`` is read-only: nothing a trader sets can move it.
    """

    __slots__ = ("_t", "symbols", "symbol", "policy", "bus", "model_status", "halted", "_feed", "_buf",
                 "_revealed", "_close", "_ts", "_ts_buf", "_ind_values", "_ind_arrays", "_ind_buf",
                 "_ind_revealed", "_portfolio", "_qty", "_book", "_sym_index")

    def __init__(self, feed: MarketData, portfolio: Any, book: "OrderBook", policy: "PolicyStore", bus: "EventBus",
                 indicators: Mapping[str, np.ndarray] | None = None) -> None:
        self._t = -1
        self.symbols = feed.symbols
        self.symbol = feed.symbols[0]
        self.policy = policy
        self.bus = bus
        self.model_status: str | None = None   #: None, "outage" or "garbage" on a failing-model bar
        self.halted = False                    #: True while the safety governor has trading halted
        self._feed = feed
        self._buf: np.ndarray | None = None       # allocated when history is first asked for
        self._revealed = 0
        self._close = feed.values.item
        self._ts = feed.timestamps
        self._ts_buf: np.ndarray | None = None
        self._sym_index = {s: i for i, s in enumerate(feed.symbols)}
        indicators = dict(indicators or {})
        self._ind_arrays = indicators
        # array('d') indexes as fast as a list at an eighth of the memory
        self._ind_values = {k: (array("d", v.tobytes()) if v.ndim == 1 else _PerSymbol(v))
                            for k, v in indicators.items()}
        self._ind_buf: dict[str, np.ndarray] = {}
        self._ind_revealed = dict.fromkeys(indicators, 0)
        self._portfolio = portfolio
        self._qty = portfolio.qty          # the portfolio's own list, updated in place
        self._book = book

    # -- time --------------------------------------------------------------
    @property
    def t(self) -> int:
        """The current bar (read-only)."""
        return self._t

    @property
    def bar(self) -> int:
        return self._t

    @property
    def timestamp(self) -> np.datetime64:
        """The feed's timestamp of this bar (under data corruption it can repeat or go back)."""
        return np.datetime64(int(self._ts[self._t]), "ns")

    # -- prices --------------------------------------------------------------
    @property
    def price(self) -> float:
        """The observed close of the first symbol at this bar (NaN if the feed says so)."""
        return self._close(CLOSE, 0, self._t)

    def price_of(self, symbol: str) -> float:
        """The observed close of ``symbol`` at this bar."""
        return self._close(CLOSE, self._symbol(symbol), self._t)

    def _symbol(self, symbol: str) -> int:
        try:
            return self._sym_index[symbol]
        except (KeyError, TypeError):
            raise ScenarioError(unknown_name_message("symbol", str(symbol), self.symbols)) from None

    def history(self, field: str = "close", symbol: str | None = None) -> np.ndarray:
        """Observed ``field`` of ``symbol`` from bar 0 to this bar, read-only."""
        if field not in FIELDS:
            raise ScenarioError(unknown_name_message("field", str(field), FIELDS))
        f = FIELDS.index(field)
        s = 0 if symbol is None else self._symbol(symbol)
        t = self._reveal()
        view = self._buf[f, s, :t + 1]
        view.flags.writeable = False
        return view

    @property
    def open(self) -> np.ndarray:
        return self.history("open")

    @property
    def high(self) -> np.ndarray:
        return self.history("high")

    @property
    def low(self) -> np.ndarray:
        return self.history("low")

    @property
    def close(self) -> np.ndarray:
        return self.history("close")

    @property
    def volume(self) -> np.ndarray:
        return self.history("volume")

    @property
    def spread(self) -> np.ndarray:
        return self.history("spread")

    @property
    def timestamps(self) -> np.ndarray:
        """The feed's timestamps (int64 ns) from bar 0 to this bar, read-only."""
        t = self._reveal()
        view = self._ts_buf[:t + 1]
        view.flags.writeable = False
        return view

    def _reveal(self) -> int:
        """Copy the bars that have happened since the last call into the visible buffers."""
        t, done = self._t, self._revealed
        if self._buf is None:
            self._buf = np.full(self._feed.values.shape, np.nan)
            self._ts_buf = np.zeros(self._feed.n_bars, dtype=np.int64)
        if done <= t:
            self._buf[:, :, done:t + 1] = self._feed.values[:, :, done:t + 1]
            self._ts_buf[done:t + 1] = self._ts[done:t + 1]
            self._revealed = t + 1
        return t

    # -- precomputed indicators ---------------------------------------------
    def value(self, name: str) -> float:
        """This bar's value of a precomputed indicator (a float; per symbol: a list)."""
        return self._ind_values[name][self._t]

    def indicator(self, name: str) -> np.ndarray:
        """A precomputed indicator from bar 0 to this bar, read-only."""
        src = self._ind_arrays[name]
        buf = self._ind_buf.get(name)
        if buf is None:
            buf = self._ind_buf[name] = np.full(src.shape, np.nan)
        t, done = self._t, self._ind_revealed[name]
        if done <= t:
            buf[..., done:t + 1] = src[..., done:t + 1]
            self._ind_revealed[name] = t + 1
        view = buf[..., :t + 1]
        view.flags.writeable = False
        return view

    # -- account -------------------------------------------------------------
    def position(self, symbol: str | None = None) -> float:
        """Units held of ``symbol`` (default: the first symbol); negative when short."""
        if symbol is None:
            return self._qty[0]
        try:
            return self._qty[self._sym_index[symbol]]
        except (KeyError, TypeError):
            return self._qty[self._symbol(symbol)]   # raises, naming the valid symbols

    @property
    def positions(self) -> dict[str, float]:
        return {s: q for s, q in zip(self.symbols, self._portfolio.qty) if q}

    @property
    def cash(self) -> float:
        return self._portfolio.cash

    @property
    def equity(self) -> float:
        """Cash plus positions marked at this bar's close on the exchange (the true market)."""
        return self._portfolio.mark(self._t)

    @property
    def open_orders(self) -> list[Order]:
        """Your orders still working: resting limits and stops, and market orders not yet handled."""
        return self._book.open_orders()

    def cancel(self, order: Order | int) -> None:
        """Ask to cancel a working order (the Order you sent, or its order id); it is removed
        before the next bar is handled."""
        self._book.request_cancel(order)

    def cancel_all(self) -> None:
        """Cancel every working order before the next bar is handled."""
        self._book.cancel_all()

    # -- order helpers ----------------------------------------------------------
    buy = staticmethod(buy)
    sell = staticmethod(sell)

    def close_position(self, symbol: str | None = None) -> Order | None:
        """A market order that flattens ``symbol``'s position, or None if flat."""
        return self.target_position(0.0, symbol)

    def target_position(self, quantity: float, symbol: str | None = None) -> Order | None:
        """A market order that moves ``symbol``'s position to ``quantity`` (negative: short)."""
        diff = quantity - self.position(symbol)
        if abs(diff) < 1e-12:
            return None
        return Order(BUY if diff > 0 else SELL, abs(diff), symbol)
