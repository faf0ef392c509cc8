"""The framework's fixed cost per path: CPU ms of one 1000-bar run with a do-nothing trader.

Run: python benchmarks/path_cost.py [--rounds 3] [--bars 1000] [--paths 10] [--tree DIR]

A path is what the verdict engine runs: ``run_scenario(scenario.replace(seed=s), DoNothing(),
"calm")`` with a new seed, all of it timed (the ``replace`` and the market's build for that seed
included). Each round runs ``paths`` seeds per library scenario (the
same seeds every round, so rounds repeat the same work) and takes the round's mean CPU time
(``time.process_time``: another process on the machine does not count, its cache pressure
does); a scenario's figure is the minimum over rounds of that mean, the least disturbed round.
Target (issue #24): mean over the library <= 2 ms. As a script it measures this checkout's
package (or the one in ``--tree DIR``, e.g. a ``git archive`` of another commit); imported,
whichever ``pytest_stress`` the importer resolves.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

TARGET_MS = 2.0


class DoNothing:
    """A trader that never trades: what is left is the framework's cost."""

    def on_bar(self, ctx):
        return None


def framework_ms_per_path(rounds: int = 3, bars: int = 1000, paths: int = 10) -> dict[str, float]:
    """CPU ms per path (``scenario.replace(seed=...)`` and one ``run_scenario``) per library scenario, and their "mean"."""
    from pytest_stress import library
    from pytest_stress.runner import run_scenario

    scenarios = {name: library.get(name, bars=bars) for name in library.names()}
    seeds = range(1000, 1000 + paths)
    for sc in scenarios.values():     # warm-up: lazy imports, first-call caches
        run_scenario(sc.replace(seed=999), DoNothing(), "calm")
    best = {name: float("inf") for name in scenarios}
    for _ in range(rounds):
        for name, sc in scenarios.items():
            t0 = time.process_time()
            for seed in seeds:
                run_scenario(sc.replace(seed=seed), DoNothing(), "calm")
            best[name] = min(best[name], (time.process_time() - t0) * 1e3 / paths)
    best["mean"] = sum(best.values()) / len(scenarios)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bars", type=int, default=1000)
    ap.add_argument("--paths", type=int, default=10)
    ap.add_argument("--tree", help="measure the package in this directory (default: this checkout)")
    args = ap.parse_args()
    # as a script, measure this checkout's package (or --tree's), not an installed one
    sys.path.insert(0, os.path.abspath(args.tree) if args.tree else
                    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    figures = framework_ms_per_path(args.rounds, args.bars, args.paths)
    width = max(map(len, figures))
    print(f"{'scenario':<{width}}  ms/path  (CPU, min over {args.rounds} rounds of the mean of "
          f"{args.paths} seeds, {args.bars} bars)")
    for name, ms in figures.items():
        mark = ("PASS" if ms <= TARGET_MS else "MISS") if name == "mean" else ""
        print(f"{name:<{width}}  {ms:7.3f}  {mark}")
    print(f"target: mean <= {TARGET_MS} ms/path")


if __name__ == "__main__":
    main()
