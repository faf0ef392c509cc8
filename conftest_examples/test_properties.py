"""Property-based: hypothesis draws crashes and volatility spikes over their whole ranges;
the properties below must hold for every one of them.

stress_runner is session-scoped and builds a fresh trader from trader_factory per example,
so @given works without function-scoped-fixture health-check errors. Tests using
stress_runner are selected by -m stress.
"""
from hypothesis import Phase, given, settings

from pytest_stress import strategies as sst


# no explain phase: after a failure it line-traces every run, shrinking included (README, "Property-based
# fuzzing"): minutes instead of seconds to report a failing crash
@settings(max_examples=25, deadline=None, phases=[p for p in Phase if p is not Phase.explain])
@given(scenario=sst.scenarios(types=["flash_crash", "volatility_spike", "pump_and_dump"], bars=400))
def test_risk_controls_hold_in_any_crash_or_spike(stress_runner, scenario):
    result = stress_runner(scenario)
    assert result.final_equity > 0
    # the risk guard never lets gross exposure pass the account's equity
    assert result.max_leverage <= 1.05
    # the kill switch fires in every episode deep enough to need it
    if result.max_drawdown > 15:
        assert result.emergency_stops >= 1
