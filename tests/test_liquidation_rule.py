"""One liquidation rule (issue #27 item 5): a position is liquidated where its equity equals its
maintenance margin with the bracket of the notional at that price, whether it is the only
position (``isolated_liquidation_price``) or one of several in a pool (``Ledger.check``).

Binance's FAQ ("How to Calculate Liquidation Price of USDⓈ-M Futures Contracts",
https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93): "If your position
(calculated at the liquidation price) and the current position (calculated at the opening
price) are of different levels, then you must substitute (i.e. to calculate at the liquidation
price) the maintenance margin rate and the maintenance margin amount of the position level, to
recalculate the liquidation price." Its worked example (wallet 1,535,443.01 USDT; 109.488 BTC
long at 32,481.98, mark 31,967.27; 3,683.979 ETH long at 1,456.84, mark 1,335.18) is the one
freqtrade's ``tests/exchange/test_binance.py::test_liquidation_price_binance`` transcribes
("From calc example"): isolated ETH 1,114.78 and BTC 18,778.73, cross ETH 1,153.26 and BTC
26,316.89."""
import math
from functools import partial

import numpy as np
import pytest

from pytest_stress import Account, Scenario, buy, run_scenario
from pytest_stress.account import BINANCE_USDM_TIERS, isolated_liquidation_price
from pytest_stress.account.ledger import Ledger
from pytest_stress.account.portfolio import Portfolio
from pytest_stress.account.tiers import TierTable, entry_bracket_liquidation_price
from pytest_stress.market.data import MarketData, MarketViews
from traders import Script, hand_made_bars

#: an hourly market from (open, high, low, close) rows; volume and depth 1e12, spread 0
bars = partial(hand_made_bars, liquidity=1e12)

# The FAQ example's brackets (the tables of its date): BTCUSDT 0.4% to 50k, 0.5% to 250k, 1% to
# 1M, 2.5% from 1M; ETHUSDT 0.5% to 10k, 0.65% to 100k, 1% to 500k, 2% to 1M, 5% to 2M, 10% from
# 2M. The derived maintenance amounts are the FAQ's: 1,300 for BTC's 1% bracket ("250,000 *
# (1% - 0.5%) + 50"), 16,300 for BTC's 2.5% and 135,365 for ETH's 10% (the example's cum).
# Brackets above them are left out: every price of the example is inside these. Max leverage
# plays no part in a liquidation price.
FAQ_BTC = TierTable([(0, 0.004, 125), (50_000, 0.005, 100), (250_000, 0.01, 50), (1_000_000, 0.025, 20)], "FAQ BTC")
FAQ_ETH = TierTable([(0, 0.005, 100), (10_000, 0.0065, 75), (100_000, 0.01, 50), (500_000, 0.02, 25),
                     (1_000_000, 0.05, 10), (2_000_000, 0.10, 5)], "FAQ ETH")
WB = 1_535_443.01
BTC = (109.488, 32_481.98, 31_967.27)        # amount, entry, mark
ETH = (3_683.979, 1_456.84, 1_335.18)


def test_the_faq_tables_give_the_faq_s_rates_and_amounts():
    assert FAQ_BTC.tier(264_000).rate == 0.01                 # "264,000 USDT ... 1%"
    assert FAQ_BTC.tier(500_000).amount == pytest.approx(1_300)  # "500,000 USDT ... 1,300 USDT"
    assert FAQ_BTC.tier(3_556_387).amount == pytest.approx(16_300)
    assert FAQ_ETH.tier(5_366_968).amount == pytest.approx(135_365)


@pytest.mark.parametrize("position,table,expected", [(ETH, FAQ_ETH, 1_114.78), (BTC, FAQ_BTC, 18_778.73)])
def test_isolated_liquidation_price_is_the_faq_s(position, table, expected):
    amount, entry, _ = position
    assert round(isolated_liquidation_price(WB, amount, entry, table), 2) == expected


def ledger_of(positions, tables, cash_after=WB):
    """A cross account holding ``positions`` [(amount, entry, mark)] with wallet balance ``cash_after``."""
    symbols = ("BTCUSDT", "ETHUSDT")[:len(positions)]
    rows = np.array([[m] * 4 + [1e9, 0.0, 1e9] for _, _, m in positions])     # one bar at the marks
    market = MarketData(symbols, np.zeros(1, dtype=np.int64), rows.T[:, :, None].copy(), "1h")
    pf = Portfolio(symbols, cash_after)
    for s, (amount, entry, _) in enumerate(positions):
        pf.fill(s, 1, amount, entry, 0.0, 0)
    account = Account.perpetual(leverage=20, mode="cross", funding=None, tiers=dict(zip(symbols, tables)))
    return Ledger(account, pf, market, 0.0)


def pooled_root(ledger, prices, s):
    """The price of symbol ``s`` (others at ``prices``) where the pooled check's equity equals its
    maintenance requirement (both at the bracket of each notional at its price): by bisection."""
    lo, hi = 1e-6, prices[s]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        p = list(prices)
        p[s] = mid
        if ledger.equity_at(p) >= ledger.maintenance_at(p):
            hi = mid
        else:
            lo = mid
    return hi


@pytest.mark.parametrize("s,expected", [(1, 1_153.26), (0, 26_316.89)])
def test_the_pooled_check_liquidates_at_the_faq_s_cross_prices(s, expected):
    ledger = ledger_of([BTC, ETH], [FAQ_BTC, FAQ_ETH])
    marks = [BTC[2], ETH[2]]
    assert round(pooled_root(ledger, marks, s), 2) == expected
    # and the check itself: a bar whose low is a cent past it liquidates, a cent short of it does not
    root = pooled_root(ledger, marks, s)
    for delta, hit in ((-0.01, True), (0.01, False)):
        p = list(marks)
        p[s] = root + delta
        assert (ledger.equity_at(p) < ledger.maintenance_at(p)) is hit


# -- the figures of issue #27: the entry bracket put liquidation past bankruptcy -----------------
@pytest.mark.parametrize("symbol,entry,notional,old,new", [
    ("BTCUSDT", 60_000.0, 12_500_000.0, 29_968.41, 30_247.52),   # bankruptcy 30,000
    ("SOLUSDT", 150.0, 100_000_000.0, 66.54, 79.62),             # bankruptcy 75.00
])
def test_a_2x_long_liquidates_before_its_bankruptcy_price(symbol, entry, notional, old, new):
    table = BINANCE_USDM_TIERS[symbol]
    qty, margin = notional / entry, notional / 2
    assert round(entry_bracket_liquidation_price(margin, qty, entry, table), 2) == old     # before: below 0.5 x entry
    liq = isolated_liquidation_price(margin, qty, entry, table)
    assert round(liq, 2) == new and liq > entry / 2
    # the plain condition: equity equals maintenance, at the bracket of the notional at liq
    assert margin + qty * (liq - entry) == pytest.approx(table.maintenance(qty * liq), rel=1e-9)


@pytest.mark.parametrize("symbol", sorted(BINANCE_USDM_TIERS))
@pytest.mark.parametrize("side", [1, -1])
@pytest.mark.parametrize("notional,leverage", [(10_000, 20), (50_000, 5), (1_000_000, 10), (12_500_000, 2),
                                               (60_000_000, 3), (100_000_000, 2), (700_000_000, 1)])
def test_one_position_and_the_pool_use_one_rule(symbol, side, notional, leverage):
    """The single-position price is where the pooled check's condition (equity = maintenance at the
    bracket of the price) turns, for every shipped table, both sides, sizes that change bracket."""
    table = BINANCE_USDM_TIERS[symbol]
    entry = 100.0
    qty = notional / entry
    margin = notional / leverage
    liq = isolated_liquidation_price(margin, side * qty, entry, table)
    if side > 0 and liq == 0.0:
        assert margin >= notional          # a fully funded long is never liquidated
        return
    f = lambda p: margin + side * qty * (p - entry) - table.maintenance(qty * p)   # noqa: E731
    assert abs(f(liq)) <= 1e-9 * notional
    safe = liq * (1 + 1e-9 * side)           # a hair on the safe side: not liquidated
    assert f(safe) > f(liq * (1 - 1e-9 * side))
    assert (liq < entry) if side > 0 else (liq > entry)


def run(rows, script, account, equity, symbol="BTCUSDT"):
    market = bars(rows, symbol)
    sc = Scenario("hand", symbols=market.symbols, bars=market.n_bars, timeframe=market.timeframe,
                  initial_equity=equity)
    return run_scenario(sc, Script(script), "frictionless", account=account,
                        market=MarketViews(true=market, feed=market, base=market))


def test_a_run_liquidates_the_2x_btc_long_before_bankruptcy_and_the_fund_pays_nothing():
    flat = (60_000.0,) * 4
    rows = [flat, flat, (59_000, 59_000, 30_100, 31_000), (31_000,) * 4]   # the low stops short of 30,000
    qty = 12_500_000 / 60_000
    res = run(rows, {0: buy(qty)}, Account.perpetual(leverage=2, funding=None), 10_000_000.0)
    forced = [e for e in res.executions if e.status == "liquidation"]
    liq = isolated_liquidation_price(6_250_000.0, qty, 60_000.0, BINANCE_USDM_TIERS["BTCUSDT"])
    assert len(forced) == 1 and forced[0].bar == 2 and forced[0].fill_price == pytest.approx(liq)
    assert res.insurance_fund_loss == 0.0
    # the fee takes what is left of the margin (the maintenance margin at liq); the rest of the wallet stays
    assert res.final_equity == pytest.approx(3_750_000.0, rel=1e-12)


# -- an all-in order is not refused by float rounding --------------------------------------------
@pytest.mark.parametrize("mode", ["cross", "isolated"])
@pytest.mark.parametrize("price,leverage", [(780.43, 1.0), (837.04, 5.0), (578.78, 3.0)])
def test_an_all_in_order_is_admitted(mode, price, leverage):
    equity = 100_000.0
    qty = equity * leverage / price
    assert qty * price / leverage > equity        # the initial margin is above the equity by rounding
    flat = (price,) * 4
    res = run([flat, flat, flat], {0: buy(qty)}, Account.perpetual(leverage=leverage, mode=mode, funding=None),
              equity, symbol="ETHUSDT")
    assert res.margin_rejections == 0
    fills = [e for e in res.executions if e.filled_qty > 0]
    assert len(fills) == 1 and fills[0].filled_qty == qty


def test_an_order_above_the_equity_by_more_than_rounding_is_still_refused():
    equity, price = 100_000.0, 780.43
    qty = equity * (1 + 1e-7) / price
    flat = (price,) * 4
    res = run([flat, flat, flat], {0: buy(qty)}, Account.perpetual(leverage=1, mode="cross", funding=None),
              equity, symbol="ETHUSDT")
    assert res.margin_rejections == 1
    refused = [e for e in res.executions if e.status == "insufficient_margin"][0]
    assert "initial margin" in refused.reason and math.isnan(refused.fill_price)
