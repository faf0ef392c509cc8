"""What the causality proof of ``indicators(feed)`` costs: the hook's own time against the hook with
its proof (``indicators.precompute_indicators``: one call on the whole feed, then one per cut), as a
ratio measured in the same run.

Run: python benchmarks/bench_lookahead.py [--rounds 30]

Three hooks: two pandas rolling windows (SMA 48, std 24), the example system's model (two SMAs and
a 500-bar rolling median of the spread, conftest_examples/trading_system.py), and numpy's own SMA;
on 1,000 and 100,000 bars. Each figure is the minimum over rounds (the least disturbed). The proof
makes 8 calls on 1,000 bars (the whole feed, 3 early cuts, 4 spread cuts) and 10 on 100,000; on
short runs a hook's fixed cost per call is most of what it adds. Measured on a loaded 2-core
machine: 8.4-8.6x on 1,000 bars, 4.7-6.1x on 100,000 (before the early cuts of issue 28 item 10:
5 calls, 5.3-5.4x and 3.7-4.2x).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conftest_examples"))


def _best(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)

    import pandas as pd

    from pytest_stress import Scenario
    from pytest_stress.indicators import _cuts, precompute_indicators, rolling_std, sma
    from trading_system import TrendModel

    class Pandas:
        def indicators(self, feed):
            c = pd.Series(feed.close[0])
            return {"sma": c.rolling(48).mean().to_numpy(), "std": c.rolling(24).std().to_numpy()}

    class Numpy:
        def indicators(self, feed):
            return {"sma": sma(feed.close[0], 48), "std": rolling_std(feed.close[0], 24)}

    print(f"{'hook':<24} {'bars':>8} {'calls':>5} {'own ms':>9} {'with proof ms':>14} {'ratio':>6}")
    for bars in (1_000, 100_000):
        feed = Scenario("x", bars=bars, seed=3).build_market().feed
        early, spread = _cuts(feed)
        for name, hook in (("pandas rolling", Pandas()), ("example model", TrendModel()), ("numpy sma", Numpy())):
            own = _best(lambda: hook.indicators(feed), args.rounds)
            proof = _best(lambda: precompute_indicators(hook, feed), args.rounds)
            print(f"{name:<24} {bars:>8,} {1 + len(early) + len(spread):>5} {own * 1e3:>9.3f} {proof * 1e3:>14.3f} "
                  f"{proof / own:>5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
