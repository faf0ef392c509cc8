"""Monte Carlo: one scenario on 200 seeded market paths; assert on the scenario, not on these paths."""
from pytest_stress import stress


@stress("BTC Flash Crash 2021", paths=200)
def test_flash_crash_tail(stress_result):
    # Bounds, not point estimates: each holds with 95% confidence for the scenario's true distribution
    # (another base seed draws other paths; a bound from them is still true). 59 paths at least bound a p95.
    # The fat-tailed base markets (docs/market.md) put the true p95 drawdown near 19: a quarter is the limit.
    assert stress_result.percentile_bound("max_drawdown", 95) < 25
    # about 1% of paths lose a fifth of the account; fewer than one in ten, with 95% confidence
    assert stress_result.fraction_bound(lambda r: r.final_equity < 0.8 * r.initial_equity) < 0.1
    # if this fails, the report names the worst path's seed: @stress(..., seed=<worst_seed>)
