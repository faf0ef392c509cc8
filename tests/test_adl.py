"""Auto-deleveraging: Binance's ranking, the modelled insurance fund, and the trader's profitable
position closed with the probability its rank implies (docs/accounts.md, "Auto-deleveraging")."""
import math
import os
import subprocess
import sys
from functools import partial

import numpy as np
import pytest
from scipy.stats import binom

from pytest_stress import Account, Scenario, buy, library, run_scenario, sell
from pytest_stress.account import account_from
from pytest_stress.account.adl import (CROWD_DEPTH, CROWD_MMR, FILL_LAG, QUEUE_SIZE, adl_events, adl_hit_probability,
                                       average_entry, crowd_scores, fund_path, leverage_pnl, trailing_max)
from pytest_stress.errors import ScenarioError
from pytest_stress.market.data import MarketData, MarketViews
from pytest_stress.trader.roles import EventBus
from traders import Script, hand_made_bars

#: an hourly market from (open, high, low, close) rows; volume and depth 1e9, spread 0
bars = partial(hand_made_bars, liquidity=1e9)

FLAT = (100.0, 100.0, 100.0, 100.0)
#: a day of flat bars, then one bar that falls 40% (and closes at 70), then calm
CRASH = [FLAT] * 30 + [(100.0, 100.0, 60.0, 70.0)] + [(70.0, 70.0, 70.0, 70.0)] * 3
#: the mirror: one bar that rises 40%
SPIKE = [FLAT] * 30 + [(100.0, 140.0, 100.0, 130.0)] + [(130.0, 130.0, 130.0, 130.0)] * 3


def run(rows, order, account, seed=1, trader=None):
    market = bars(rows)
    sc = Scenario("hand", symbols=market.symbols, bars=market.n_bars, timeframe="1h", seed=seed)
    return run_scenario(sc, trader or Script({0: order}), "frictionless", account=account,
                        market=MarketViews(true=market, feed=market, base=market))


# -- the ranking ------------------------------------------------------------------------------------
def test_leverage_pnl_is_binances_formula_on_its_forum_example():
    """dev.binance.vision topic 17801: unrealised profit 40.2, wallet 4.27, margin ratio 13.42%:
    PnlPercent 9.41, LeveragePnl 1.26."""
    wallet, upnl = 4.27, 40.2
    maintenance = 0.1342 * (wallet + upnl)
    assert max(0.0, upnl) / max(1.0, wallet) == pytest.approx(9.41, abs=0.005)
    assert leverage_pnl(upnl, wallet, maintenance) == pytest.approx(1.26, abs=0.005)
    assert leverage_pnl(-5.0, 100.0, 1.0) == 0.0                       # a loss ranks last
    assert leverage_pnl(10.0, 0.5, 1.0) == pytest.approx(10.0 / 1.0 * 1.0 / 10.5)   # wallet floored at 1
    assert leverage_pnl(10.0, -20.0, 1.0) == 0.0                       # no equity: margin ratio 0


@pytest.mark.parametrize("lev", [2.0, 5.0, 20.0])
def test_the_score_is_profit_ratio_times_effective_leverage(lev):
    """For one position the margin ratio is the maintenance rate times the effective leverage
    mark / (mark - bankruptcy price): LeveragePnl = profit ratio * effective leverage * rate."""
    entry, mark, qty = 100.0, 80.0, -10.0           # a short in profit
    wallet = abs(qty) * entry / lev
    upnl = qty * (mark - entry)
    bankruptcy = entry + wallet / abs(qty)           # where the short's equity is 0
    effective = mark / (bankruptcy - mark)
    rate = 0.004
    expected = upnl / wallet * rate * effective
    assert leverage_pnl(upnl, wallet, rate * abs(qty) * mark) == pytest.approx(expected, rel=1e-12)


def test_crowd_scores_are_the_same_formula_per_unit_of_notional():
    entries = np.array([100.0, 95.0, 90.0])
    scores = crowd_scores(entries, 80.0, -1).reshape(32, 3)
    d = (np.arange(32) + 0.5) / 32 * CROWD_DEPTH
    for i in (0, 10, 31):
        lev = 1.0 / (d[i] + CROWD_MMR)
        for j, e in enumerate(entries):
            qty = -1.0 / e                          # one unit of entry notional, short
            # the crowd has no 1-USDT floor: the same formula with the wallet as it is
            wallet, upnl, mm = 1.0 / lev, qty * (80.0 - e), CROWD_MMR * abs(qty) * 80.0
            expected = upnl / wallet * mm / (wallet + upnl)
            assert scores[i, j] == pytest.approx(expected, rel=1e-12)
    assert (crowd_scores(entries, 120.0, -1) == 0).all()     # shorts in a rise: none in profit


@pytest.mark.parametrize("quantile,share", [(0.0, 0.1), (0.5, 0.3), (0.8125, 0.2158), (0.95, 0.05), (0.3, 1.0)])
def test_hit_probability_is_the_binomial_cdf(quantile, share):
    cut = math.floor(share * (QUEUE_SIZE + 1)) - 1
    expected = binom.cdf(cut, QUEUE_SIZE, 1 - quantile) if cut >= 0 else 0.0
    assert adl_hit_probability(quantile, share) == pytest.approx(expected, abs=1e-12)


# -- the fund ---------------------------------------------------------------------------------------
def test_the_crash_bar_drains_the_fund_as_the_plain_formulas_say():
    """Bar 30 falls 40% below the crowd's entry (100): the band 0.4 liquidates 0.4 / 0.75 of the
    longs, which fill half way to the low; the fund (3%) pays what the bankrupt ones lose, and
    the rest is closed by ADL at their mean bankruptcy price."""
    a = np.array(CRASH).T
    path = fund_path(a[1], a[2], a[0], a[3], 24, 0.03)
    b = 0.4
    liquidated = b / CROWD_DEPTH
    flow = liquidated * (CROWD_MMR - FILL_LAG * b / 2)
    y0 = CROWD_MMR / FILL_LAG
    loss = liquidated * FILL_LAG * (b - y0) ** 2 / (2 * b)
    bankrupt = liquidated * (b - y0) / b
    assert path.fund[29] == 0.03 and path.liquidated[29] == 0
    assert path.liquidated[30] == pytest.approx(liquidated)
    uncovered = -(0.03 + flow)
    assert uncovered > 0 and path.fund[30] == 0.0
    assert path.adl_shorts[30] == pytest.approx(bankrupt * uncovered / loss)
    assert path.price_shorts[30] == pytest.approx(60.0 + ((y0 + b) / 2 - CROWD_MMR) * 100.0)
    assert path.adl_longs.sum() == 0 and np.isnan(path.price_longs).all()
    assert path.adl_shorts[:30].sum() == 0 and path.adl_shorts[31:].sum() == 0


def test_a_slow_fall_feeds_the_fund_and_the_model_is_the_plain_loop():
    """The vectorised model (entries, bands, flows, a Lindley recursion) against a plain loop over the
    bars on a fat-tailed walk; a fall of 0.5% a bar (bands under 2 * CROWD_MMR / FILL_LAG) only ever
    feeds the fund."""
    rng = np.random.default_rng(3)
    n, w = 1500, 24
    close = 100 * np.exp(np.cumsum(rng.standard_t(3, n) * 0.02))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.exponential(0.01, n))
    low = np.minimum(open_, close) * (1 - rng.exponential(0.01, n))
    path = fund_path(high, low, open_, close, w, 0.01)
    entry = [open_[0]] + [float(np.mean(close[max(t - w, 0):t])) for t in range(1, n)]
    down = [min(max((entry[t] - low[t]) / entry[t], 0.0), CROWD_DEPTH) for t in range(n)]
    up = [min(max((high[t] - entry[t]) / entry[t], 0.0), CROWD_DEPTH) for t in range(n)]
    fund = 0.01
    for t in range(n):
        flow = 0.0
        for move in (down, up):
            b = max(move[t] - max(move[max(t - w, 0):t], default=0.0), 0.0)
            flow += b / CROWD_DEPTH * (CROWD_MMR - FILL_LAG * b / 2)
        fund = max(0.0, fund + flow)
        assert path.fund[t] == pytest.approx(fund, abs=1e-12)
    assert (path.adl_longs > 0).any() and (path.adl_shorts > 0).any()
    slide = 100 * 0.995 ** np.arange(200)
    o = np.concatenate(([100.0], slide[:-1]))
    calm = fund_path(o, slide, o, slide, 24, 0.03)
    assert (np.diff(calm.fund) >= 0).all() and calm.fund[-1] > 0.03
    assert calm.adl_longs.sum() == 0 and calm.adl_shorts.sum() == 0


def test_trailing_max_is_the_plain_window_max():
    x = np.random.default_rng(5).normal(size=300)
    for w in (1, 2, 3, 7, 24, 64, 100, 500):
        expected = [x[max(0, t - w + 1):t + 1].max() for t in range(300)]
        assert trailing_max(x, w).tolist() == expected


def test_the_events_are_causal():
    """Cutting the market at bar k changes no event before k (the model reads bars <= t only)."""
    market = library.get("SOL Volatility Explosion", seed=1).build_market().true
    full = adl_events(market, 0.03)
    assert full, "SOL Volatility Explosion (seed 1) drains the fund"
    for k in sorted(full)[:3] + [sorted(full)[-1] + 1]:
        cut = MarketData(market.symbols, market.timestamps[:k], np.ascontiguousarray(market.values[:, :, :k]),
                         market.timeframe)
        part = adl_events(cut, 0.03)
        assert sorted(part) == [t for t in sorted(full) if t < k]
        for t in part:
            assert [(e.side, e.price, e.share, e.entries.tolist()) for e in part[t]] == \
                   [(e.side, e.price, e.share, e.entries.tolist()) for e in full[t]]


# -- the trader's position --------------------------------------------------------------------------
def _expected_hit(lev, side):
    """The probability that the trader's position (10 units at 100, ``lev`` x isolated, no fees)
    is closed at bar 30 of CRASH (a short) or SPIKE (a long), from the plain formulas."""
    a = np.array(CRASH if side < 0 else SPIKE).T
    path = fund_path(a[1], a[2], a[0], a[3], 24, 0.03)
    notional = path.adl_shorts[30] if side < 0 else path.adl_longs[30]
    price = path.price_shorts[30] if side < 0 else path.price_longs[30]
    wallet = 10 * 100.0 / lev
    upnl = side * 10 * (price - 100.0)
    score = leverage_pnl(upnl, wallet, 0.004 * 10 * price)     # BTCUSDT's first bracket
    # the crowd: entries at 100 (every close of the day before), leverage 1 / (d + mmr), d on the grid
    r = side * (price - 100.0) / 100.0
    crowd = []
    for i in range(32):
        inv = (i + 0.5) / 32 * CROWD_DEPTH + CROWD_MMR
        crowd.append(r / inv * CROWD_MMR * price / 100.0 / (inv + r))
    quantile = sum(c < score for c in crowd) / 32
    return adl_hit_probability(quantile, min(notional, 1.0)), price


@pytest.mark.parametrize("side,lev", [(-1, 6.5), (1, 6.5), (-1, 5.0)])
def test_a_drained_fund_closes_the_profitable_side_with_its_ranks_probability(side, lev):
    """Over seeds, the share of runs whose profitable position is closed by ADL is the probability
    its rank implies (within four binomial standard deviations)."""
    p, price = _expected_hit(lev, side)
    assert 0.1 < p < 0.95, p
    order = sell(10.0) if side < 0 else buy(10.0)
    rows = CRASH if side < 0 else SPIKE
    n = 150
    hits = 0
    for seed in range(n):
        r = run(rows, order, Account.perpetual(leverage=lev, funding=None), seed=seed)
        hits += r.adl_events
        if r.adl_events:
            adl = [e for e in r.executions if e.status == "adl"]
            assert len(adl) == 1 and adl[0].bar == 30 and adl[0].fill_price == pytest.approx(price)
            assert adl[0].fee == 0.0 and adl[0].order_id == -1
            assert r.trades[0].exit_reason == "adl"
            assert r.final_equity == pytest.approx(r.initial_equity + side * 10 * (price - 100.0))
    assert abs(hits - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1, (hits, n * p)


def test_a_high_leverage_short_is_always_reached_and_a_low_leverage_one_never():
    assert all(run(CRASH, sell(10.0), Account.perpetual(leverage=20), seed=s).adl_events == 1 for s in range(20))
    assert all(run(CRASH, sell(10.0), Account.perpetual(leverage=2), seed=s).adl_events == 0 for s in range(20))


def test_no_adl_for_the_losing_side_without_adl_or_in_calm_markets():
    losing = run(SPIKE, sell(1.0), Account.perpetual(leverage=2))          # a short in a spike
    assert losing.adl_events == 0
    off = [run(CRASH, sell(10.0), Account.perpetual(leverage=20, adl=False), seed=s).adl_events for s in range(5)]
    assert off == [0] * 5
    for name in ("BTC Flash Crash 2021", "Data Corruption Shock", "Model Failure Simulation"):
        market = library.get(name).build_market().true
        assert adl_events(market, 0.03) == {}, name
    sc = library.get("Mixed Regime Chaos", bars=400)
    r = run_scenario(sc, Script({5: sell(0.5)}), "calm", account=Account.perpetual(leverage=20))
    assert r.adl_events == 0


class Listening:
    """Records the bus topics it hears (listening to every topic makes every bar a full bar)."""

    def __init__(self, inner):
        self.inner, self.topics, self.hooked = inner, [], []
        self.bus = EventBus()
        self.bus.subscribe("*", lambda topic, payload: self.topics.append(topic))

    def on_bar(self, ctx):
        return self.inner.on_bar(ctx)

    def on_liquidation(self, execution, ctx):
        self.hooked.append(execution.status)


def test_the_event_is_on_the_bus_and_reaches_the_hook_and_quiet_bars_change_nothing():
    quiet = run(CRASH, sell(10.0), Account.perpetual(leverage=20), seed=3)
    listened = Listening(Script({0: sell(10.0)}))
    full = run(CRASH, sell(10.0), Account.perpetual(leverage=20), seed=3, trader=listened)
    assert "adl" in listened.topics and listened.hooked == ["adl"]
    a, b = quiet.to_dict(curves=True, records=True), full.to_dict(curves=True, records=True)
    a.pop("duration_s"), b.pop("duration_s")
    assert repr(a) == repr(b)


_SCRIPT = """
import hashlib
from pytest_stress import Account, library, run_scenario, sell
class Short:
    def on_bar(self, ctx):
        if ctx.t == 190 and ctx.position() == 0:      # the spike comes at bar 200 of 400
            return sell(8 * ctx.equity / ctx.price)
out = []
for seed in range(1, 5):                              # seed 2 closes the short by ADL
    r = run_scenario(library.get("SOL Volatility Explosion", seed=seed, bars=400), Short(), "calm",
                     account=Account.perpetual(leverage=10, mode="cross"))
    d = r.to_dict(curves=True, records=True)
    d.pop("duration_s")
    out.append((r.adl_events, hashlib.sha256(repr(d).encode()).hexdigest()))
print(out)
"""


def test_runs_with_adl_are_bit_identical_in_another_process():
    here = {}
    exec(compile(_SCRIPT.replace("print(out)", "here['out'] = out"), "script", "exec"), {"here": here})
    env = dict(os.environ, PYTHONHASHSEED="123")
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(here["out"])
    assert any(n for n, _ in here["out"]), "some seed of SOL Volatility Explosion closes the short by ADL"


# -- bad parameters ---------------------------------------------------------------------------------
def test_bad_adl_parameters_are_named():
    with pytest.raises(ScenarioError, match=r"insurance_fund = 0.*\(0, 1\]"):
        Account.perpetual(insurance_fund=0)
    with pytest.raises(ScenarioError, match=r"insurance_fund = 1.5"):
        Account.perpetual(insurance_fund=1.5)
    with pytest.raises(ScenarioError, match=r"adl = 'yes'; expected True or False"):
        Account.perpetual(adl="yes")
    with pytest.raises(ScenarioError, match=r"adl = True applies to perpetual accounts only"):
        Account(kind="margin", adl=True)
    with pytest.raises(ScenarioError, match=r"'adl' applies to perpetual"):
        account_from("margin:adl=1")
    assert account_from("perpetual:adl=0").adl is False
    assert account_from("perpetual:adl=false,insurance_fund=0.05").insurance_fund == 0.05
    assert Account.perpetual().adl is True and Account.margin().adl is False and Account.cash().adl is False
    assert Account(kind="perpetual").adl is True and Account(kind="perpetual", adl=False).adl is False
    assert "ADL below an insurance fund of 3.0% of open interest" in Account.perpetual().describe()
    with pytest.raises(ScenarioError, match="insurance_fund = 2"):
        account_from("perpetual:insurance_fund=2")


class Watches:
    """Buys 10 units at bar 0 and records ``ctx.account.adl_quantile()`` at every bar."""

    def __init__(self):
        self.seen = []

    def on_bar(self, ctx):
        self.seen.append(ctx.account.adl_quantile())
        return buy(10.0) if ctx.t == 0 else None


def test_the_trader_sees_its_place_in_the_queue():
    """A 6.5x long at 100 marked at 130, against a crowd that entered at 100 (the day's closes): it
    outranks the crowd's leverage points below 6.5x, 26 of 32 (the fund here is never drained)."""
    trader = Watches()
    r = run(SPIKE, None, Account.perpetual(leverage=6.5, funding=None, insurance_fund=1.0), trader=trader)
    assert r.adl_events == 0
    assert trader.seen[:30] == [None] * 30            # flat, then not in profit at 100
    assert trader.seen[30] == pytest.approx(26 / 32)
    off = Watches()
    run(SPIKE, None, Account.perpetual(leverage=6.5, adl=False), trader=off)
    assert off.seen[30] is None


def test_the_crowds_entry_holds_on_prices_over_many_orders_of_magnitude():
    """A fuzzed crash with noise x46 on a x20 volatile week spans 7e-7 to 2e11: a difference of
    running totals gave entries of 0 there (a division by zero in the fund). The entry is the plain
    mean of the window's closes, positive on every bar."""
    rng = np.random.default_rng(5)
    close = np.exp(np.cumsum(rng.normal(0.0, 1.5, 3000)))
    assert close.max() / close.min() > 1e15
    entry = average_entry(close, close, 24)
    plain = np.array([close[0]] + [close[max(0, t - 24):t].mean() for t in range(1, len(close))])
    np.testing.assert_allclose(entry, plain, rtol=1e-12)
    assert np.all(entry > 0)
    sc = Scenario("fuzzed flash_crash", "flash_crash",
                  {"drop_pct": 0.5, "duration_bars": 51, "noise_mult": 46.0, "pre_vol_mult": 20.0, "start": 0.0,
                   "recovery_pct": 0.0, "recovery_bars": 59, "relax_bars": 83}, bars=300, seed=97)
    adl_events(sc.build_market().true, 0.03)          # no RuntimeWarning (an error in this suite)
