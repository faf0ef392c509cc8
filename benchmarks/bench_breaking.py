"""What a reverse stress test costs: runs and wall time of ``find_breaking_point`` on the known-answer
case, against two baselines measured in the same run.

Run: python benchmarks/bench_breaking.py [--workers 1] [--reference 100]

The case (tests/test_breaking.py): a 60-bar ``flash_crash`` (drop 30% over 6 bars from a quiet
5%-a-year market), a trader that opens a long of 4.9x its equity on the first bar in a 5x
isolated perpetual account, the claim "never liquidated", the search along ``drop_pct`` to a
precision of 1 point. Printed per method: the bracket, the paths run (each one run of the
scenario), the wall time and both as a ratio to the search's:

- ``search``: ``find_breaking_point`` (bisection, the verdict's sequential test at each level on
  common paths, confirmation of the bracket on independent paths);
- ``fixed``: the same bisection with a fixed-size test at each level (``VerdictRule.fixed_sample``:
  the fewest paths with the same error bounds, 61 at the defaults), no confirmation;
- ``grid``: the fixed-size test at every level of a grid with the precision's step over the range.

Then the reference: each of ``--reference`` paths' own breaking drop, found by bisection on real
runs without statistics, and where the search's bracket falls among them (the breaking point is
where the share of liquidated paths crosses the verdict's band, 1% to 10%). Target (issue #25):
the search within 1 point in at most 300 runs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

TARGET_RUNS = 300
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))


def _fixed_size(scenario, factory, check, x, n, c, account):
    """PASS iff at most ``c`` of ``n`` paths fail at ``drop_pct`` = x (the fixed-size test)."""
    from pytest_stress import derive_seed, run_scenario

    sc = scenario.replace(parameters={"drop_pct": x})
    failures = sum(not check(run_scenario(sc.replace(seed=derive_seed(sc.seed, i)), factory(), "frictionless",
                                          account=account)) for i in range(n))
    return failures <= c


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="path workers of the search (default 1)")
    parser.add_argument("--reference", type=int, default=100, help="paths of the reference (default 100)")
    args = parser.parse_args(argv)

    import numpy as np

    from pytest_stress import derive_seed
    from pytest_stress.breaking import find_breaking_point
    from pytest_stress.verdict import VerdictRule
    from test_breaking import CRASH, PERP, Levered, _critical_drop, never_liquidated

    precision, low, high = 0.01, 1e-6, 0.99
    rows = []
    started = time.perf_counter()
    bp = find_breaking_point(CRASH, Levered, never_liquidated, parameter="drop_pct", precision=precision,
                             exchange="frictionless", account=PERP, workers=args.workers)
    rows.append(("search", bp.bracket, bp.evaluations.paths, time.perf_counter() - started))

    n, c = VerdictRule().fixed_sample()
    started, runs, lo, hi = time.perf_counter(), 0, low, high
    while hi - lo > precision:
        mid = lo + (hi - lo) / 2
        runs += n
        if _fixed_size(CRASH, Levered, never_liquidated, mid, n, c, PERP):
            lo = mid
        else:
            hi = mid
    rows.append((f"fixed ({n} paths a level)", (lo, hi), runs, time.perf_counter() - started))

    started, runs, grid = time.perf_counter(), 0, np.arange(precision, high, precision)
    first_fail = None
    for x in grid:
        runs += n
        if not _fixed_size(CRASH, Levered, never_liquidated, float(x), n, c, PERP):
            first_fail = float(x)
            break
    rows.append((f"grid (step {precision}, stops at the first fail)", (None if first_fail is None else
                                                                     first_fail - precision, first_fail),
                 runs, time.perf_counter() - started))

    base_runs, base_time = rows[0][2], rows[0][3]
    print(f"known-answer case: {CRASH!r}, 5x isolated perpetual, claim: never liquidated; precision {precision}")
    print(f"{'method':<44} {'bracket':>17} {'runs':>6} {'x search':>9} {'wall s':>7} {'x search':>9}")
    for name, (a, b), runs, wall in rows:
        bracket = f"{a:.4f}-{b:.4f}" if a is not None and b is not None else str((a, b))
        print(f"{name:<44} {bracket:>17} {runs:>6} {runs / base_runs:>9.2f} {wall:>7.2f} {wall / base_time:>9.2f}")
    ok = bp.evaluations.paths <= TARGET_RUNS and bp.bracket[1] - bp.bracket[0] <= precision
    print(f"target: within {precision} in at most {TARGET_RUNS} runs: {'met' if ok else 'MISSED'} "
          f"({bp.evaluations.paths} runs, {bp.evaluations.levels} levels)")

    critical = np.array([_critical_drop(derive_seed(CRASH.seed, i))[0] for i in range(args.reference)])
    q1, q10 = np.quantile(critical, [0.01, 0.10])
    print(f"reference over {args.reference} paths (each path's own breaking drop, no statistics): 1% quantile "
          f"{q1:.4f}, 10% quantile {q10:.4f}, median {np.median(critical):.4f}; liquidated at the search's "
          f"pass end {np.mean(critical <= bp.bracket[0]):.0%}, at its fail end {np.mean(critical <= bp.bracket[1]):.0%}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
