"""What a failure looks like. Not part of `pytest conftest_examples -m stress`: run it with

    pytest conftest_examples/demo_failures.py

Both tests fail on purpose: a fragile trader, 3x leveraged on an isolated-margin perpetual
account, with no risk controls. The Black Swan failure report shows its liquidation.
"""
import math

import pytest
from hypothesis import Phase, given, settings

from pytest_stress import Account, buy, stress
from pytest_stress import strategies as sst


class AllIn:
    """Goes 3x leveraged long as soon as it can, and never looks back."""

    def on_bar(self, ctx):
        if ctx.position() == 0 and not ctx.open_orders and math.isfinite(ctx.price) and ctx.equity > 0:
            return buy(3 * ctx.equity / ctx.price)
        return None


@pytest.fixture
def trader_under_test():
    return AllIn()


LEVERED = Account.perpetual(leverage=3)


@stress("Black Swan Combo", account=LEVERED)
def test_fragile_trader_in_the_black_swan(stress_result):
    # fails: the report shows the scenario, its seed, the liquidation and the run's key figures
    assert stress_result.liquidations == 0 and stress_result.max_drawdown < 25


# no explain phase: it line-traces every run after the first failure, which made this demo 108 s
# instead of 2.4 s (Python 3.11; 77 s on 3.12), and it can only name the whole scenario anyway
@settings(max_examples=50, deadline=None, phases=[p for p in Phase if p is not Phase.explain])
@given(scenario=sst.scenarios(types=["flash_crash"], bars=300))
def test_fragile_trader_survives_any_crash(stress_runner, scenario):
    # fails, and hypothesis shrinks to the smallest crash that liquidates the trader
    result = stress_runner(scenario, AllIn(), account=LEVERED)
    assert result.liquidations == 0
