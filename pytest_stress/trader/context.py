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

_FIELD = {name: i for i, name in enumerate(FIELDS)}


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

    __slots__ = ("_t", "symbols", "symbol", "policy", "bus", "model_status", "halted", "_feed", "_buf", "_rows",
                 "_last", "_src", "_k", "_revealed", "_close", "_price0", "_ts", "_ts_buf", "_ts_ro", "_ts_revealed",
                 "_ind_values", "_ind_arrays", "_ind_buf", "_ind_revealed", "_portfolio", "_qty", "_book",
                 "_sym_index", "account")

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
        self._buf: list[np.ndarray | None] = [None] * len(FIELDS)   # per field, allocated when first asked for
        self._rows: list[list[np.ndarray] | None] = [None] * len(FIELDS)   # its read-only rows, one per symbol
        self._last: list[memoryview | None] = [None] * len(FIELDS)   # one symbol: its row, writable, for one bar
        self._src: list[memoryview | None] = [None] * len(FIELDS)    # one symbol: the feed's row of the field
        self._k = len(feed.symbols)
        self._revealed = [0] * len(FIELDS)        # bars revealed so far, per field
        self._ts_revealed = 0
        self._close = memoryview(feed.values)    # [field, symbol, bar] -> a float, no copy
        self._price0 = memoryview(feed.values[CLOSE, 0])   # [bar] -> the first symbol's close (1-D: cheaper)
        self._ts = feed.timestamps
        self._ts_buf: np.ndarray | None = None
        self._ts_ro: np.ndarray | None = None
        self._sym_index = {s: i for i, s in enumerate(feed.symbols)}
        # One copy of each indicator: a 1-D one lives in an array('d') (it indexes as fast as a
        # list, at an eighth of the memory), and its numpy form is a read-only view of that array
        self._ind_arrays: dict[str, np.ndarray] = {}
        self._ind_values: dict[str, Any] = {}
        for k, v in (indicators or {}).items():
            if v.ndim == 1:
                values = array("d")
                values.frombytes(np.ascontiguousarray(v, dtype=np.float64).data.cast("B"))
                view = np.frombuffer(values, dtype=np.float64)
                view.flags.writeable = False
                self._ind_values[k], self._ind_arrays[k] = values, view
            else:
                self._ind_values[k], self._ind_arrays[k] = _PerSymbol(v), v
        self._ind_buf: dict[str, tuple[np.ndarray, np.ndarray]] = {}   # name -> (buffer, its read-only view)
        self._ind_revealed = dict.fromkeys(self._ind_arrays, 0)
        self._portfolio = portfolio
        self._qty = portfolio.qty          # the portfolio's own list, updated in place
        self._book = book
        self.account: Any = None   #: the account's view (``account.view.AccountView``), set by the runner

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
        return self._price0[self._t]

    def price_of(self, symbol: str) -> float:
        """The observed close of ``symbol`` at this bar."""
        return self._close[CLOSE, self._symbol(symbol), self._t]

    def _symbol(self, symbol: str) -> int:
        try:
            return self._sym_index[symbol]
        except (KeyError, TypeError):
            raise ScenarioError(unknown_name_message("symbol", str(symbol), self.symbols)) from None

    def history(self, field: str = "close", symbol: str | None = None) -> np.ndarray:
        """Observed ``field`` of ``symbol`` from bar 0 to this bar, read-only.

        Each field has its own (symbol, bar) buffer, allocated when first asked for, that
        holds the bars revealed so far: the bar that has just happened is copied in as one
        item (one symbol) or item by item, a longer stretch as one slice."""
        f = _FIELD.get(field)
        if f is None:
            raise ScenarioError(unknown_name_message("field", str(field), FIELDS))
        t = self._t
        done = self._revealed[f]
        if done <= t:
            last = self._last[f]
            if last is not None and done == t:   # the common case: one symbol, asked every bar
                last[t] = self._src[f][t]
                self._revealed[f] = t + 1
            else:
                self._reveal(f, t)
        return self._rows[f][0 if symbol is None else self._symbol(symbol)][:t + 1]

    def _reveal(self, f: int, t: int) -> None:
        """Copy field ``f`` of every symbol into its buffer up to bar ``t`` (allocating it)."""
        buf = self._buf[f]
        if buf is None:
            buf = self._buf[f] = np.full(self._feed.values.shape[1:], np.nan)
            ro = buf.view()
            ro.flags.writeable = False   # views of it are read-only without a flag write per call
            self._rows[f] = list(ro)
            if self._k == 1:
                self._last[f], self._src[f] = memoryview(buf[0]), memoryview(self._feed.values[f, 0])
        done = self._revealed[f]
        if done == t:
            item = self._close
            for s_ in range(self._k):
                buf[s_, t] = item[f, s_, t]
        else:
            buf[:, done:t + 1] = self._feed.values[f, :, done:t + 1]
        self._revealed[f] = t + 1

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
    def depth(self) -> np.ndarray:
        return self.history("depth")

    @property
    def timestamps(self) -> np.ndarray:
        """The feed's timestamps (int64 ns) from bar 0 to this bar, read-only."""
        t = self._t
        if self._ts_buf is None:
            self._ts_buf = np.zeros(self._feed.n_bars, dtype=np.int64)
            self._ts_ro = self._ts_buf.view()
            self._ts_ro.flags.writeable = False
        done = self._ts_revealed
        if done <= t:
            self._ts_buf[done:t + 1] = self._ts[done:t + 1]
            self._ts_revealed = t + 1
        return self._ts_ro[:t + 1]

    # -- precomputed indicators ---------------------------------------------
    def value(self, name: str) -> float:
        """This bar's value of a precomputed indicator (a float; per symbol: a list)."""
        try:
            return self._ind_values[name][self._t]
        except KeyError:
            raise ScenarioError(unknown_name_message("indicator", str(name), self._ind_values)
                                + " (define them in indicators(feed))") from None

    def indicator(self, name: str) -> np.ndarray:
        """A precomputed indicator from bar 0 to this bar, read-only."""
        pair = self._ind_buf.get(name)
        if pair is None:
            try:
                src = self._ind_arrays[name]
            except KeyError:
                raise ScenarioError(unknown_name_message("indicator", str(name), self._ind_arrays)) from None
            buf = np.full(src.shape, np.nan)
            ro = buf.view()
            ro.flags.writeable = False
            pair = self._ind_buf[name] = (buf, ro)
        buf, ro = pair
        t, done = self._t, self._ind_revealed[name]
        if done <= t:
            buf[..., done:t + 1] = self._ind_arrays[name][..., done:t + 1]
            self._ind_revealed[name] = t + 1
        return ro[..., :t + 1]

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
        p = self._portfolio
        if self._k == 1:   # Portfolio.mark's one-symbol case, inline: a frame less on a read made every bar
            q = self._qty[0]
            return p.cash + q * p.close0[self._t] if q else p.cash
        return p.mark(self._t)

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
