"""How far from breaking: the severity of a scenario at which the system's claim starts failing."""
from pytest_stress import Account, stress


# The 2x test above passes the BTC flash crash as defined (a 30% fall); this one asks by how
# much: the body is the check on every path of every severity searched, then asserts the margin.
@stress("BTC Flash Crash 2021", breaking_point=True, search_range=(1, 2), precision=0.1,
        account=Account.perpetual(leverage=2))
def test_survives_a_deeper_flash_crash_on_2x_perpetuals(stress_result):
    assert stress_result.liquidations == 0
    assert stress_result.max_drawdown < 25
    assert stress_result.breaking_point.severity >= 1.2    # a crash a fifth deeper: a 35% fall
