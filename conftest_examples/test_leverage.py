"""The eight-role system on perpetuals: isolated margin, Binance USDⓈ-M tiers, modelled funding."""
import pytest

from pytest_stress import Account, stress

PERP_2X = Account.perpetual(leverage=2)
PERP_5X = Account.perpetual(leverage=5)


@stress("BTC Flash Crash 2021", account=PERP_2X)
def test_survives_a_flash_crash_on_2x_perpetuals(stress_result):
    assert stress_result.liquidations == 0
    assert not stress_result.ruined
    assert stress_result.max_drawdown < 25


@stress("Black Swan Combo", "BTC Flash Crash 2021", account=PERP_5X)
def test_a_5x_liquidation_costs_only_its_margin(stress_result):
    # isolated margin: a liquidated position loses its margin, never the account
    assert not stress_result.ruined
    assert stress_result.final_equity > 0.6 * stress_result.initial_equity


# On one seed the system was never liquidated at 5x; over the scenario's paths a Black Swan
# liquidates it on about 8% of them (16 of 200; a BTC flash crash on 2%): the crash outruns the
# governor's flatten on its steepest bars. 8% lies inside the verdict's indifference zone (1%-10%),
# where either verdict is allowed; on its paths it is decided FAIL. Kept as a strict xfail so that
# an improvement is noticed.
@pytest.mark.xfail(strict=True, reason="liquidated on about 8% of Black Swan paths at 5x")
@stress("Black Swan Combo", account=PERP_5X)
def test_never_liquidated_on_5x_in_a_black_swan(stress_result):
    assert stress_result.liquidations == 0
