"""How far from breaking: the severity of a scenario at which the system's claim starts failing."""
from pytest_stress import Account, stress


# test_leverage.py's 2x test passes the BTC flash crash as defined (a 21% fall, close to close);
# this one asks by how much: the body is the check on every path of every severity searched,
# then asserts the margin. Since the crash is shaped like 19 May 2021 (over 24 bars, a volatile
# week before), the system never breaks up to severity 2 (a 38% fall): the search says so.
@stress("BTC Flash Crash 2021", breaking_point=True, search_range=(1, 2), precision=0.1,
        account=Account.perpetual(leverage=2))
def test_survives_a_deeper_flash_crash_on_2x_perpetuals(stress_result):
    assert stress_result.liquidations == 0
    assert stress_result.max_drawdown < 25
    assert stress_result.breaking_point.severity >= 1.2    # a crash a fifth deeper: a 25% fall
