"""The run's book of working orders: what the trader sent and the exchange has not finished.

The trader's ``Order`` objects are never written to. Each submission becomes a
``Ticket`` (the engine's own record: id, resolved symbol, remaining quantity) that the
exchange works on. ``BarContext`` reads the book (``open_orders``) and asks it to cancel.
"""
from __future__ import annotations

import math

from ..errors import ScenarioError, is_integer, unknown_name_message
from ..exchange.faults import VenueFaults
from ..result.models import ExecutionResult
from ..trader.orders import Order

__all__ = ["Ticket", "OrderBook"]


class Ticket:
    """One submitted order as the exchange sees it: a copy of the order's fields when it was
    sent (``quantity`` is what remains to fill), so later changes to the ``Order`` never reach it."""

    __slots__ = ("id", "order", "symbol", "side", "type", "quantity", "limit_price", "stop_price", "tag")

    def __init__(self, id: int, order: Order, symbol: str) -> None:
        self.id = id
        self.order = order
        self.symbol = symbol
        self.side = order.side
        self.type = order.type
        self.quantity = order.quantity
        self.limit_price = order.limit_price
        self.stop_price = order.stop_price
        self.tag = order.tag


class OrderBook:
    """Working orders of one run, in submission order, and the trader's cancel requests."""

    __slots__ = ("_symbols", "_known", "_next_id", "pending", "_by_id", "_by_order", "cancels", "_forced")

    def __init__(self, symbols: tuple[str, ...]) -> None:
        self._symbols = symbols
        self._known = frozenset(symbols)
        self._next_id = 1
        self.pending: list[Ticket] = []          # handed to the exchange at the next bar (changed in place)
        self._by_id: dict[int, Ticket] = {}      # working tickets by id, in submission order
        self._by_order: dict[int, Ticket] = {}   # working tickets by id() of the trader's Order
        self.cancels: list[int] = []             # ids the trader asked to cancel, applied at the next bar
        self._forced: set[int] = set()           # of those, the ids a liquidation cancels (the venue's own)

    # -- the trader's side (through BarContext) --------------------------------
    def submit(self, order: Order) -> Ticket | None:
        """Open a ticket for ``order``; None if this very object is still working (a no-op)."""
        key = id(order)
        if key in self._by_order:
            return None
        order.validate()            # it may have been changed since it was built
        symbol = order.symbol
        if symbol is None:
            symbol = self._symbols[0]
        elif symbol not in self._known:
            raise ScenarioError(unknown_name_message("symbol", symbol, self._symbols)
                                + f" (in {order!r}; this scenario trades only these)")
        ticket = Ticket(self._next_id, order, symbol)
        self._next_id += 1
        self.pending.append(ticket)
        self._by_id[ticket.id] = ticket
        self._by_order[key] = ticket
        return ticket

    def open_orders(self) -> list[Order]:
        """The trader's orders still working (resting limits and stops, market orders not yet handled)."""
        return [t.order for t in self._by_id.values()]

    def request_cancel(self, order: Order | int) -> None:
        """Cancel a working order (an ``Order`` the trader sent, or its id) before the next bar."""
        if isinstance(order, Order):
            ticket = self._by_order.get(id(order))
            if ticket is not None:
                self.cancels.append(ticket.id)
            return
        if is_integer(order):
            if not 1 <= order < self._next_id:       # an id that was never given out: a wrong number, said
                raise ScenarioError(f"cancel({order!r}): no order with id {order} was ever sent in this run (ids "
                                    f"so far: 1 to {self._next_id - 1}); expected an Order you sent (see "
                                    "ctx.open_orders) or its order id")
            self.cancels.append(int(order))
            return
        raise ScenarioError(f"cancel({order!r}): expected an Order you sent (see ctx.open_orders) or its order id")

    def cancel_all(self) -> None:
        self.cancels.extend(self._by_id)

    def cancel_symbol(self, symbol: str) -> None:
        """Cancel every working order in ``symbol`` (a liquidation cancels them first: the venue's own
        cancels, which its fault kinds neither refuse nor delay)."""
        ids = [i for i, tk in self._by_id.items() if tk.symbol == symbol]
        self.cancels.extend(ids)
        self._forced.update(ids)

    # -- the engine's side -----------------------------------------------------------
    def apply_cancels(self, t: int, executions: list[ExecutionResult], venue: VenueFaults | None = None
                      ) -> list[ExecutionResult]:
        """Remove the tickets the trader asked to cancel, recording each as cancelled at bar ``t``.

        With the venue's fault kinds (``venue``): a cancel the trader asked for and still under way
        stays asked for (the ticket keeps working and may fill) until the bar it takes effect; a
        refused one is recorded (``cancel_rejected``) and returned, for the trader's ``on_rejection``.
        A liquidation's cancels (``cancel_symbol``) take effect at once."""
        if not self.cancels:
            return []
        refused: list[ExecutionResult] = []
        if venue is not None:
            forced = self._forced
            asked = [i for i in self.cancels if i not in forced] if forced else self.cancels
            now, later, refused = venue.cancels(t, asked, self._by_id)
            executions.extend(refused)
            ids = set(now) | forced
            forced.clear()
            self.cancels[:] = later
            if not ids:
                return refused
        else:
            ids = set(self.cancels)
            self.cancels.clear()
            self._forced.clear()
        keep = []
        for ticket in self.pending:
            if ticket.id in ids:
                executions.append(expired(ticket, t, "cancelled by the trader", "cancelled"))
                self._close(ticket)
            else:
                keep.append(ticket)
        self.pending[:] = keep
        return refused

    def settle(self, results: list[ExecutionResult], resting: list[Ticket]) -> None:
        """After the exchange's turn: ``resting`` stay pending, the others are done."""
        self.pending[:] = resting
        if not resting:
            self._by_id.clear()
            self._by_order.clear()
            return
        still = {t.id for t in resting}
        for r in results:
            if r.order_id not in still:
                ticket = self._by_id.get(r.order_id)
                if ticket is not None:
                    self._close(ticket)

    def expire_all(self, t: int, executions: list[ExecutionResult]) -> None:
        """At the end of the run: every working order expires unfilled."""
        for ticket in self.pending:
            executions.append(expired(ticket, t, "run ended before the order could fill"))
            self._close(ticket)
        self.pending.clear()

    def _close(self, ticket: Ticket) -> None:
        self._by_id.pop(ticket.id, None)
        self._by_order.pop(id(ticket.order), None)


def expired(ticket: Ticket, t: int, reason: str, status: str = "expired") -> ExecutionResult:
    """The record of a ticket that ends at bar ``t`` without a fill."""
    return ExecutionResult(ticket.id, ticket.symbol, ticket.side, ticket.type, t, status, ticket.quantity, 0.0,
                           math.nan, math.nan, 0.0, 0.0, 0.0, 0.0, reason)
