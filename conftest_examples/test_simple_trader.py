"""The simple on_bar form: override trader_under_test for this module (each path runs its own
copy of it, made before its first bar)."""
import pytest

from pytest_stress import stress


@pytest.fixture
def trader_under_test(simple_trader):
    return simple_trader


@stress("BTC Flash Crash 2021", "Weekend Gap Down")
def test_stop_loss_caps_the_damage(stress_result):
    # a 30% position with a 6% stop: a gap can fill the stop late (at the gapped open),
    # but no single trade may cost more than 5% of the account
    assert stress_result.largest_loss > -0.05 * stress_result.initial_equity
    # the stop is fixed at entry, so open profits can still be given back: drawdown stays loose
    assert stress_result.max_drawdown < 25


@stress("SOL Volatility Explosion")
def test_a_volatility_explosion_gaps_through_the_stop_but_not_far(stress_result):
    # returns x8 for three days: an hourly bar can jump far past a 6% stop (a trade lost 18% of
    # the account on the worst of 200 paths; the 5% cap above fails on about 10% of them)
    assert stress_result.largest_loss > -0.25 * stress_result.initial_equity
    assert stress_result.max_drawdown < 45


@stress("Execution Crisis")
def test_survives_a_failing_exchange(stress_result):
    assert stress_result.execution_failures > 0
    assert stress_result.final_equity > 0.8 * stress_result.initial_equity
