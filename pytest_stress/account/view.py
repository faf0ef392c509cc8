"""``ctx.account``: what the trader may know about its account at the current bar.

Marks are the current bar's true close (the venue's price), as for ``ctx.equity``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..market.data import CLOSE

if TYPE_CHECKING:  # pragma: no cover
    from ..trader.context import BarContext
    from .ledger import Ledger

__all__ = ["AccountView"]


class AccountView:
    """Equity, margin and liquidation prices of the run's account, at the current bar's close."""

    __slots__ = ("_ledger", "_ctx")

    def __init__(self, ledger: "Ledger", ctx: "BarContext") -> None:
        self._ledger = ledger
        self._ctx = ctx

    def _marks(self) -> list[float]:
        t = self._ctx.t
        bar = self._ledger._bar
        return [bar[CLOSE, s, t] for s in range(len(self._ledger.pf.qty))]

    @property
    def kind(self) -> str:
        """"cash", "margin" or "perpetual"."""
        return self._ledger.kind

    @property
    def equity(self) -> float:
        return self._ledger.equity_at(self._marks())

    @property
    def maintenance_requirement(self) -> float:
        """Margin the open positions must keep (below it: margin call or liquidation)."""
        return self._ledger.maintenance_at(self._marks())

    @property
    def initial_margin(self) -> float:
        """Margin the open positions use at their leverage."""
        return self._ledger.initial_at(self._marks())

    @property
    def available_margin(self) -> float:
        """Equity not used as initial margin: what new positions can use."""
        marks = self._marks()
        return self._ledger.equity_at(marks) - self._ledger.initial_at(marks)

    @property
    def margin_ratio(self) -> float:
        """Maintenance requirement / equity, as venues show it: liquidation at 1.0 (0 when flat)."""
        marks = self._marks()
        equity = self._ledger.equity_at(marks)
        need = self._ledger.maintenance_at(marks)
        return need / equity if equity > 0 else (float("inf") if need > 0 else 0.0)

    def liquidation_price(self, symbol: str | None = None) -> float | None:
        """The price at which the position in ``symbol`` (default: the first) is force-closed; None: never."""
        s = 0 if symbol is None else self._ctx._symbol(symbol)
        return self._ledger.liquidation_price(s)

    def adl_quantile(self, symbol: str | None = None) -> float | None:
        """The position's place in its side's auto-deleveraging queue at the current close: the share
        of the market's profitable positions on its side it outranks (near 1: closed first when the
        insurance fund runs dry). None when flat, not in profit, or ADL is off (docs/accounts.md)."""
        s = 0 if symbol is None else self._ctx._symbol(symbol)
        return self._ledger.adl_quantile(s, self._ctx.t)

    @property
    def ruined(self) -> bool:
        return self._ledger.ruined

    def __repr__(self) -> str:
        return (f"AccountView({self.kind}, equity={self.equity:.2f}, margin_ratio={self.margin_ratio:.3f}, "
                f"ruined={self.ruined})")
