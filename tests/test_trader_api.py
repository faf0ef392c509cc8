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


# -- the eight roles on quiet bars -------------------------------------------------------------

class _RandomModel:
    """Signals on about one bar in ten, from its own seed; None on the others (quiet bars)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def generate(self, ctx):
        return {ctx.symbol: float(self.rng.uniform(-1.0, 1.0))} if self.rng.random() < 0.1 else None


class _Governor:
    """Flattens below 97% of the peak, halts for 20 bars, then re-arms; a random HALT now and then."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed + 1)
        self.peak, self.since = 0.0, None

    def check(self, ctx):
        eq = ctx.equity
        self.peak = max(self.peak, eq)
        if self.since is not None and ctx.t - self.since < 20:
            return "halt"
        self.since = None
        if eq < 0.97 * self.peak:
            self.since, self.peak = ctx.t, eq
            return "flatten"
        return "halt" if self.rng.random() < 0.02 else None


class _Policy:
    def update(self, ctx, policy):
        if ctx.t % 50 == 0:
            policy.set("position_pct", 0.5 if ctx.t % 100 else 1.0)


def _eight_roles(seed, bus=None):
    from pytest_stress import compose
    return compose(_RandomModel(seed), governor=_Governor(seed), policy_controller=_Policy(), bus=bus)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name,exchange", [("BTC Flash Crash 2021", "stressed"), ("Model Failure Simulation", "calm"),
                                           ("Black Swan Combo", "frictionless")])
def test_eight_roles_on_quiet_bars_give_the_same_run_as_on_full_bars(seed, name, exchange):
    """The loop makes the eight roles' calls before the signals inline on quiet bars; a run in
    which every bar is a full bar (someone listens on the bus: Pipeline.step every bar) is the
    same run to the bit, with the governor's halts and flattens, policy changes and model faults."""
    from pytest_stress import Account, library
    from pytest_stress.trader import EventBus

    sc = library.get(name, bars=600, seed=seed)
    account = Account.perpetual(leverage=3)
    quiet = run_scenario(sc, _eight_roles(seed), exchange, account=account)
    heard = []
    bus = EventBus()
    bus.subscribe("*", lambda topic, payload: heard.append(topic))
    full = run_scenario(sc, _eight_roles(seed, bus), exchange, account=account)
    assert heard.count("bar") == sc.bars
    assert quiet.emergency_stops > 0 and quiet.orders_submitted > 0
    q, f = quiet.to_dict(curves=True, records=True), full.to_dict(curves=True, records=True)
    q.pop("duration_s"), f.pop("duration_s")
    assert repr(q) == repr(f)


class _FailsLater:
    """A role that raises at bar 30, a quiet bar."""

    def __init__(self, where):
        self.where = where

    def generate(self, ctx):
        if self.where == "model" and ctx.t == 30:
            raise ValueError("model broke")
        return None

    def check(self, ctx):
        if self.where == "governor" and ctx.t == 30:
            raise ValueError("governor broke")
        return None

    def update(self, ctx, policy):
        if self.where == "policy" and ctx.t == 30:
            raise ValueError("policy broke")


@pytest.mark.parametrize("where,role", [("model", "signal model"), ("governor", "safety governor"),
                                        ("policy", "policy controller")])
def test_a_role_raising_on_a_quiet_bar_is_named(where, role):
    from pytest_stress import compose

    r = _FailsLater(where)
    with pytest.raises(ValueError, match=f"{where} broke") as info:
        run_scenario(Scenario("x", bars=60), compose(r, governor=r, policy_controller=r), "frictionless")
    notes = "\n".join(info.value.__notes__)
    assert f"raised by the {role} (_FailsLater)" in notes and "at bar 30" in notes
    assert notes.count("raised by the") == 2     # the role's note and the bar's, once each


@pytest.mark.parametrize("name,exchange", [("Execution Crisis", "stressed"), ("Black Swan Combo", "calm")])
def test_a_listener_on_other_topics_keeps_quiet_bars_and_hears_every_event(name, exchange):
    """Only a "bar" (or "*") listener makes every bar a full bar: one on the other topics (fills,
    failures, orders, emergency stops...) gets the same run to the bit, quiet bars and all, and
    hears exactly the events a "*" listener hears on those topics."""
    from pytest_stress import Account, library
    from pytest_stress.trader import EventBus

    sc = library.get(name, bars=600, seed=3)
    account = Account.perpetual(leverage=3)
    runs, heard = [], []
    for topic in (None, "*", "some"):
        bus, events = EventBus(), []
        if topic == "some":
            for t in ("order", "fill", "rejection", "failure", "emergency_stop", "liquidation", "model_failure"):
                bus.subscribe(t, lambda tp, payload: events.append(tp))
        elif topic == "*":
            bus.subscribe("*", lambda tp, payload: events.append(tp))
        assert bus.every_bar is (topic == "*")
        r = run_scenario(sc, _eight_roles(3, bus), exchange, account=account).to_dict(curves=True, records=True)
        r.pop("duration_s")
        runs.append(repr(r))
        heard.append(events)
    assert runs[0] == runs[1] == runs[2]
    everything = [tp for tp in heard[1] if tp != "bar"]
    assert heard[2] == everything and "failure" in everything and "order" in everything
