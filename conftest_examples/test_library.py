"""The whole library against the eight-role system. Each claim is decided over the scenario's
paths (pass: it fails on at most 1% of them; fail: on at least 10%), not on one seed."""
import pytest

from pytest_stress import stress


@stress()                      # every library scenario
def test_never_blows_up(stress_result):
    # the worst of 200 paths of any library scenario keeps 64% of its equity (a Black Swan's)
    assert stress_result.final_equity > 0.6 * stress_result.initial_equity
    assert not stress_result.ruined


@stress("Black Swan Combo", "ETH Liquidity Collapse")
def test_the_kill_switch_fires_in_the_worst(stress_result):
    assert stress_result.emergency_stops >= 1


@stress("ETH Liquidity Collapse")
def test_survives_a_liquidity_collapse(stress_result):
    assert stress_result.max_drawdown < 25


# What the system cannot do, kept as a test so that a change to it (or to the venue) is noticed:
# in a Black Swan the book drains as the price falls, and on about a third of its paths the
# governor's flatten does not fill before the drawdown passes 25% (p50 16.7%, p99 39%, over
# 200 paths). On one seed this test passed; over the scenario's paths it fails. strict: if it
# ever passes, the xfail fails the session and the claim can move up.
@pytest.mark.xfail(strict=True, reason="a Black Swan drains the book: the flatten does not fill in time on a third "
                                       "of its paths")
@stress("Black Swan Combo")
def test_black_swan_drawdown_stays_under_25(stress_result):
    assert stress_result.max_drawdown < 25


@stress("Model Failure Simulation", "Data Corruption Shock")
def test_bad_inputs_do_not_reach_the_exchange(stress_result):
    assert stress_result.component_errors == 0
    assert stress_result.max_leverage <= 1.05
