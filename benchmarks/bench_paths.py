"""Monte Carlo paths on 1 worker against 2 (interleaved rounds), and what the parent keeps per path.

Run: python benchmarks/bench_paths.py [--paths 1000] [--rounds 3] [--bars 1000]

Workload: "BTC Flash Crash 2021" with the eight-role example system of
``conftest_examples/trading_system.py`` (what ``conftest_examples/test_monte_carlo.py``
runs), calm exchange. Each round times ``run_paths(..., workers=1)`` (in this process) and
``run_paths(..., workers=2)`` (two worker processes), in alternating order, and prints the
round's paired ratio; the summary gives min/median/max over rounds (target: median >= 1.7
on 2 idle cores; a shared machine gives less). Both tables must be bit-identical.

Memory: the bytes the parent's table holds per path, the parent's peak of Python
allocations per path during a 2-worker run (tracemalloc, a separate untimed run), and,
for comparison, one path's full ``ScenarioResult`` pickled (what a parent used to receive
and keep for every path).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "conftest_examples"))

from trading_system import full_system   # noqa: E402

from pytest_stress import library, run_paths, run_scenario   # noqa: E402
from pytest_stress.result.paths import FAN_PATHS   # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(scenario, paths: int, workers: int):
    c, t = cpu_seconds(), time.perf_counter()
    result = run_paths(scenario, full_system, paths, "calm", workers=workers)
    return time.perf_counter() - t, cpu_seconds() - c, result


def _burn(n: int) -> None:
    s = 0
    for i in range(n):
        s += i


def machine_ratio(seconds: float) -> float:
    """What two processes get done against one right now (pure Python, no I/O): the best the
    pool could do on this machine at this moment (about 2.0 on 2 idle cores)."""
    n = 2_000_000
    t = time.perf_counter()
    _burn(n)
    n = max(1, int(n * seconds / max(1e-3, time.perf_counter() - t)))
    t = time.perf_counter()
    _burn(n)
    _burn(n)
    one = time.perf_counter() - t
    ctx = multiprocessing.get_context("fork")
    t = time.perf_counter()
    procs = [ctx.Process(target=_burn, args=(n,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return one / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bars", type=int, default=None, help="default: the scenario's own (1000)")
    args = ap.parse_args()
    scenario = library.get("BTC Flash Crash 2021", **({"bars": args.bars} if args.bars else {}))
    print(f"{scenario.name}, {scenario.bars} bars, {args.paths} paths, eight-role example system; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    timed(scenario, 8, 1)   # warm-up: imports, caches
    ratios, machine, cpu = [], [], {1: 0.0, 2: 0.0}
    reference = None
    for r in range(args.rounds):
        order = (1, 2) if r % 2 == 0 else (2, 1)
        times = {}
        for w in order:
            times[w], used, result = timed(scenario, args.paths, w)
            cpu[w] += used
            if reference is None:
                reference = result
            assert result.table.same_as(reference.table), "tables differ between worker counts"
        ratios.append(times[1] / times[2])
        machine.append(machine_ratio(2.0))
        print(f"round {r + 1}: 1 worker {times[1]:.2f} s ({1e3 * times[1] / args.paths:.1f} ms/path), "
              f"2 workers {times[2]:.2f} s: {ratios[-1]:.2f}x; the machine gave 2 processes {machine[-1]:.2f}x "
              f"of one just after")
    print(f"speed-up 1 -> 2 workers over {args.rounds} rounds: min {min(ratios):.2f}x, "
          f"median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x (target >= 1.7x on 2 idle cores); "
          f"the machine's own 2-process ratio: median {statistics.median(machine):.2f}x; "
          f"CPU per path: 1 worker {1e3 * cpu[1] / args.paths / args.rounds:.1f} ms, 2 workers "
          f"{1e3 * cpu[2] / args.paths / args.rounds:.1f} ms (parent + workers); tables bit-identical: yes; "
          f"load average {os.getloadavg()[0]:.1f} at end")

    tracemalloc.start()
    result = run_paths(scenario, full_system, args.paths, "calm", workers=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    one = run_scenario(scenario.replace(seed=result.seeds[0]), full_system(), "calm")
    full = len(pickle.dumps(one, protocol=pickle.HIGHEST_PROTOCOL))
    fan = sum(s[1].nbytes + s[2].nbytes for s in result._sketches.values()) / max(1, len(result._sketches))
    print(f"parent memory: table {result.table.nbytes / args.paths:,.0f} B/path (+ cut equity curves of the "
          f"first {len(result._sketches)} paths for the fan: {fan:,.0f} B each); "
          f"peak Python allocations during a 2-worker run {peak / args.paths:,.0f} B/path; "
          f"one full ScenarioResult pickled {full:,} B")
    print(f"so 100,000 paths: table {result.table.nbytes / args.paths * 1e5 / 1e6:,.0f} MB + fan curves "
          f"{fan * FAN_PATHS / 1e6:,.1f} MB at most (full results: {full * 1e5 / 1e9:,.1f} GB)")


if __name__ == "__main__":
    main()
