"""What the trader can and cannot do through BarContext and its return values."""
import numpy as np
import pytest

from pytest_stress import Scenario, buy, run_scenario, sell
from pytest_stress.errors import ScenarioError


class MovesTheClock:
    def on_bar(self, ctx):
        ctx.t = ctx.t + 1


def test_the_clock_is_read_only():
    with pytest.raises(AttributeError):
        run_scenario(Scenario("x", bars=5), MovesTheClock())


class ReadsTimestamps:
    def __init__(self):
        self.seen = []

    def on_bar(self, ctx):
        self.seen.append(len(ctx.timestamps))


def test_timestamps_work_on_first_use():
    tr = ReadsTimestamps()
    run_scenario(Scenario("x", bars=5), tr)
    assert tr.seen == [1, 2, 3, 4, 5]


class StopOnFill:
    """Places a protective stop when the entry fills (returned from on_fill)."""

    def on_bar(self, ctx):
        if ctx.t == 2:
            return buy(1.0)

    def on_fill(self, execution, ctx):
        if execution.side == "buy":
            return sell(1.0, stop=execution.fill_price * 0.5)


def test_orders_returned_from_on_fill_are_submitted():
    res = run_scenario(Scenario("x", bars=20), StopOnFill(), "frictionless")
    assert res.orders_submitted == 2
    assert [e.order_type for e in res.executions] == ["market", "stop"]   # the stop expired at the end


@pytest.mark.parametrize("out,message", [
    ("BUY 1 BTC", "returned 'BUY 1 BTC' (str)"),
    ({"BTCUSDT": 1.0}, "returned {'BTCUSDT': 1.0} (dict)"),
    (1.0, "returned 1.0 (float)"),
    ([buy(0.1), None], "item 1 is None"),
])
def test_bad_trader_output_is_named(out, message):
    class Bad:
        def on_bar(self, ctx):
            return out if ctx.t == 4 else None

    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        run_scenario(Scenario("x", bars=10), Bad())
    assert "at bar 4" in "\n".join(info.value.__notes__)


def test_numpy_scalars_are_quantities():
    assert buy(np.int64(2)).quantity == 2.0 and sell(np.float32(0.5)).quantity == 0.5


class AsksForNonsense:
    def __init__(self, call):
        self.call = call

    def on_bar(self, ctx):
        self.call(ctx)


@pytest.mark.parametrize("call,message", [
    (lambda ctx: ctx.position("NOPE"), "unknown symbol 'NOPE'.*'BTCUSDT'"),
    (lambda ctx: ctx.history("vwap"), "unknown field 'vwap'.*'close'"),
    (lambda ctx: ctx.cancel("x"), r"cancel\('x'\): expected an Order"),
])
def test_bad_context_calls_name_what_is_valid(call, message):
    with pytest.raises(ScenarioError, match=message):
        run_scenario(Scenario("x", bars=5), AsksForNonsense(call))


# -- the eight roles: bad signals and targets are named, never swallowed ------------------------
from pytest_stress import compose                     # noqa: E402


class Says:
    def __init__(self, signals):
        self.signals = signals

    def generate(self, ctx):
        return self.signals


class BalancesToNothing:
    def balance(self, targets, ctx):
        return None


@pytest.mark.parametrize("signals,message", [
    ({"BTCUSDT": "long"}, "'BTCUSDT' = 'long'; expected a finite number"),
    ({"DOGEUSDT": 1.0}, "unknown symbol 'DOGEUSDT'"),
    ({"BTCUSDT": float("nan")}, "'BTCUSDT' = nan; expected a finite number"),
])
def test_bad_signals_blame_the_model(signals, message):
    with pytest.raises(ScenarioError, match=message) as info:
        run_scenario(Scenario("x", bars=20), compose(Says(signals)))
    assert "raised by the signal model (Says)" in "\n".join(info.value.__notes__)


def test_a_balancer_returning_none_is_named():
    with pytest.raises(ScenarioError, match="targets \\(units\\): got None") as info:
        run_scenario(Scenario("x", bars=20), compose(Says({"BTCUSDT": 1.0}), balancer=BalancesToNothing()))
    assert "portfolio balancer (BalancesToNothing)" in "\n".join(info.value.__notes__)
