"""Positions a trader did not ask for, found in a run's fills: for a case's notes in the report.

Two kinds, each named with the symbol, the bar and how long it lasted:

- **opened by a late fill**: a fill of an order the exchange had already reported as timed out
  (``ExecutionResult.late``) that moved a flat position away from zero or across it. The trader
  was told the order failed; the position it opened is one the trader does not know it holds.
- **unintended short (or long)**: a fill of a *closing* order that left the position on the
  other side of zero. An order is closing when it asked for no more than the position held at
  the start of the bar the exchange first handled it on (its first execution record: a fill, or
  the timeout of an order that fills late), which is the position the trader saw when it placed
  it (a sell of at most the long held). Such an order flips the
  position only when another fill closed the position first: the classic case is a sell that
  times out, is retried, and then fills late as well, leaving the account short.

Positions are followed fill by fill from the execution records (the same arithmetic as
``frames.holdings``' rebuild), so no market data is needed. A flip that the trader asked for (a
sell of more than the long held) is not flagged.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import ScenarioResult

__all__ = ["position_notes"]

_EPS = 1e-9


def _fmt_qty(q: float) -> str:
    return f"{q:.6g}"


def position_notes(result: "ScenarioResult", limit: int = 5) -> list[str]:
    """Notes on positions opened by late fills and unintended flips (module docstring), at most
    ``limit`` of them (the first ones in time), plus a count of the rest."""
    n = int(getattr(result, "bars_processed", 0) or len(result.equity_curve))
    held: dict[str, float] = {}
    at_bar_start: dict[str, float] = {}   # positions at the start of the bar being read
    bar = -1
    asked_at: dict[int, float] = {}       # order id -> position at the start of the bar first handled on
    found: list[tuple[str, str, int, float, str]] = []   # (kind, symbol, bar, position after, how)
    for e in result.executions:
        if e.bar != bar:
            bar, at_bar_start = e.bar, dict(held)
        pos = held.get(e.symbol, 0.0)
        asked_at.setdefault(e.order_id, at_bar_start.get(e.symbol, 0.0))
        if e.filled_qty <= 0:
            continue
        sign = 1.0 if e.side == "buy" else -1.0
        after = pos + sign * e.filled_qty
        held[e.symbol] = after
        if abs(after) <= _EPS * max(1.0, abs(pos)) or (pos > _EPS and after > 0) or (pos < -_EPS and after < 0):
            continue     # closed, or still on the same side: nothing opened
        opened = abs(pos) <= _EPS or pos * after < 0
        if not opened:
            continue
        before = asked_at[e.order_id]
        closing = sign * before < 0 and e.requested_qty <= abs(before) * (1 + 1e-9) + _EPS
        side = "short" if after < 0 else "long"
        if e.late:
            found.append(("late", e.symbol, e.bar, after,
                          f"order {e.order_id}, reported timed out, filled late at bar {e.bar}"))
        elif closing:
            found.append((side, e.symbol, e.bar, after,
                          f"order {e.order_id} asked to close {_fmt_qty(abs(before))} and filled after the "
                          "position was already closed"))
        if e.late and closing:
            found[-1] = ("late " + side, *found[-1][1:])
    notes = []
    for kind, sym, bar, after, how in found[:limit]:
        lasted = _bars_held(result, sym, bar, after, n)
        side = "short" if after < 0 else "long"
        what = {"late": f"{side} position opened by a late fill",
                "short": "unintended short", "long": "unintended long",
                "late short": "unintended short opened by a late fill",
                "late long": "unintended long opened by a late fill"}[kind]
        notes.append(f"{what}: {sym} {after:+.6g} from bar {bar} for {lasted} bar(s) ({how})")
    if len(found) > limit:
        notes.append(f"... and {len(found) - limit} more such fill(s)")
    return notes


def _bars_held(result: "ScenarioResult", symbol: str, bar: int, after: float, n: int) -> int:
    """How many bars the position stayed on the side ``after`` is on, from ``bar``."""
    pos = 0.0
    start_side = 1 if after > 0 else -1
    for e in result.executions:
        if e.symbol != symbol or e.filled_qty <= 0:
            continue
        pos += (1.0 if e.side == "buy" else -1.0) * e.filled_qty
        if e.bar > bar and pos * start_side <= _EPS:
            return e.bar - bar
    return max(n - bar, 1)
