"""The eight-role system on 5x perpetuals: it must never be liquidated."""
from pytest_stress import Account, stress

PERP_5X = Account.perpetual(leverage=5)          # isolated, Binance USDⓈ-M tiers, modelled funding


@stress("Black Swan Combo", "BTC Flash Crash 2021", account=PERP_5X)
def test_survives_on_5x_perpetuals(stress_result):
    assert stress_result.liquidations == 0
    assert not stress_result.ruined
    assert stress_result.max_drawdown < 25
