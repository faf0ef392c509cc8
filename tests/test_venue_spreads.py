"""Spreads from OHLC for data without a spread column (Corwin & Schultz 2012; Abdi & Ranaldo 2017)."""
import numpy as np
import pytest

from pytest_stress.exchange import preset
from pytest_stress.exchange.conditions import market_conditions
from pytest_stress.exchange.spreads import abdi_ranaldo, corwin_schultz, ohlc_spread
from pytest_stress.market.data import MarketData


def bid_ask_bars(n, spread, rng, ticks=200, tick_sigma=0.0003):
    """Bars of trades at mid x (1 +- spread / 2), the side drawn per trade, the mid a random walk."""
    spread = np.broadcast_to(spread, (n,))
    mid = np.exp(np.cumsum(rng.normal(0, tick_sigma, n * ticks))).reshape(n, ticks) * 100
    side = rng.choice([-1.0, 1.0], size=(n, ticks))
    px = mid * (1 + side * spread[:, None] / 2)
    return px[:, 0], px.max(axis=1), px.min(axis=1), px[:, -1]


@pytest.mark.parametrize("spread", [0.002, 0.01])
def test_estimators_recover_a_known_spread(spread):
    rng = np.random.default_rng(4)
    o, h, l, c = bid_ask_bars(3000, spread, rng)
    cs = corwin_schultz(h[None], l[None])[0, 1:].mean()
    ar = np.sqrt(max(abdi_ranaldo(h[None], l[None], c[None])[0, 1:].mean(), 0.0))
    both = ohlc_spread(h[None], l[None], c[None])[0, 200:].mean()
    for est in (cs, ar, both):
        assert est == pytest.approx(spread, rel=0.35)


def test_a_constant_spread_column_is_replaced_by_the_estimate_and_wider_spreads_are_stress():
    rng = np.random.default_rng(5)
    n = 800
    spread = np.where(np.arange(n) >= 600, 0.03, 0.001)       # x30 from bar 600
    o, h, l, c = bid_ask_bars(n, spread, rng)
    values = np.vstack([o, h, l, c, np.full(n, 1000.0), np.full(n, 0.0005), np.full(n, 1000.0)])[:, None, :]
    m = MarketData(("X",), np.arange(n, dtype=np.int64) * 3_600_000_000_000, values, "1h")
    cond = market_conditions(m, preset("calm"))
    assert cond.spread[0, 100:590].mean() == pytest.approx(0.001, rel=0.5)
    assert cond.spread[0, 700:].mean() > 10 * cond.spread[0, 100:590].mean()
    assert cond.stress[0, 650:].mean() > 0.8
    # the estimate is causal: the bars before 600 do not see the widening
    short = market_conditions(m.slice(0, 600), preset("calm"))
    np.testing.assert_array_equal(short.spread, cond.spread[:, :600])
