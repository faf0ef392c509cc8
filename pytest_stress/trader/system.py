"""The trader under test as the engine drives it: a simple ``on_bar`` trader, or the eight roles.

``compose`` wires the user's roles into a ``TradingSystem``: configuration only, never
changed by a run. For each run, ``as_decider`` wraps what the user passed in a fresh
*decider* that holds the run's state (its counters and its copy of the policy):
``step(ctx, fault)`` returns this bar's orders. ``fault`` is None, or ``(kind, u)`` on a
bar where the signal model fails (``scenario/faults.py`` says what that means). So the
same system run twice gives the same result.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from numbers import Real
from typing import Any

from ..errors import ScenarioError
from ..scenario.faults import ModelFault, garbage_scale, garbage_signals
from .context import BarContext
from .orders import BUY, SELL, Order
from .roles import FLATTEN, HALT, EventBus, PolicyStore, Reject, Signals

__all__ = ["TradingSystem", "compose", "ExposureSizer", "FixedSizer", "as_decider", "Pipeline", "SimpleDecider"]

Sizer = Callable[[Signals, BarContext], dict[str, float]]


class ExposureSizer:
    """Signal s on a symbol targets s * policy['position_pct'] * equity / price units.

    A symbol whose observed price is not a positive number (a corrupted bar) keeps its
    current position rather than being sized on garbage.
    """

    def __call__(self, signals: Signals, ctx: BarContext) -> dict[str, float]:
        pct = ctx.policy["position_pct"]
        eq = ctx.equity
        out = {}
        for sym, s in signals.items():
            p = ctx.price_of(sym)
            out[sym] = s * pct * eq / p if p > 0 and math.isfinite(p) and math.isfinite(s) else ctx.position(sym)
        return out


class FixedSizer:
    """Signal s targets s * ``units`` units (useful to compare engines trade for trade)."""

    def __init__(self, units: float) -> None:
        self.units = units

    def __call__(self, signals: Signals, ctx: BarContext) -> dict[str, float]:
        return {sym: s * self.units if math.isfinite(s) else ctx.position(sym) for sym, s in signals.items()}


def _add_note(exc: BaseException, note: str) -> None:
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


class TradingSystem:
    """The eight roles wired into one pipeline, run each bar in this order:

    policy controller -> safety governor -> signal model -> signal filter -> sizer ->
    portfolio balancer -> (orders to reach the targets) -> risk guard -> exchange.

    Any role may be None (pass-through). Build it with ``compose``. The filter is called
    when the model produced signals or failed (outage: ``signals`` is None and
    ``ctx.model_status`` says so), not on quiet bars. ``policy`` is the policy every run
    starts from; a run's policy controller changes that run's copy (``ctx.policy``).
    """

    def __init__(self, model=None, filter=None, risk_guard=None, balancer=None, governor=None,
                 policy_controller=None, policy: PolicyStore | Mapping[str, Any] | None = None,
                 bus: EventBus | None = None, sizer: Sizer | None = None) -> None:
        self.model = model
        self.filter = filter
        self.risk_guard = risk_guard
        self.balancer = balancer
        self.governor = governor
        self.policy_controller = policy_controller
        self.policy = policy if isinstance(policy, PolicyStore) else PolicyStore(policy)
        self.bus = bus or EventBus()
        self.sizer = sizer or ExposureSizer()
        for role, attr in (("model", "generate"), ("filter", "filter"), ("risk_guard", "review"),
                           ("balancer", "balance"), ("governor", "check"), ("policy_controller", "update")):
            obj = getattr(self, role)
            if obj is not None and not callable(getattr(obj, attr, None)):
                raise ScenarioError(f"compose: {role}={obj!r} has no {attr}() method")


class Pipeline:
    """One run of a ``TradingSystem``: its counters and its policy live here, not on the system."""

    has_hooks = False

    def __init__(self, system: TradingSystem) -> None:
        self.system = system
        self.policy = PolicyStore(dict(system.policy))
        self.bus = system.bus
        self.sizer = system.sizer
        self.risk_guard = system.risk_guard
        self.balancer = system.balancer
        self.risk_rejections = 0
        self.emergency_stops = 0
        self.rejection_reasons: list[tuple[int, str]] = []
        # bound methods, looked up once (the pipeline runs every bar)
        self._update = system.policy_controller.update if system.policy_controller is not None else None
        self._check = system.governor.check if system.governor is not None else None
        self._generate = system.model.generate if system.model is not None else None
        self._filter = system.filter.filter if system.filter is not None else None

    def quiet_roles(self) -> tuple[Any, PolicyStore, Any, Any]:
        """``(update, policy, check, generate)``: the calls a bar makes before it has signals (each
        None where the role is absent), for the engine's loop over quiet bars, which makes them
        inline and hands a bar on to ``emergency`` or ``decide`` as ``step`` does."""
        return self._update, self.policy, self._check, self._generate

    def step(self, ctx: BarContext, fault: ModelFault | None = None) -> list[Order] | None:
        """This bar's orders: the roles before the signals here, the rest in ``decide``."""
        # runs every bar: bound methods in locals, nothing written that has not changed
        stage = "policy controller"
        try:
            update = self._update
            if update is not None:
                update(ctx, self.policy)
            check = self._check
            if check is not None:
                stage = "safety governor"
                action = check(ctx)
                if action is not None:
                    return self.emergency(action, ctx)
                if ctx.halted:
                    ctx.halted = False
            stage = "signal model"
            generate = self._generate
            if fault is None:
                signals = generate(ctx) if generate is not None else None
            elif fault[0] == "garbage":
                if generate is not None:
                    generate(ctx)
                signals = garbage_signals(ctx.symbols, fault[1])
            else:
                signals = None
        except Exception as exc:
            self.annotate(exc, stage)
            raise
        if signals is None and fault is None:
            return None
        return self.decide(signals, ctx, fault)

    def decide(self, signals: Signals | None, ctx: BarContext, fault: ModelFault | None = None) -> list[Order] | None:
        """From the model's signals (None: it failed, ``fault`` says how) to this bar's orders:
        signal filter, sizer, portfolio balancer, orders to reach the targets, risk guard."""
        stage = "signal model"                 # bad signals blame the role that made them
        try:
            if self._filter is not None and (signals is not None or fault is not None):
                stage = "signal filter"
                signals = self._filter(signals, ctx)
            if signals is None:
                return None
            _check_mapping(signals, ctx, "signals (target exposures)")
            stage = "sizer"
            targets = self.sizer(signals, ctx)
            if self.balancer is not None:
                stage = "portfolio balancer"
                targets = self.balancer.balance(targets, ctx)
                _check_mapping(targets, ctx, "targets (units)")
            stage = "risk guard"
            return self._orders(targets, ctx)
        except Exception as exc:
            self.annotate(exc, stage)
            raise

    def annotate(self, exc: BaseException, stage: str) -> None:
        """Add a note to ``exc`` naming the role it came from (``stage``, as in ``step``)."""
        role = getattr(self.system, _ROLE_ATTR[stage])
        _add_note(exc, f"pytest-stress: raised by the {stage} ({type(role).__name__})")

    def emergency(self, action: str, ctx: BarContext) -> list[Order] | None:
        """The safety governor's ``action`` (HALT or FLATTEN) at this bar: counted once per episode."""
        if action != HALT and action != FLATTEN:
            raise ScenarioError(f"safety governor returned {action!r}; expected None, {HALT!r} or {FLATTEN!r}")
        if not ctx.halted:
            self.emergency_stops += 1
            ctx.halted = True
            if self.bus.wants("emergency_stop"):
                self.bus.publish("emergency_stop", {"bar": ctx.t, "action": action})
        if action == FLATTEN:
            ctx.cancel_all()
            return [o for o in (ctx.close_position(s) for s in ctx.symbols) if o is not None]
        return None

    def _orders(self, targets: Mapping[str, float], ctx: BarContext) -> list[Order] | None:
        thr = ctx.policy["rebalance_threshold"]
        out = None
        for sym, target in targets.items():
            pos = ctx.position(sym)
            diff = target - pos
            if diff == 0 or not math.isfinite(diff) or (target != 0 and abs(diff) <= thr * max(abs(target), abs(pos))):
                continue
            order = Order(BUY if diff > 0 else SELL, abs(diff), sym)
            if self.risk_guard is not None:
                decision = self.risk_guard.review(order, ctx)
                if decision.__class__ is not Order or decision is not order:   # the plain approval: no checks
                    _check_review(decision, order, self.risk_guard, ctx)
                if not isinstance(decision, Order):
                    reason = decision.reason if isinstance(decision, Reject) else "rejected"
                    self.risk_rejections += 1
                    self.rejection_reasons.append((ctx.t, reason))
                    if self.bus.wants("risk_rejection"):
                        self.bus.publish("risk_rejection", {"bar": ctx.t, "order": order, "reason": reason})
                    continue
                order = decision.validate()
            if out is None:
                out = [order]
            else:
                out.append(order)
        return out

    def on_fill(self, execution, ctx: BarContext) -> None:
        pass

    def on_rejection(self, execution, ctx: BarContext) -> None:
        pass


#: Float noise a resized order may carry above the order it resizes (relative).
_RESIZE_SLACK = 1e-9


def _check_review(decision: Any, order: Order, guard: Any, ctx: BarContext) -> None:
    """A risk guard's answer must be what its contract allows: the order, a smaller order (same
    symbol and side, quantity at most the order's), ``Reject(reason)`` or None (a rejection).
    Anything else (True, a string, a larger order) would otherwise count as a rejection or be sent."""
    if decision is None or isinstance(decision, Reject):
        return
    who = f"risk guard ({type(guard).__name__}) at bar {ctx.t}, reviewing {order!r}"
    if not isinstance(decision, Order):
        raise ScenarioError(f"{who}: returned {decision!r} ({type(decision).__name__}); expected the order, a smaller "
                            "order (same symbol and side), Reject(reason) or None")
    if (decision.symbol or ctx.symbols[0]) != (order.symbol or ctx.symbols[0]) or decision.side != order.side:
        raise ScenarioError(f"{who}: returned {decision!r}, a {decision.side} of {decision.symbol}; a review may "
                            f"only approve or shrink the order: a {order.side} of {order.symbol}")
    if not decision.quantity <= order.quantity * (1 + _RESIZE_SLACK):
        raise ScenarioError(f"{who}: returned {decision!r}, quantity {decision.quantity!r} > the order's "
                            f"{order.quantity!r}; a review may only approve the order or make it smaller")


def _check_mapping(values: Any, ctx: BarContext, what: str) -> None:
    """Signals and targets are {symbol of this scenario: finite number}; anything else is an error."""
    if values.__class__ is dict:              # the common case, without ABC checks
        known = ctx._sym_index
        for sym, v in values.items():
            if not ((v.__class__ is float or v.__class__ is int) and sym in known and math.isfinite(v)):
                break
        else:
            return
    if not isinstance(values, Mapping):
        raise ScenarioError(f"{what}: got {values!r} ({type(values).__name__}); expected a dict of symbol -> number")
    for sym, v in values.items():
        if sym not in ctx._sym_index:
            raise ScenarioError(f"{what}: unknown symbol {sym!r} (value {v!r}); this scenario trades "
                                f"{list(ctx.symbols)}")
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            raise ScenarioError(f"{what}: {sym!r} = {v!r}; expected a finite number (drop the symbol, or return "
                                "None, for no change)")


_ROLE_ATTR = {"policy controller": "policy_controller", "safety governor": "governor", "signal model": "model",
              "signal filter": "filter", "sizer": "sizer", "portfolio balancer": "balancer",
              "risk guard": "risk_guard"}


def compose(model=None, *, filter=None, risk_guard=None, balancer=None, governor=None, policy_controller=None,
            policy: PolicyStore | Mapping[str, Any] | None = None, bus: EventBus | None = None,
            sizer: Sizer | None = None) -> TradingSystem:
    """Wire the roles you have into one trading system; the others pass through."""
    return TradingSystem(model, filter, risk_guard, balancer, governor, policy_controller, policy, bus, sizer)


class SimpleDecider:
    """One run of any object with ``on_bar(ctx)`` (returning None, an Order, or Orders).

    Optional hooks: ``on_fill(execution, ctx)``, ``on_rejection(execution, ctx)``,
    ``on_liquidation(execution, ctx)`` (orders they return are submitted like ``on_bar``'s),
    ``on_model_failure(ctx, kind)``. On a
    failing-model bar ``on_bar`` is the model: an outage skips it (``on_model_failure``
    is called instead); garbage flips the side of each order it returns and scales its
    quantity (``scenario.faults.garbage_scale``).
    """

    def __init__(self, trader: Any) -> None:
        self.trader = trader
        self.on_bar = trader.on_bar
        self._on_fill = getattr(trader, "on_fill", None)
        self._on_rejection = getattr(trader, "on_rejection", None)
        self._on_failure = getattr(trader, "on_model_failure", None)
        self.on_liquidation = getattr(trader, "on_liquidation", None)
        self.has_hooks = self._on_fill is not None or self._on_rejection is not None
        own = getattr(trader, "policy", None)
        self.policy = PolicyStore(dict(own)) if own else PolicyStore()
        self.bus = getattr(trader, "bus", None) or EventBus()
        self.risk_rejections = 0
        self.emergency_stops = 0
        self.rejection_reasons: list[tuple[int, str]] = []

    def step(self, ctx: BarContext, fault: ModelFault | None = None) -> Iterable[Order] | Order | None:
        if fault is None:
            return self.on_bar(ctx)
        if fault[0] == "outage":
            if self._on_failure is not None:
                self._on_failure(ctx, "outage")
            return None
        out = self.on_bar(ctx)
        orders = [out] if isinstance(out, Order) else list(out or ())
        scale = garbage_scale(fault[1])
        return [Order(SELL if o.side == BUY else BUY, o.quantity * scale, o.symbol, o.type, o.limit_price,
                      o.stop_price, o.tag) for o in orders]

    def on_fill(self, execution, ctx: BarContext) -> Any:
        return self._on_fill(execution, ctx) if self._on_fill is not None else None

    def on_rejection(self, execution, ctx: BarContext) -> Any:
        return self._on_rejection(execution, ctx) if self._on_rejection is not None else None


def as_decider(trader: Any) -> Pipeline | SimpleDecider:
    """A fresh run-scoped decider for what the user passed: a TradingSystem, an on_bar
    trader, or a bare signal model (wired alone with ``compose``)."""
    if isinstance(trader, TradingSystem):
        return Pipeline(trader)
    if callable(getattr(trader, "on_bar", None)):
        return SimpleDecider(trader)
    if callable(getattr(trader, "generate", None)):
        return Pipeline(compose(trader))
    raise ScenarioError(
        f"trader {trader!r} is not a trading system: give an object with on_bar(ctx) returning orders, "
        "a signal model with generate(ctx), or pytest_stress.compose(...) of your components")
