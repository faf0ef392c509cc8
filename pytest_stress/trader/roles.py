"""The eight roles of a production trading system, each optional, each with a pass-through default.

A user adapts an existing system by implementing only the roles it has; ``compose`` wires
them. Every role is a ``typing.Protocol``, so any object with the method will do.

Signals are target exposures per symbol in [-1, 1] (a fraction of equity, sized by the
sizer); the model returns None on bars where it has nothing new to say.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .orders import Order

if TYPE_CHECKING:  # pragma: no cover
    from .context import BarContext

__all__ = [
    "Signals", "SignalModel", "SignalFilter", "RiskGuard", "PortfolioBalancer", "SafetyGovernor",
    "PolicyController", "PolicyStore", "EventBus", "Reject", "HALT", "FLATTEN", "DEFAULT_POLICY",
]

Signals = Mapping[str, float]

#: Safety governor actions: stop new orders, or flatten every position and stop.
HALT, FLATTEN = "halt", "flatten"


@dataclass(frozen=True, slots=True)
class Reject:
    """A risk guard's refusal, with the reason recorded in the run."""

    reason: str


@runtime_checkable
class SignalModel(Protocol):
    def generate(self, ctx: "BarContext") -> Signals | None:
        """New target exposures, or None for 'no change'."""


@runtime_checkable
class SignalFilter(Protocol):
    def filter(self, signals: Signals | None, ctx: "BarContext") -> Signals | None:
        """Keep, change or drop the model's signals (the orchestrator's judgement)."""


@runtime_checkable
class RiskGuard(Protocol):
    def review(self, order: Order, ctx: "BarContext") -> Order | Reject | None:
        """Pre-trade check: return the order (approve), a smaller order (resize), or Reject/None."""


@runtime_checkable
class PortfolioBalancer(Protocol):
    def balance(self, targets: dict[str, float], ctx: "BarContext") -> dict[str, float]:
        """Adjust target positions (in units) for exposure and concentration limits."""


@runtime_checkable
class SafetyGovernor(Protocol):
    def check(self, ctx: "BarContext") -> str | None:
        """None to trade; HALT to stop new orders; FLATTEN to close everything and stop."""


@runtime_checkable
class PolicyController(Protocol):
    def update(self, ctx: "BarContext", policy: "PolicyStore") -> None:
        """Change policy as conditions change (write to ``policy``)."""


#: Policy every system starts with; components read and the policy controller writes it.
DEFAULT_POLICY: dict[str, Any] = {
    "position_pct": 1.0,          # equity fraction per unit of signal
    "rebalance_threshold": 0.05,  # ignore target changes smaller than this share of the position
    "max_gross_exposure": None,   # for balancers/guards that want one (None: no limit)
}


class PolicyStore(dict):
    """The shared configuration the other roles read (a dict with a change log)."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__({**DEFAULT_POLICY, **(initial or {})})
        self.changes: list[tuple[int, str, Any]] = []
        self._clock: Any = None

    def follow(self, clock: Any) -> None:
        """Record changes at ``clock._t`` (the run's ``BarContext``): read when a value changes,
        so the engine writes nothing here per bar."""
        self._clock = clock

    @property
    def bar(self) -> int:
        """The bar a change is recorded at (-1 outside a run)."""
        return -1 if self._clock is None else self._clock._t

    def set(self, key: str, value: Any) -> None:
        """Set a policy value, recording the bar it changed on."""
        if self.get(key) != value:
            self.changes.append((self.bar, key, value))
        self[key] = value


class EventBus:
    """Publish/subscribe. The executor publishes: bar, order, fill, rejection, failure,
    emergency_stop, model_failure, risk_rejection (topic "*" receives everything)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[str, Any], None]]] = defaultdict(list)
        self.active = False   #: True once anyone subscribed (lets the executor skip publishing)
        #: True once anyone listens to "bar" (or "*"): only then must every bar be a full bar of the
        #: engine's loop (the other topics are published on bars that are full bars anyway)
        self.every_bar = False

    def subscribe(self, topic: str, handler: Callable[[str, Any], None]) -> None:
        self._handlers[topic].append(handler)
        self.active = True
        if topic == "bar" or topic == "*":
            self.every_bar = True

    def wants(self, topic: str) -> bool:
        return self.active and (topic in self._handlers or "*" in self._handlers)

    def publish(self, topic: str, payload: Any) -> None:
        for h in self._handlers.get(topic, ()):
            h(topic, payload)
        for h in self._handlers.get("*", ()):
            h(topic, payload)

    def publish_each(self, topic: str, payload: Any, on_error: Callable[[Exception, Any], None]) -> None:
        """``publish``, with each handler's exception given to ``on_error(exc, handler)`` (which
        raises it with a note, or records it): a subscriber that raises is named, and under
        ``record_errors`` the other subscribers still hear the event."""
        for h in (*self._handlers.get(topic, ()), *self._handlers.get("*", ())):
            try:
                h(topic, payload)
            except Exception as exc:
                on_error(exc, h)
