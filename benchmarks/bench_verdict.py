"""Verdicts about a scenario (issue #24): the rule's error bounds, its paths, and what a path costs.

Run: python benchmarks/bench_verdict.py [--cases 2000] [--rounds 2] [--seed 24] [--skip-suite]
     python benchmarks/bench_verdict.py --skip-timing      (the statistics only: (a) and (b), a second)

Printed, in one run, for the default rule (``pytest_stress.verdict.DEFAULT_RULE``: PASS if the
assertion fails on at most 1% of paths, FAIL if on at least 10%, each error at most 5%, at most
300 paths):

(a) the error-bound table: for true failure rates 0% to 50%, ``--cases`` simulated cases per
    rate (Bernoulli draws, no trading: a case draws path outcomes until ``rule.decision``
    decides); the simulated P(FAIL) with its binomial standard error beside the exact one
    (``rule.operating``), the bound that applies (a false FAIL at most alpha at rates <=
    pass_rate, a false PASS at most beta at rates >= fail_rate, either verdict in between) with
    PASS/MISS, and the mean paths used, simulated and exact;
(b) the sequential test's expected paths against the fixed-size test with the same bounds
    (``rule.fixed_sample()``), target: at most half of it on average over 0% and 30%;
(c) framework time per 1000-bar path with a do-nothing trader (target: at most 2 ms, judged on the
    mean over the library's scenarios), from ``benchmarks/path_cost.py`` when present, else a
    small fallback here; 10 x ``--rounds`` calls per scenario;
(d) the example suite's wall time at ``-n 0`` and ``-n 2`` (whatever the plugin in this checkout
    does: with verdicts, every ``@stress`` case runs paths), target: ``-n 2`` at least 1.5x faster.

Which verdict a bound gets: PASS when the exact probability (the rule as run, cap included) is
within the bound and the simulated frequency is not above it by more than 3 standard errors of a
rate at the bound (simulation noise); the simulated figure is a check on the exact one, and
their difference in standard errors is printed.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))   # benchmarks/path_cost.py, when it exists
sys.path.insert(0, str(ROOT))   # this checkout's package, as (d)'s `python -m pytest` from ROOT imports it

from pytest_stress.verdict import DEFAULT_RULE, VerdictRule   # noqa: E402

RATES = (0.0, 0.005, 0.01, 0.05, 0.10, 0.20, 0.30, 0.50)
PATH_RATES = (0.0, 0.01, 0.05, 0.10, 0.30)
HALF_AT = (0.0, 0.30)


def _pct(x: float, digits: int = 1) -> str:
    """A share in percent: fixed decimals, or two significant digits below 0.1%."""
    return f"{100 * x:.{digits}f}%" if x >= 0.001 or x == 0 else f"{100 * x:.2g}%"


def error_bounds(rule: VerdictRule, cases: int, seed: int) -> dict[float, bool]:
    """(a): the table; returns PASS (True) / MISS per rate that has a bound."""
    streams = np.random.SeedSequence(seed).spawn(len(RATES))   # one independent stream per rate
    print(f"(a) error bounds: {rule.describe()}; {cases:,} simulated cases per rate (seed {seed})")
    print(f"   {'rate':>5}  {'P(FAIL) sim +- se':>18}  {'exact':>7}  {'sim-exact':>9}  "
          f"{'bound (exact P of the wrong verdict)':<37} {'':4}  {'paths sim':>9} {'exact':>6}")
    verdicts: dict[float, bool] = {}
    t = time.perf_counter()
    for rate, stream in zip(RATES, streams):
        failed, used = rule.simulate(rate, cases, np.random.default_rng(stream))
        exact = rule.operating(rate)
        sim = float(failed.mean())
        se = math.sqrt(sim * (1 - sim) / cases)
        z = (sim - exact.fail_prob) / math.sqrt(max(exact.fail_prob * (1 - exact.fail_prob), 1e-12) / cases)
        noise = 3 * math.sqrt(rule.alpha * (1 - rule.alpha) / cases)   # 3 standard errors of a rate at the bound
        if rate <= rule.pass_rate:
            bound = f"false FAIL <= {_pct(rule.alpha)} ({_pct(exact.fail_prob, 2)})"
            ok = exact.fail_prob <= rule.alpha + 1e-12 and sim <= rule.alpha + noise
        elif rate >= rule.fail_rate:
            bound = f"false PASS <= {_pct(rule.alpha)} ({_pct(exact.pass_prob, 2)})"
            ok = exact.pass_prob <= rule.alpha + 1e-12 and 1 - sim <= rule.alpha + noise
        else:
            bound, ok = "either (indifference zone)", None
        if ok is not None:
            verdicts[rate] = ok
        mark = "" if ok is None else "PASS" if ok else "MISS"
        print(f"   {_pct(rate):>5}  {_pct(sim, 2):>7} +- {_pct(se, 2):<7}  {_pct(exact.fail_prob, 2):>7}  {z:+7.1f}se  "
              f"{bound:<37} {mark:<4}  {used.mean():9.1f} {exact.expected_paths:6.1f}")
    print(f"   ({time.perf_counter() - t:.1f} s; 'sim-exact': the simulated P(FAIL) minus the exact, in standard "
          "errors of the exact; PASS: exact within the bound and the simulated frequency within 3 se of it)")
    return verdicts


def mean_paths(rule: VerdictRule) -> bool:
    """(b): expected paths against the fixed-size test; returns the target's PASS (True) / MISS."""
    n, c = rule.fixed_sample()
    print(f"(b) mean paths: the fixed-size test with the same bounds runs {n} paths (PASS iff at most {c} fail)")
    ratios = {}
    for rate in PATH_RATES:
        expected = rule.operating(rate).expected_paths
        ratios[rate] = expected / n
        print(f"   {_pct(rate):>5}  sequential {expected:6.1f} paths  / fixed {n}  = {ratios[rate]:.2f}")
    avg = statistics.fmean(ratios[r] for r in HALF_AT)
    ok = avg <= 0.5
    each = ", ".join(f"{_pct(r)} {ratios[r]:.2f}" for r in HALF_AT)
    print(f"   target: at most half the fixed sample on average at 0% and 30% (judged: the mean of the two "
          f"ratios): {each}; mean {avg:.2f}: {'PASS' if ok else 'MISS'}"
          + ("" if all(ratios[r] <= 0.5 for r in HALF_AT) else
             f" (each on its own: {', '.join(f'{_pct(r)} ' + ('PASS' if ratios[r] <= 0.5 else 'MISS') for r in HALF_AT)})"))
    return ok


class DoNothing:
    def on_bar(self, ctx):
        return None


def fallback_ms_per_path(rounds: int, bars: int) -> dict[str, float]:
    """Process CPU ms of one ``run_scenario`` call (market build included) with a do-nothing trader
    on the calm exchange, median over ``rounds`` per library scenario (a new seed every call),
    and "mean" over the scenarios. Stands in for ``path_cost.framework_ms_per_path``."""
    from pytest_stress import library, run_scenario

    scenarios = [library.get(name, bars=bars) for name in library.names()]
    for sc in scenarios:                               # warm-up: imports, caches
        run_scenario(sc.replace(seed=1), DoNothing(), "calm")
    times: dict[str, list[float]] = {sc.name: [] for sc in scenarios}
    seed = 1000
    for _ in range(rounds):
        for sc in scenarios:
            seed += 1
            t = time.process_time()
            run_scenario(sc.replace(seed=seed), DoNothing(), "calm")
            times[sc.name].append(1e3 * (time.process_time() - t))
    out = {name: statistics.median(v) for name, v in times.items()}
    out["mean"] = statistics.fmean(out.values())
    return out


def path_cost(rounds: int, bars: int = 1000) -> bool:
    """(c): framework time per path; returns the target's PASS (True) / MISS."""
    try:
        from path_cost import framework_ms_per_path
        source = "benchmarks/path_cost.py"
    except ImportError:
        framework_ms_per_path, source = fallback_ms_per_path, "bench_verdict's fallback"
    ms = framework_ms_per_path(rounds, bars)
    print(f"(c) framework time per {bars}-bar path, do-nothing trader, calm exchange ({source}), CPU ms:")
    for name, value in ms.items():
        if name != "mean":
            print(f"   {name:<28} {value:6.2f}")
    ok = ms["mean"] <= 2.0
    print(f"   target: mean over the library at most 2 ms: {ms['mean']:.2f} ms: {'PASS' if ok else 'MISS'}")
    return ok


SUITE = [sys.executable, "-m", "pytest", "conftest_examples", "-m", "stress", "-p", "no:cacheprovider", "-q"]


def _wall(cmd: list[str]) -> tuple[float, int]:
    t = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return time.perf_counter() - t, rc


#: The example suite's runs timed by (d): label -> extra arguments. "-n 0" is the default, whose
#: path workers (auto: all cores without xdist) already run a case's paths in parallel; the
#: serial run (one path worker) is printed for information.
SUITE_RUNS = {"-n 0": ["-n", "0"], "-n 2": ["-n", "2"], "-n 0, 1 path worker": ["-n", "0", "--stress-path-workers=1"]}


def suite(rounds: int) -> bool:
    """(d): the example suite at -n 0 and -n 2 (and serial), rotating the order; returns the
    target's PASS (True) / MISS."""
    print(f"(d) example suite with default verdicts (`pytest conftest_examples -m stress`, from {ROOT}), "
          f"{rounds} rounds rotating {' / '.join(SUITE_RUNS)}; load average {os.getloadavg()[0]:.1f} at start")
    _wall([*SUITE, "--collect-only"])                  # warm-up: bytecode, assertion rewriting
    walls: dict[str, list[float]] = {k: [] for k in SUITE_RUNS}
    codes: set[int] = set()
    labels = list(SUITE_RUNS)
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            seconds, rc = _wall([*SUITE, *SUITE_RUNS[label]])
            walls[label].append(seconds)
            codes.add(rc)
        print(f"   round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items())
              + f": -n 0 / -n 2 {walls['-n 0'][-1] / walls['-n 2'][-1]:.2f}x")
    speed = [a / b for a, b in zip(walls["-n 0"], walls["-n 2"])]
    serial = [a / b for a, b in zip(walls["-n 0, 1 path worker"], walls["-n 2"])]
    ok = statistics.median(speed) >= 1.5
    print("   median wall: " + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in walls.items()))
    print(f"   target: -n 2 at least 1.5x faster than -n 0 (judged: the median of the rounds' paired ratios): "
          f"{statistics.median(speed):.2f}x: {'PASS' if ok else 'MISS'}; for information, -n 2 over the serial run "
          f"(-n 0, 1 path worker): {statistics.median(serial):.2f}x; load average {os.getloadavg()[0]:.1f} at end"
          + ("" if codes <= {0} else f" (exit codes {sorted(codes)}: some runs did not pass; their times still count)"))
    return ok


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2000, help="simulated cases per failure rate (default 2000)")
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds of (d), and tenfold of (c) (default 2)")
    ap.add_argument("--seed", type=int, default=24)
    ap.add_argument("--skip-suite", action="store_true", help="skip (d), the example suite's runs")
    ap.add_argument("--skip-timing", action="store_true", help="skip (c) and (d): the statistics only")
    args = ap.parse_args(argv)
    if args.cases < 1 or args.rounds < 1:
        ap.error("--cases and --rounds must be at least 1")
    rule = DEFAULT_RULE
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    summary: dict[str, object] = {"bounds": error_bounds(rule, args.cases, args.seed), "half": mean_paths(rule)}
    if not args.skip_timing:
        summary["path_cost"] = path_cost(10 * args.rounds)
        if not args.skip_suite:
            summary["suite"] = suite(args.rounds)
    return summary


if __name__ == "__main__":
    main()
