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


# Once what the system could not do (a strict xfail): when the library's Black Swan fell 50% in 3
# bars, the governor's flatten did not fill before the drawdown passed 25% on a third of its
# paths. Shaped like Black Thursday (47% over 32 bars, docs/fidelity.md), the flatten fills in
# time: over 200 paths the drawdown is p50 9.2%, p90 15.0%, p99 25.6%, at 25% or more on 1.5%
# of them (inside the verdict's indifference zone, 1%-10%: the verdict PASSes on 0 of 31).
@stress("Black Swan Combo")
def test_black_swan_drawdown_stays_under_25(stress_result):
    assert stress_result.max_drawdown < 25


@stress("Model Failure Simulation", "Data Corruption Shock")
def test_bad_inputs_do_not_reach_the_exchange(stress_result):
    assert stress_result.component_errors == 0
    assert stress_result.max_leverage <= 1.05
