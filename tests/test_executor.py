import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_stress import Scenario, buy, compose, library, run_scenario, sell
from pytest_stress.errors import LookAheadError, ScenarioError
from pytest_stress.runner import run_scenario
from pytest_stress.trader import FLATTEN, HALT, FixedSizer, Reject
from pytest_stress.trader.orders import Order
from traders import Flat, Scripted, SmaCross, exact_sma, hand_loop

SEED_SC = Scenario("sma", "synthetic", bars=5000, seed=3)


def test_frictionless_sma_matches_the_hand_written_loop_exactly():
    views = SEED_SC.build_market()
    res = run_scenario(SEED_SC, SmaCross(), "frictionless", market=views)
    m = views.true
    trades, final = hand_loop(m.open[0], m.close[0], exact_sma(m.close[0], 10), exact_sma(m.close[0], 30),
                              SEED_SC.initial_equity)
    ours = [(tr.entry_bar, tr.exit_bar, tr.entry_price, tr.exit_price) for tr in res.trades
            if tr.exit_reason != "end_of_run"]
    assert len(trades) > 50
    assert ours == trades
    assert res.final_equity == final
    assert res.total_fees == 0 and res.avg_slippage_bps == 0


def test_market_order_fills_no_earlier_than_next_open():
    views = SEED_SC.build_market()
    tr = Scripted({10: buy(2), 20: sell(2)})
    res = run_scenario(SEED_SC, tr, "frictionless", market=views)
    assert [(e.bar, e.fill_price) for e in res.executions] == [(11, views.true.open[0, 11]),
                                                              (21, views.true.open[0, 21])]
    assert res.trades[0].pnl == pytest.approx(2 * (views.true.open[0, 21] - views.true.open[0, 11]))


def test_an_order_on_the_last_bar_expires():
    sc = Scenario("x", bars=20)
    res = run_scenario(sc, Scripted({19: buy(1)}), "frictionless")
    assert [e.status for e in res.executions] == ["expired"]


class Peeker:
    """Tries every public way to see the future."""

    def __init__(self):
        self.seen = []

    def on_bar(self, ctx):
        t = ctx.t
        c = ctx.close
        assert len(c) == t + 1 and ctx.timestamps.shape == (t + 1,)
        assert np.all(np.isnan(c.base[..., t + 1:]))            # the buffer behind the view holds no future
        assert np.all(ctx.timestamps.base[t + 1:] == 0)
        with pytest.raises(IndexError):
            c[t + 1]
        with pytest.raises(ValueError):
            c[-1] = 0.0                                           # read-only
        assert ctx.history("high").shape == (t + 1,)
        self.seen.append(float(c[-1]))


def test_the_trader_cannot_look_ahead():
    sc = Scenario("x", bars=60)
    views = sc.build_market()
    tr = Peeker()
    run_scenario(sc, tr, market=views)
    assert tr.seen == views.feed.close[0].tolist()


class Asker:
    """Asks for history on some bars only (every bar, then gaps), field by field, symbol by symbol."""

    def __init__(self, feed):
        self.feed, self.checked = feed, 0

    def on_bar(self, ctx):
        t = ctx.t
        if t % 7 in (3, 4) or 20 <= t < 30:
            return None
        for f, field in enumerate(("open", "high", "low", "close", "volume", "spread", "depth")):
            if (t + f) % 3 == 0:
                continue
            for s, symbol in enumerate(ctx.symbols):
                h = ctx.history(field, symbol)
                np.testing.assert_array_equal(h, self.feed.values[f, s, :t + 1])
                assert np.all(np.isnan(h.base[..., t + 1:]))
                self.checked += 1
        np.testing.assert_array_equal(ctx.close, self.feed.values[3, 0, :t + 1])


@pytest.mark.parametrize("symbols", [("BTCUSDT",), ("BTCUSDT", "ETHUSDT")])
def test_history_reveals_each_field_and_symbol_whenever_asked(symbols):
    """One bar at a time (the one-symbol fast path) or a stretch after bars not asked for."""
    sc = Scenario("x", "data_corruption", {"corruption_pct": 0.1, "start": 0.2}, symbols=symbols, bars=90)
    views = sc.build_market()
    tr = Asker(views.feed)
    run_scenario(sc, tr, market=views)
    assert tr.checked > 200 * len(symbols)


class CenteredMA:
    def indicators(self, feed):
        c = feed.close[0]
        return {"centered": np.convolve(c, np.ones(5) / 5, mode="same")}  # uses 2 future bars

    def on_bar(self, ctx):
        return None


def test_a_looking_ahead_indicator_is_refused():
    with pytest.raises(LookAheadError, match="'centered' of CenteredMA looks ahead: its value at bar"):
        run_scenario(Scenario("x", bars=100), CenteredMA())


def test_indicator_history_is_revealed_up_to_now_only():
    class T(SmaCross):
        def on_bar(self, ctx):
            h = ctx.indicator("fast")
            assert h.shape == (ctx.t + 1,) and np.all(np.isnan(h.base[ctx.t + 1:]))
    run_scenario(Scenario("x", bars=80), T())


class Boom:
    def on_bar(self, ctx):
        if ctx.t == 42:
            raise ZeroDivisionError("user bug")


def test_user_exception_carries_scenario_bar_and_timestamp():
    with pytest.raises(ZeroDivisionError, match="user bug") as info:
        run_scenario(library.get("BTC Flash Crash 2021", bars=100), Boom())
    note = "\n".join(info.value.__notes__)
    assert "scenario 'BTC Flash Crash 2021' at bar 42 (2024-01-02T18:00:00Z)" in note
    assert any("Boom" in str(f.name) or "on_bar" in f.name for f in __import__("traceback").extract_tb(info.tb))


def test_record_errors_counts_and_goes_on():
    res = run_scenario(Scenario("x", bars=100), Boom(), record_errors=True)
    assert res.component_errors == 1 and res.bars_processed == 100
    assert res.component_error_details == ["bar 42 (2024-01-02T18:00:00Z), trader: ZeroDivisionError: user bug"]


def test_bad_orders_are_clear_errors():
    with pytest.raises(ScenarioError, match="quantity = -1"):
        buy(-1)
    with pytest.raises(ScenarioError, match="unknown symbol 'DOGE'"):
        run_scenario(Scenario("x", bars=20), Scripted({3: buy(1, "DOGE")}))
    with pytest.raises(ScenarioError, match="expected only Order objects"):
        run_scenario(Scenario("x", bars=20), Scripted({3: ["buy 1"]}))
    with pytest.raises(ScenarioError, match="not a trading system"):
        run_scenario(Scenario("x", bars=20), object())


class RandomTrader:
    """Trades pseudo-randomly, long and short, market/limit/stop (deterministic per seed)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def on_bar(self, ctx):
        u = self.rng.random()
        if u < 0.15:
            q = float(self.rng.integers(1, 4))
            side = buy if self.rng.random() < 0.5 else sell
            kind = self.rng.random()
            if kind < 0.6:
                return side(q)
            p = ctx.price
            if not np.isfinite(p) or p <= 0:
                return None
            if kind < 0.8:
                return side(q, limit=p * (0.99 if side is buy else 1.01))
            return side(q, stop=p * (1.01 if side is buy else 0.99))
        if u > 0.97:
            ctx.cancel_all()
        return None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(library.names()), seed=st.integers(0, 10_000), exch=st.sampled_from(
    ["frictionless", "calm", "stressed"]))
def test_conservation_every_bar(name, seed, exch):
    sc = library.get(name, bars=400, seed=seed)
    res = run_scenario(sc, RandomTrader(seed), exch)
    m = sc.build_market().true
    # replay the fills: cash and positions after each bar's fills, marked at the true close
    assert np.array_equal(res.mark_prices, m.close)
    cash, qty = sc.initial_equity, np.zeros(m.n_symbols)
    fills = {}
    for e in res.executions:
        if e.filled_qty > 0:
            fills.setdefault(e.bar, []).append(e)
    for t in range(m.n_bars):
        for e in fills.get(t, []):
            sign = 1 if e.side == "buy" else -1
            cash -= sign * e.filled_qty * e.fill_price + e.fee
            qty[m.symbols.index(e.symbol)] += sign * e.filled_qty
        assert res.equity_curve[t] == pytest.approx(cash + float(qty @ res.mark_prices[:, t]), abs=0.01)
    realized = sum(tr.pnl + tr.fees for tr in res.trades if tr.exit_reason != "end_of_run")
    assert res.final_equity == pytest.approx(sc.initial_equity + realized - res.total_fees + _unrealized(res, m),
                                             abs=0.01)


def _unrealized(res, m):
    """Open positions at the end, valued against their average entry price (replayed)."""
    from pytest_stress.account.portfolio import Portfolio

    pf = Portfolio(m.symbols, 0.0)
    for e in res.executions:
        if e.filled_qty > 0:
            pf.fill(m.symbols.index(e.symbol), 1 if e.side == "buy" else -1, e.filled_qty, e.fill_price, e.fee, e.bar)
    return sum(q * (c - a) for q, c, a in zip(pf.qty, res.mark_prices[:, -1].tolist(), pf.avg) if q)


def test_results_are_bit_identical_across_processes():
    sc = library.get("Black Swan Combo")
    here = run_scenario(sc, RandomTrader(5)).to_dict()
    code = textwrap.dedent("""
        import json, sys
        sys.path.insert(0, "tests")
        from test_executor import RandomTrader
        from pytest_stress import library
        from pytest_stress.runner import run_scenario
        print(json.dumps(run_scenario(library.get("Black Swan Combo"), RandomTrader(5)).to_dict()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    there = json.loads(out.stdout)
    here.pop("duration_s"), there.pop("duration_s")
    assert here == there


# -- model failures, data corruption, execution crisis --------------------------------
class Watcher(SmaCross):
    def __init__(self):
        super().__init__()
        self.failures = []

    def on_model_failure(self, ctx, kind):
        self.failures.append((ctx.t, kind))


def test_model_failure_outages_are_observable_and_counted():
    sc = Scenario("m", "model_failure", {"failure_rate": 0.3, "mode": "outage"}, bars=2000)
    tr = Watcher()
    res = run_scenario(sc, tr)
    assert res.model_failures == len(tr.failures)
    assert 0.26 < res.model_failures / 2000 < 0.34
    assert {k for _, k in tr.failures} == {"outage"}


def test_model_garbage_reaches_the_exchange_flipped():
    sc = Scenario("m", "model_failure", {"failure_rate": 1.0, "mode": "garbage"}, bars=50)
    res = run_scenario(sc, Scripted({5: buy(1)}), "frictionless")
    e = res.executions[0]
    assert e.side == "sell" and 0.5 <= e.requested_qty < 3.0


def test_data_corruption_feeds_the_trader_bad_bars_but_fills_stay_true():
    sc = Scenario("d", "data_corruption", {"corruption_pct": 0.2}, bars=500)
    views = sc.build_market()
    res = run_scenario(sc, Scripted({b: buy(0.02) for b in range(1, 499, 7)}), "frictionless", market=views)
    assert res.data_issues == int(views.corrupted.sum()) == 100
    for e in res.executions:
        assert e.fill_price == views.true.open[0, e.bar]


def test_execution_crisis_fails_orders_at_about_its_rate():
    sc = Scenario("e", "execution_crisis", {"failure_rate": 0.4, "latency_mult": 10}, bars=3000)
    res = run_scenario(sc, Scripted({b: (buy if b % 2 else sell)(0.01) for b in range(1, 2999)}))
    rate = res.execution_failures / res.orders_submitted
    assert 0.36 < rate < 0.50
    calm = run_scenario(Scenario("c", bars=3000), Scripted({b: (buy if b % 2 else sell)(0.01) for b in range(1, 2999)}))
    assert calm.execution_failures / calm.orders_submitted < 0.01
    assert res.avg_latency_ms > 8 * calm.avg_latency_ms


# -- the eight roles ------------------------------------------------------------------
class CrossModel:
    def __init__(self):
        self.long = False

    def indicators(self, feed):
        c = feed.close[0]
        return {"fast": exact_sma(c, 10), "slow": exact_sma(c, 30)}

    def generate(self, ctx):
        up = ctx.value("fast") > ctx.value("slow")
        if up != self.long:
            self.long = up
            return {ctx.symbol: 1.0 if up else 0.0}
        return None


def test_eight_role_form_trades_like_the_simple_form():
    views = SEED_SC.build_market()
    simple = run_scenario(SEED_SC, SmaCross(), "frictionless", market=views)
    system = compose(CrossModel(), sizer=FixedSizer(1.0))
    full = run_scenario(SEED_SC, system, "frictionless", market=views)
    assert [(t.entry_bar, t.exit_bar) for t in full.trades] == [(t.entry_bar, t.exit_bar) for t in simple.trades]
    assert full.final_equity == simple.final_equity


class CapGuard:
    def __init__(self, cap):
        self.cap = cap

    def review(self, order, ctx):
        room = self.cap - abs(ctx.position(order.symbol))
        if order.side == "sell" and ctx.position(order.symbol) > 0:
            return order
        if room <= 0:
            return Reject("position cap reached")
        if order.quantity > room:
            return buy(room, order.symbol) if order.side == "buy" else sell(room, order.symbol)
        return order


class Always:
    def __init__(self, signal):
        self.signal = signal

    def generate(self, ctx):
        return {ctx.symbol: self.signal}


def test_risk_guard_resizes_and_rejects():
    system = compose(Always(1.0), risk_guard=CapGuard(0.5), sizer=FixedSizer(2.0), policy={"rebalance_threshold": 0})
    res = run_scenario(Scenario("x", bars=30), system, "frictionless")
    assert res.executions[0].requested_qty == 0.5
    assert res.risk_rejections > 20
    assert res.risk_rejection_details[0].endswith(": position cap reached")


class DrawdownGovernor:
    def __init__(self, limit_pct):
        self.limit, self.peak = limit_pct, None

    def check(self, ctx):
        self.peak = max(self.peak or ctx.equity, ctx.equity)
        return FLATTEN if ctx.equity < self.peak * (1 - self.limit / 100) else None


def test_safety_governor_flattens_and_halts_once_per_episode():
    sc = library.get("BTC Flash Crash 2021")
    system = compose(Always(1.0), governor=DrawdownGovernor(5))
    events = []
    system.bus.subscribe("emergency_stop", lambda topic, p: events.append(p))
    res = run_scenario(sc, system, "frictionless")
    assert res.emergency_stops >= 1 and len(events) == res.emergency_stops
    first = events[0]["bar"]
    assert all(e.side == "sell" for e in res.executions if e.bar == first + 1)


class DeRisk:
    def update(self, ctx, policy):
        policy.set("position_pct", 0.2 if ctx.t > 50 else 1.0)


def test_policy_controller_changes_what_the_sizer_reads():
    system = compose(Always(1.0), policy_controller=DeRisk())
    res = run_scenario(Scenario("x", bars=100), system, "frictionless")
    assert res.policy_changes[0][0] == 51
    assert system.policy.changes == []      # the run changed its own copy, not the system
    assert any(e.side == "sell" for e in res.executions)


def test_event_bus_sees_bars_orders_and_fills():
    system = compose(Always(1.0))
    seen = {}
    system.bus.subscribe("*", lambda topic, p: seen.__setitem__(topic, seen.get(topic, 0) + 1))
    run_scenario(Scenario("x", bars=40), system, "frictionless")
    assert seen["bar"] == 40 and seen["order"] >= 1 and seen["fill"] >= 1


def test_component_error_names_the_role():
    class BadGuard:
        def review(self, order, ctx):
            raise KeyError("limits")
    with pytest.raises(KeyError) as info:
        run_scenario(Scenario("x", bars=40), compose(Always(1.0), risk_guard=BadGuard()))
    notes = "\n".join(info.value.__notes__)
    assert "raised by the risk guard (BadGuard)" in notes and "at bar 0" in notes


class _Answers:
    """A risk guard that answers every review with ``answer(order)``."""

    def __init__(self, answer):
        self.answer = answer

    def review(self, order, ctx):
        return self.answer(order)


@pytest.mark.parametrize("answer, expected", [
    (lambda o: True, "returned True (bool); expected the order, a smaller order (same symbol and side), "
                     "Reject(reason) or None"),
    (lambda o: "no", "returned 'no' (str); expected the order"),
    (lambda o: Order(o.side, o.quantity * 100, o.symbol), "> the order's"),
    (lambda o: Order("sell" if o.side == "buy" else "buy", o.quantity, o.symbol),
     "a review may only approve or shrink the order"),
], ids=["True", "a string", "100x larger", "the other side"])
def test_a_risk_guard_answer_outside_its_contract_is_an_error_naming_it(answer, expected):
    """Issue 28, item 8: True or any value not an Order/Reject counted as a rejection in silence, and
    an order 100x larger than the one reviewed was sent."""
    with pytest.raises(ScenarioError) as info:
        run_scenario(Scenario("x", bars=40), compose(Always(1.0), risk_guard=_Answers(answer)))
    message = str(info.value)
    assert message.startswith("risk guard (_Answers) at bar 0, reviewing Order(") and expected in message
    assert "at bar 0" in "\n".join(info.value.__notes__)   # the run's note: scenario, bar, timestamp


def test_a_risk_guard_may_approve_shrink_or_reject():
    for answer in (lambda o: o, lambda o: Order(o.side, o.quantity / 2, o.symbol), lambda o: None,
                   lambda o: Reject("no"), lambda o: Order(o.side, o.quantity * (1 + 1e-12), o.symbol)):
        run_scenario(Scenario("x", bars=40), compose(Always(1.0), risk_guard=_Answers(answer)))
