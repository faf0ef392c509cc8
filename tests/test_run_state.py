"""Run state is run-scoped: the engine never writes into the user's objects, and a system
run twice gives the same result. Each test reproduces a wrong result of the earlier layout."""
import json
import math

import pytest

from pytest_stress import HALT, Reject, Scenario, buy, compose, library, run_scenario, sell
from pytest_stress.errors import ScenarioError
from pytest_stress.plugin.compare import Threshold, check
from pytest_stress.result.jsonform import decode, decode_metrics, encode
from pytest_stress.result.models import ScenarioResult


class Trend:
    def generate(self, ctx):
        c = ctx.close
        if len(c) < 20:
            return None
        return {ctx.symbol: 1.0 if c[-1] > c[-20:].mean() else 0.0}


class HaltOnDrawdown:
    def __init__(self):
        self.peak = 0.0

    def check(self, ctx):
        self.peak = max(self.peak, ctx.equity)
        return HALT if ctx.equity < 0.97 * self.peak else None


class EveryThird:
    def review(self, order, ctx):
        return Reject("every third bar") if ctx.t % 3 == 0 else order


def _comparable(result):
    d = result.to_dict(curves=True, records=True)
    d.pop("duration_s")
    return d


def test_one_system_run_twice_gives_identical_results():
    def system():
        return compose(Trend(), risk_guard=EveryThird(), governor=HaltOnDrawdown(),
                       policy_controller=_Derisk(), policy={"position_pct": 0.5})

    a_scenario, b_scenario = library.get("BTC Flash Crash 2021"), library.get("Black Swan Combo")
    shared = system()
    first = run_scenario(a_scenario, shared)
    assert first.emergency_stops > 0 and first.risk_rejections > 0
    fresh = run_scenario(b_scenario, system())
    assert fresh.emergency_stops > 0 and fresh.risk_rejections > 0
    # the governor keeps the user's own state (its peak): give the shared system a fresh one;
    # everything pytest-stress counts or changes must start afresh by itself
    shared.governor = HaltOnDrawdown()
    assert _comparable(run_scenario(b_scenario, shared)) == _comparable(fresh)
    assert shared.policy == compose(policy={"position_pct": 0.5}).policy and shared.policy.changes == []


class _Derisk:
    def update(self, ctx, policy):
        policy.set("position_pct", 0.25 if ctx.halted else 0.5)


BUY = buy(0.01)   # a module-level order, returned in every scenario


class Constant:
    def on_bar(self, ctx):
        return BUY if ctx.t % 10 == 0 else None


def test_a_module_level_order_works_in_every_scenario():
    a = run_scenario(Scenario("a", symbols=("BTCUSDT",), bars=60), Constant())
    b = run_scenario(Scenario("b", symbols=("ETHUSDT",), bars=60), Constant())
    assert a.orders_filled == b.orders_filled == 6
    assert BUY == buy(0.01) and BUY.symbol is None        # never written into
    assert {e.symbol for e in b.executions} == {"ETHUSDT"}


class OneLimitOrder:
    """Returns its one working limit order on every bar until it fills."""

    def __init__(self):
        self.order = None
        self.fills = 0

    def on_bar(self, ctx):
        if self.order is None and ctx.t == 5:
            self.order = buy(1.0, limit=ctx.price * 0.995)
        return self.order if self.fills == 0 else None

    def on_fill(self, execution, ctx):
        self.fills += 1


def test_returning_a_working_order_again_is_a_no_op():
    res = run_scenario(Scenario("x", bars=400, seed=3), OneLimitOrder(), "frictionless")
    filled = [e for e in res.executions if e.filled_qty > 0]
    assert len(filled) == 1 and filled[0].filled_qty == 1.0
    assert filled[0].bar > 8                     # it was returned again on several bars while it rested
    assert res.orders_submitted == 1


@pytest.mark.parametrize("field,value", [("quantity", math.nan), ("quantity", -3.0), ("quantity", math.inf),
                                         ("side", "hold"), ("type", "iceberg"), ("tag", 5)])
def test_an_order_changed_after_it_is_built_is_refused_when_sent(field, value):
    class Changes:
        def on_bar(self, ctx):
            if ctx.t == 3:
                order = buy(1.0)
                setattr(order, field, value)
                return order

    with pytest.raises(ScenarioError, match=f"{field} = {value!r}") as info:
        run_scenario(Scenario("x", bars=10), Changes())
    assert "at bar 3" in "\n".join(info.value.__notes__)


class MutatingGuard:
    def review(self, order, ctx):
        order.quantity = math.nan
        return order


class Always:
    def generate(self, ctx):
        return {ctx.symbol: 1.0}


def test_a_risk_guard_that_corrupts_an_order_is_named():
    with pytest.raises(ScenarioError, match="quantity = nan") as info:
        run_scenario(Scenario("x", bars=30), compose(Always(), risk_guard=MutatingGuard()))
    notes = "\n".join(info.value.__notes__)
    assert "risk guard (MutatingGuard)" in notes and "at bar 0" in notes


class EditsOpenOrders:
    def on_bar(self, ctx):
        if ctx.t == 1:
            return sell(1.0, limit=ctx.price * 10)
        for o in ctx.open_orders:
            o.quantity = 3.0
            o.limit_price = ctx.price * 0.5


def test_changing_a_working_order_does_not_reach_the_exchange():
    res = run_scenario(Scenario("x", bars=10), EditsOpenOrders(), "frictionless")
    assert res.orders_filled == 0
    assert [(e.status, e.requested_qty) for e in res.executions] == [("expired", 1.0)]


class NeverLoses:
    """One trade that can only win: a take-profit limit 1% above the entry fill."""

    def __init__(self):
        self.entry = None

    def on_bar(self, ctx):
        if ctx.t == 10:
            return buy(0.01)

    def on_fill(self, execution, ctx):
        if execution.side == "buy":
            return sell(0.01, limit=execution.fill_price * 1.01)


def test_non_finite_metrics_round_trip_in_the_one_json_form():
    # seed 2: the price reaches the take-profit (on seed 1 it never does, and the trade closes at the end)
    res = run_scenario(Scenario("x", bars=500, seed=2), NeverLoses(), "frictionless")
    assert res.total_trades == 1 and res.trades[0].exit_reason == "signal"
    assert res.profit_factor == math.inf
    text = json.dumps(res.to_dict(curves=True, records=True), allow_nan=False)   # strict JSON
    back = ScenarioResult.from_dict(json.loads(text))
    assert back.profit_factor == math.inf and back.metrics() == res.metrics()
    assert encode({"a": math.nan, "b": -math.inf}) == {"a": "nan", "b": "-inf"}
    assert decode(["inf", "x"]) == [math.inf, "x"]


def test_compare_fail_handles_infinite_baselines():
    base = decode_metrics({"profit_factor": "inf"}, "baseline")
    t = Threshold("profit_factor", 10.0, True)
    assert check("t", base, {"profit_factor": math.inf}, t) is None
    reg = check("t", base, {"profit_factor": 2.0}, t)
    assert reg is not None and "lower is worse" in reg.describe()
    assert check("t", {"profit_factor": 2.0}, {"profit_factor": math.inf}, t) is None


def test_compare_fail_flags_metrics_with_no_direction_either_way():
    t = Threshold("emergency_stops", 0.0, False)
    up = check("t", {"emergency_stops": 2}, {"emergency_stops": 3}, t)
    down = check("t", {"emergency_stops": 2}, {"emergency_stops": 1}, t)
    assert up is not None and down is not None
    assert "no worse direction" in down.describe()
    assert check("t", {"emergency_stops": 2}, {"emergency_stops": 2}, t) is None


def test_a_bad_metric_in_a_baseline_names_it():
    with pytest.raises(Exception, match="metric 'max_drawdown' = 'abc'"):
        decode_metrics({"max_drawdown": "abc"}, "baseline.json: test_x")


def test_worst_needs_a_direction():
    from pytest_stress import run_paths

    paths = run_paths(Scenario("x", bars=50), Constant, 3)
    assert paths.worst("max_drawdown").seed == paths.worst_seed
    with pytest.raises(ScenarioError, match="no worse direction"):
        paths.worst("emergency_stops")


def test_a_simple_trader_s_policy_changes_are_recorded_at_their_bar():
    """The policy's change log reads the run's clock (it used to say bar -1 for an on_bar trader)."""

    class Cautious:
        def on_bar(self, ctx):
            if ctx.t == 7:
                ctx.policy.set("position_pct", 0.25)

    res = run_scenario(Scenario("policy", bars=50), Cautious(), "frictionless")
    assert res.policy_changes == [(7, "position_pct", 0.25)]


def test_an_order_with_a_bad_tag_is_refused_when_built():
    with pytest.raises(ScenarioError, match="tag = 5"):
        buy(1.0, tag=5)
