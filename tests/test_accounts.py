"""Accounts: cash, margin and perpetual rules, with hand-computed numbers."""
import math

import numpy as np
import pytest

from pytest_stress import Account, Scenario, buy, run_scenario, sell
from pytest_stress.account import BINANCE_USDM_TIERS, account_from, isolated_liquidation_price
from pytest_stress.account.ledger import funding_schedule
from pytest_stress.errors import ScenarioError
from pytest_stress.market.data import MarketData, MarketViews
from pytest_stress.trader.roles import EventBus


def bars(rows, symbol="BTCUSDT", timeframe="1h", start=0):
    """A market from (open, high, low, close) rows; volume and depth 1e9, spread 0."""
    a = np.array(rows, dtype=float).T
    n = a.shape[1]
    big = np.full((1, n), 1e9)
    values = np.vstack([a, big, np.zeros((1, n)), big])[:, None, :]
    step = {"1m": 60, "1h": 3600, "1d": 86400}[timeframe] * 1_000_000_000
    return MarketData((symbol,), start + np.arange(n, dtype=np.int64) * step, values, timeframe)


class Script:
    def __init__(self, script):
        self.script = script

    def on_bar(self, ctx):
        return self.script.get(ctx.t)


def run(rows, script, account, trader=None, **kw):
    market = bars(rows, **kw)
    sc = Scenario("hand", symbols=market.symbols, bars=market.n_bars, timeframe=market.timeframe)
    return run_scenario(sc, trader or Script(script), "frictionless", account=account,
                        market=MarketViews(true=market, feed=market, base=market))


FLAT = (100.0, 100.0, 100.0, 100.0)


# -- the venue's formula against the tier table (Binance USDⓈ-M BTCUSDT) ------------------------
@pytest.mark.parametrize("notional,leverage,move", [
    (50_000, 5, -19.7), (1_000_000, 5, -19.6), (50_000, 10, -9.6), (5_000_000, 2, -49.7), (50_000_000, 5, -18.6)])
def test_isolated_liquidation_price_matches_hand_computed_values(notional, leverage, move):
    table = BINANCE_USDM_TIERS["BTCUSDT"]
    qty = notional / 100_000
    liq = isolated_liquidation_price(notional / leverage, qty, 100_000.0, table)
    assert (liq / 100_000 - 1) * 100 == pytest.approx(move, abs=0.05)


def test_tier_amounts_make_maintenance_continuous():
    table = BINANCE_USDM_TIERS["BTCUSDT"]
    assert [t.amount for t in table.tiers[:5]] == pytest.approx([0, 50, 950, 11_450, 131_450])
    for t in table.tiers[1:]:
        assert table.maintenance(t.floor - 1e-6) == pytest.approx(table.maintenance(t.floor), abs=1e-3)


def test_a_short_liquidates_above_entry():
    # 0.4 BTC short at 100,000 (40k notional: first bracket, 0.4%, cum 0) with 10k of margin
    liq = isolated_liquidation_price(10_000.0, -0.4, 100_000.0, BINANCE_USDM_TIERS["BTCUSDT"])
    assert liq == pytest.approx((10_000 + 0 + 0.4 * 100_000) / (0.4 * 0.004 + 0.4))


# -- cash ---------------------------------------------------------------------------------------
def test_cash_account_reduces_a_buy_to_what_the_cash_pays_for_and_refuses_shorts():
    res = run([FLAT] * 6, {1: buy(2000.0), 3: sell(5000.0)}, Account.cash())
    fills = [e for e in res.executions if e.filled_qty > 0]
    assert fills[0].status == "partial" and fills[0].filled_qty == pytest.approx(1000.0, rel=1e-9)
    refused = [e for e in res.executions if e.status == "insufficient_margin"]
    assert len(refused) == 1 and "no short selling" in refused[0].reason
    assert res.margin_rejections == 2 and res.final_equity == pytest.approx(100_000.0)


def test_cash_equity_never_goes_below_zero_in_a_crash():
    rows = [FLAT, FLAT, (100, 100, 1, 1), (1, 1, 1, 1)]
    res = run(rows, {0: buy(10_000.0)}, Account.cash())
    assert res.equity_curve.min() >= 0 and res.max_drawdown <= 100


# -- margin -------------------------------------------------------------------------------------
def test_margin_account_refuses_orders_past_its_leverage():
    res = run([FLAT] * 5, {1: buy(1500.0), 2: buy(2500.0)}, Account.margin(max_leverage=2.0))
    statuses = [e.status for e in res.executions]
    assert statuses == ["filled", "insufficient_margin"]
    assert res.margin_rejections == 1


def test_margin_call_closes_at_the_trigger_price():
    # 2x long (cash -100k) with 25% maintenance: 100k + 2000 p... cash + q p = 0.25 q p
    # q = 2000, cash = -100,000: p* = 100,000 / (2000 * 0.75) = 66.67
    rows = [FLAT, FLAT, (90, 92, 60, 70), (70, 71, 69, 70)]
    res = run(rows, {0: buy(2000.0)}, Account.margin(max_leverage=2.0, maintenance_margin=0.25))
    forced = [e for e in res.executions if e.status == "liquidation"]
    assert len(forced) == 1 and forced[0].bar == 2
    assert forced[0].fill_price == pytest.approx(100_000 / 1500)
    assert res.margin_calls == 1 and res.liquidations == 1
    assert res.trades[-1].exit_reason == "margin_call"
    assert res.final_equity == pytest.approx(0.25 * 2000 * 100_000 / 1500)


@pytest.mark.parametrize("timeframe,bars_per_day", [("1m", 1440), ("1h", 24), ("1d", 1)])
def test_interest_accrues_in_calendar_time(timeframe, bars_per_day):
    days = 3
    n = days * bars_per_day + 2
    res = run([FLAT] * n, {0: buy(1500.0)}, Account.margin(max_leverage=2.0, borrow_rate=0.1),
              timeframe=timeframe)
    # 50,000 borrowed at 10% a year, from bar 2 to the end
    held_days = (n - 2) / bars_per_day
    assert res.borrow_cost == pytest.approx(50_000 * 0.10 * held_days / 365, rel=2e-3)


def test_short_borrow_is_charged_on_the_value_of_borrowed_units():
    n = 24 * 10 + 2
    res = run([FLAT] * n, {0: sell(500.0)}, Account.margin(max_leverage=1.0, short_borrow_rate=0.05))
    assert res.borrow_cost == pytest.approx(50_000 * 0.05 * 10 / 365, rel=2e-3)


# -- perpetual ----------------------------------------------------------------------------------
def test_isolated_perpetual_liquidates_on_the_wick_at_its_price_with_the_fee():
    # 5x long of 500 units at 100 (notional 50k, margin 10k); SOLUSDT-like fallback tiers do not apply: BTCUSDT
    entry = 100.0
    liq = isolated_liquidation_price(10_000.0, 500.0, entry, BINANCE_USDM_TIERS["BTCUSDT"])
    rows = [FLAT, FLAT, (99, 99.5, 79, 98), (98, 98, 98, 98)]       # the wick reaches the liquidation price
    res = run(rows, {0: buy(500.0)}, Account.perpetual(leverage=5, funding=None))
    forced = [e for e in res.executions if e.status == "liquidation"]
    assert len(forced) == 1 and forced[0].bar == 2 and forced[0].fill_price == pytest.approx(liq)
    # the loss stops at the position's margin: the fee takes what is left, the wallet keeps the rest
    assert res.final_equity == pytest.approx(90_000.0, abs=1e-6)
    assert res.liquidation_fees == pytest.approx(10_000 - 500 * (entry - liq))
    assert res.trades[-1].exit_reason == "liquidation"
    assert not res.ruined


def test_a_gap_through_the_liquidation_price_fills_at_the_open_and_the_fund_absorbs_the_rest():
    rows = [FLAT, FLAT, (60, 61, 55, 58), (58, 58, 58, 58)]
    res = run(rows, {0: buy(500.0)}, Account.perpetual(leverage=5, funding=None))
    forced = [e for e in res.executions if e.status == "liquidation"][0]
    assert forced.fill_price == 60.0
    assert res.insurance_fund_loss == pytest.approx(500 * 40 - 10_000)
    assert res.final_equity == pytest.approx(90_000.0)


def test_checking_on_the_close_misses_the_wick():
    rows = [FLAT, FLAT, (99, 99.5, 79, 98), (98, 98, 98, 98)]
    res = run(rows, {0: buy(500.0)}, Account.perpetual(leverage=5, funding=None, check="close"))
    assert res.liquidations == 0


@pytest.mark.parametrize("check,rows,bar", [
    ("extremes", [FLAT, FLAT, (101, 125, 100, 101), (101, 101, 101, 101)], 2),   # the high's wick
    ("close", [FLAT, FLAT, (101, 125, 100, 101), (101, 101, 101, 101)], None),   # the close never gets there
    ("close", [FLAT, FLAT, (101, 125, 100, 101), (110, 130, 110, 125), FLAT], 3),
])
def test_a_short_is_liquidated_when_the_bar_s_high_or_close_reaches_its_price(check, rows, bar):
    res = run(rows, {0: sell(500.0)}, Account.perpetual(leverage=5, funding=None, check=check))
    forced = [e for e in res.executions if e.status == "liquidation"]
    assert [e.bar for e in forced] == ([] if bar is None else [bar])
    assert all(e.side == "buy" for e in forced)


def test_cross_margin_risks_the_whole_account_and_ruins_it():
    rows = [FLAT, FLAT, (90, 90, 75, 76), (76, 76, 76, 76), (76, 76, 76, 76)]
    res = run(rows, {0: buy(5000.0)}, Account.perpetual(leverage=5, mode="cross", funding=None))
    assert res.liquidations == 1 and res.ruined and res.ruin_bar == 2
    assert res.final_equity == pytest.approx(0.0, abs=1e-6) and res.max_drawdown == pytest.approx(100.0)
    assert res.equity_curve.min() >= 0
    assert math.isfinite(res.sharpe_ratio) and math.isfinite(res.calmar_ratio) and res.max_leverage < 10
    refused_after = [e for e in res.executions if e.bar > 2 and e.status == "insufficient_margin"]
    assert refused_after == []      # nothing was sent after ruin in this script


def test_no_order_is_accepted_from_a_ruined_account():
    rows = [FLAT, FLAT, (90, 90, 75, 76)] + [(76, 76, 76, 76)] * 4
    res = run(rows, {0: buy(5000.0), 4: buy(1.0)}, Account.perpetual(leverage=5, mode="cross", funding=None))
    assert res.ruined
    assert [e.status for e in res.executions if e.bar == 5] == ["insufficient_margin"]


def test_orders_above_the_brackets_leverage_are_refused():
    # 100x on a 5M notional: BTCUSDT allows 50x there
    res = run([FLAT] * 4, {0: buy(50_000.0)}, Account.perpetual(leverage=100, funding=None))
    assert [e.status for e in res.executions] == ["insufficient_margin"]
    assert "above the 50x allowed" in res.executions[0].reason


def test_a_week_short_at_constant_funding_receives_21_payments():
    n = 24 * 7 + 1
    start = 8 * 3600 * 1_000_000_000 * 1000 + 3600 * 1_000_000_000       # 01:00 UTC
    res = run([FLAT] * (n + 1), {0: sell(1.0)}, Account.perpetual(leverage=5, funding=0.0001),
              start=start)
    assert res.funding_paid == pytest.approx(-21 * 100 * 0.0001)


def test_funding_schedule_is_in_calendar_time():
    acct = Account.perpetual(funding=0.0001)
    hourly = bars([FLAT] * 48, timeframe="1h")
    daily = bars([FLAT] * 2, timeframe="1d")
    assert len(funding_schedule(acct, hourly)[0]) == 5          # 08:00 ... 16:00 the next day
    assert funding_schedule(acct, daily)[0] == [1]              # one payment due at the next daily bar


def test_account_presets_and_specs():
    assert account_from(None).kind == "margin" and account_from(None).max_leverage == 1
    assert account_from("perpetual:leverage=10,mode=cross") == Account.perpetual(leverage=10, mode="cross")
    with pytest.raises(ScenarioError, match="unknown account preset 'perp'.*'perpetual'"):
        account_from("perp")
    with pytest.raises(ScenarioError, match="maintenance_margin"):
        Account.margin(max_leverage=10, maintenance_margin=0.25)


def test_perpetual_leverage_above_the_tiers_is_refused_at_validation():
    """At 500x every order was refused (the tiers allow 125x at most) and a test passed with no trade."""
    assert account_from("perpetual:leverage=125").max_leverage == 125
    with pytest.raises(ScenarioError, match=r"leverage = 500; expected at most 125 \(the tier tables' highest: "
                                            r"BTCUSDT 125x, ETHUSDT 125x, SOLUSDT 100x\)"):
        account_from("perpetual:leverage=500")
    own = {"BTCUSDT": BINANCE_USDM_TIERS["SOLUSDT"]}          # the user's tables: their own maximum
    assert Account.perpetual(leverage=100, tiers=own).max_leverage == 100
    with pytest.raises(ScenarioError, match="expected at most 100"):
        Account.perpetual(leverage=101, tiers=own)
    assert Account.margin(max_leverage=500, maintenance_margin=0.001).max_leverage == 500   # not a perpetual


# -- the account's books balance, whatever the trader does ---------------------------------------
from hypothesis import HealthCheck, given, settings          # noqa: E402
from hypothesis import strategies as st                      # noqa: E402

from pytest_stress import library                            # noqa: E402

ACCOUNTS = [Account.cash(), Account.margin(max_leverage=1.0), Account.margin(max_leverage=3.0, maintenance_margin=0.1),
            Account.perpetual(leverage=5, funding=None), Account.perpetual(leverage=20, funding=None),
            Account.perpetual(leverage=10, mode="cross", funding=None)]


class RandomOrders:
    """Random market, limit and stop orders up to ``max_x`` times equity, from its own seed."""

    def __init__(self, seed: int, max_x: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.max_x = max_x

    def on_bar(self, ctx):
        if self.rng.random() > 0.15 or not (ctx.price > 0 and math.isfinite(ctx.price)):
            return None
        qty = float(self.rng.uniform(0.01, self.max_x)) * max(ctx.account.equity, 1.0) / ctx.price
        side = buy if self.rng.random() < 0.55 else sell
        kind = self.rng.integers(3)
        if kind == 1:
            return side(qty, limit=ctx.price * (0.99 if side is buy else 1.01))
        if kind == 2:
            return side(qty, stop=ctx.price * (1.01 if side is buy else 0.99))
        return side(qty)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["BTC Flash Crash 2021", "Black Swan Combo", "Pump & Dump Mania", "SOL Volatility Explosion"]),
       account=st.sampled_from(ACCOUNTS), exchange=st.sampled_from(["frictionless", "calm", "stressed"]),
       seed=st.integers(0, 2**32 - 1), max_x=st.floats(0.1, 30.0))
def test_money_is_conserved_and_equity_never_negative(name, account, exchange, seed, max_x):
    sc = library.get(name, bars=300, seed=seed % 1000)
    res = run_scenario(sc, RandomOrders(seed, max_x), exchange, account=account)
    close = res.mark_prices            # the true close moved by the trader's own impact
    assert close.shape == sc.build_market().true.close.shape
    n = close.shape[1]
    # every bar: cash after the fills of that bar plus positions at the close
    cash = np.full(n, sc.initial_equity)
    qty = np.zeros((close.shape[0], n))
    sym = {s: i for i, s in enumerate(sc.symbols)}
    for e in res.executions:
        if e.filled_qty > 0:
            sign = 1 if e.side == "buy" else -1
            cash[e.bar:] -= sign * e.filled_qty * e.fill_price + e.fee
            qty[sym[e.symbol], e.bar:] += sign * e.filled_qty
        elif e.fee:
            cash[e.bar:] -= e.fee
    equity = cash + (qty * close).sum(axis=0)
    # the insurance fund only ever adds, and only on bars with a forced close
    gap = res.equity_curve - equity
    forced = sorted({e.bar for e in res.executions if e.status == "liquidation"})
    assert np.all(gap >= -1e-6 * sc.initial_equity)
    if not forced:
        assert np.allclose(res.equity_curve, equity, rtol=1e-9, atol=1e-6 * sc.initial_equity)
    assert res.insurance_fund_loss == pytest.approx(gap[-1], abs=1e-6 * sc.initial_equity)
    assert res.equity_curve.min() >= -1e-9 * sc.initial_equity
    assert 0 <= res.max_drawdown <= 100 and math.isfinite(res.max_leverage) and math.isfinite(res.sharpe_ratio)
    if res.ruined:
        late = [e for e in res.executions if e.bar > res.ruin_bar and e.filled_qty > 0 and e.status != "liquidation"]
        assert late == []
    if account.kind == "cash":
        assert qty.min() >= -1e-9 and res.liquidations == 0


class WatchesItsAccount:
    """5x long on an isolated perpetual; records what ctx.account says and the liquidation hook."""

    def __init__(self):
        self.seen = []
        self.liquidated = []

    def on_bar(self, ctx):
        if ctx.t == 0:
            return buy(500.0)
        self.seen.append((ctx.t, ctx.account.liquidation_price(), ctx.account.margin_ratio, ctx.account.equity))

    def on_liquidation(self, execution, ctx):
        self.liquidated.append((ctx.t, execution.status, ctx.position()))


def test_the_trader_sees_its_account_and_is_told_of_its_liquidation():
    rows = [FLAT, FLAT, (99, 99.5, 79, 98), (98, 98, 98, 98)]
    tr = WatchesItsAccount()
    events = []
    tr.bus = EventBus()                       # a simple trader's own bus is the run's bus
    tr.bus.subscribe("liquidation", lambda topic, payload: events.append(payload.bar))
    run(rows, {}, Account.perpetual(leverage=5, funding=None), trader=tr)
    liq = isolated_liquidation_price(10_000.0, 500.0, 100.0, BINANCE_USDM_TIERS["BTCUSDT"])
    t1, price1, ratio1, equity1 = tr.seen[0]
    assert t1 == 1 and price1 == pytest.approx(liq) and equity1 == pytest.approx(100_000.0)
    assert ratio1 == pytest.approx(50_000 * 0.004 / 100_000)
    assert tr.liquidated == [(2, "liquidation", 0.0)] and events == [2]
    assert tr.seen[-1][1] is None             # flat after the liquidation: no liquidation price


class Listening:
    """Wraps a trader and listens to every bus topic: every bar is then a full bar of the loop."""

    def __init__(self, inner):
        self.inner = inner
        self.topics = []
        self.bus = EventBus()
        self.bus.subscribe("*", lambda topic, payload: self.topics.append(topic))

    def on_bar(self, ctx):
        return self.inner.on_bar(ctx)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["BTC Flash Crash 2021", "Black Swan Combo", "Model Failure Simulation",
                             "Correlation Breakdown", "SOL Volatility Explosion"]),
       account=st.sampled_from(ACCOUNTS + [Account.perpetual(leverage=5), Account.margin(max_leverage=3,
                                                                                         borrow_rate=0.1)]),
       exchange=st.sampled_from(["frictionless", "calm", "stressed"]),
       seed=st.integers(0, 2**32 - 1), max_x=st.floats(0.1, 30.0))
def test_quiet_bars_give_the_same_run_as_full_bars(name, account, exchange, seed, max_x):
    """The loop runs quiet bars (nothing working, nothing due, one position's liquidation check)
    in a loop of their own: a run where every bar is a full bar (someone listens on the bus)
    is the same run, to the bit, with funding, interest, liquidations and model faults."""
    sc = library.get(name, bars=400, seed=seed % 1000)
    quiet = run_scenario(sc, RandomOrders(seed, max_x), exchange, account=account).to_dict(curves=True, records=True)
    listened = Listening(RandomOrders(seed, max_x))
    full = run_scenario(sc, listened, exchange, account=account).to_dict(curves=True, records=True)
    assert listened.topics.count("bar") == sc.bars
    quiet.pop("duration_s"), full.pop("duration_s")
    assert repr(quiet) == repr(full)


class SubscribesLate:
    """Quiet until bar 50, where it starts listening to bar events."""

    def __init__(self):
        self.bars = []
        self.bus = EventBus()

    def on_bar(self, ctx):
        if ctx.t == 50:
            self.bus.subscribe("bar", lambda topic, c: self.bars.append(c.t))


def test_a_listener_that_subscribes_mid_run_hears_every_later_bar():
    tr = SubscribesLate()
    run_scenario(Scenario("x", bars=100), tr, "frictionless")
    assert tr.bars == list(range(51, 100))


@pytest.mark.parametrize("exchange", ["calm", "stressed"])
def test_an_order_the_account_refuses_never_reaches_the_book(exchange):
    """The venue hands each fill to the account before it consumes the book: a refused order
    (here 20x a 1x account's equity, in the same bar as a small one) moves no price. The small
    order's own impact, every later fill's, and the impact-moved marks are those of a run
    without it (fill prices differ only by the latency draws the refused order used up).
    The seed is one where the stressed venue's per-order draws reject no order in either run:
    the refused order uses up draws, so on other seeds (20210519) the small bar-50 order is
    partly filled in one run and not the other."""
    sc = library.get("BTC Flash Crash 2021", bars=400, seed=1)
    price = sc.build_market().true.close[0, 0]
    small, huge = buy(0.2 * sc.initial_equity / price), buy(20 * sc.initial_equity / price)
    later = {120: sell(0.1 * sc.initial_equity / price), 200: buy(0.3 * sc.initial_equity / price)}
    alone = run_scenario(sc, Script({50: small, **later}), exchange)
    both = run_scenario(sc, Script({50: [huge, small], **later}), exchange)
    refused = [e for e in both.executions if e.status == "insufficient_margin"]
    assert len(refused) == 1 and both.margin_rejections == 1 and refused[0].bar == 51
    impacts = lambda res: [(e.bar, e.filled_qty, e.impact_bps) for e in res.executions if e.filled_qty > 0]
    assert impacts(both) == impacts(alone) and len(impacts(alone)) == 3
    assert all(i != 0 for _, _, i in impacts(alone))
    np.testing.assert_array_equal(both.mark_prices, alone.mark_prices)


def test_funding_that_pushes_the_liquidation_price_into_the_bar_liquidates_on_that_bar():
    """Funding paid on an otherwise quiet bar moves an isolated position's liquidation price;
    when the new price is inside that very bar, the position is liquidated there, the same
    as on a run where every bar is a full bar."""
    rows = [FLAT] + [(100.0, 100.0, 99.0, 100.0)] * 60
    account = Account.perpetual(leverage=50, funding=0.005)
    quiet = run(rows, {0: buy(10.0)}, account)
    full = run(rows, None, account, trader=Listening(Script({0: buy(10.0)})))
    assert quiet.liquidations == 1
    bar = next(e.bar for e in quiet.executions if e.status == "liquidation")
    schedule, _ = funding_schedule(account, bars(rows))
    assert bar in schedule and bar > schedule[0]          # on a funding bar, after earlier payments
    q, f = quiet.to_dict(curves=True, records=True), full.to_dict(curves=True, records=True)
    q.pop("duration_s"), f.pop("duration_s")
    assert repr(q) == repr(f)
