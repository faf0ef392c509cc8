"""Peak memory of a run and build time of its market, per bar, at 1M and 10M bars.

Run: python benchmarks/bench_memory.py [--bars 1000000 10000000] [--rounds 2] [--traced]

Each case runs in a fresh process (one symbol: BTC Flash Crash 2021; three symbols:
Correlation Breakdown), with a simple trader (on_bar over two precomputed SMAs) on the
calm exchange. Printed per case:

- peak RSS of ``run_scenario`` (build, wire, loop, measure; the result kept) above the
  process's RSS before it (interpreter, imports, a warm-up run), in bytes per bar and per
  symbol-bar: the process high-water mark ``VmHWM``, which is what runs out;
- with ``--traced`` (slow: tracemalloc costs the bar loop about 6x): the peak of the
  run's own allocations by tracemalloc, and the same for the market build alone (as a run
  builds it: ``build_market(keep_base=False)``); the result's arrays kept after the run;
- build time of ``Scenario.build_market(keep_base=False)`` per bar, and the linearity ratio: time per
  bar at the largest size over time per bar at the smallest (1.0: linear), the median of
  per-round ratios; rounds alternate the order of the sizes.

Target (issue #16): at most 120 bytes per bar of peak run memory (one symbol), and a
linear build (ratio near 1), so that 10M bars run in under 1.5 GB. Figures are printed,
never asserted; the machine is shared, so compare ratios from one run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CASES = (("BTC Flash Crash 2021", 1), ("Correlation Breakdown", 3))
TARGET_BYTES_PER_BAR = 120
TARGET_10M_GB = 1.5

_CHILD = r"""
import gc, json, sys, time, tracemalloc
from pytest_stress import buy, library, sell
from pytest_stress.indicators import sma
from pytest_stress.runner import run_scenario


class SmaTrader:
    # the simple form: on_bar over two precomputed SMAs, long half its cash on a cross up
    # (sized to the cash: one fixed unit outgrows the default 1x account as the price drifts
    # over a long run, and a refused order on every bar would be measured instead)
    def indicators(self, feed):
        c = feed.close[0]
        return {"fast": sma(c, 10), "slow": sma(c, 30)}

    def on_bar(self, ctx):
        pos = ctx.position()
        if ctx.value("fast") > ctx.value("slow"):
            if pos == 0:
                return buy(0.5 * ctx.cash / ctx.price)
        elif pos > 0:
            return sell(pos)
        return None


def hwm():   # this process's peak RSS in bytes
    with open("/proc/self/status") as f:
        return 1024 * int(next(l for l in f if l.startswith("VmHWM")).split()[1])


def rss():
    with open("/proc/self/status") as f:
        return 1024 * int(next(l for l in f if l.startswith("VmRSS")).split()[1])


mode, name, bars = sys.argv[1], sys.argv[2], int(sys.argv[3])
sc = library.get(name).replace(bars=bars)
run_scenario(library.get(name), SmaTrader())          # warm-up: every import and cache in place
gc.collect()
out = {}
if mode == "rss":
    base = rss()
    with open("/proc/self/clear_refs", "w") as f:     # reset VmHWM to the current RSS
        f.write("5")
    r = run_scenario(sc, SmaTrader())
    out.update(base=base, peak=hwm(), trades=r.total_trades, refused=r.margin_rejections)
elif mode == "traced":
    tracemalloc.start()
    views = sc.build_market(keep_base=False)          # as a run builds it
    out["build_peak"] = tracemalloc.get_traced_memory()[1]
    del views
    gc.collect()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    r = run_scenario(sc, SmaTrader())
    out["run_peak"] = tracemalloc.get_traced_memory()[1] - start
    out["result"] = tracemalloc.get_traced_memory()[0] - start
else:   # build: "build" followed by sizes, timed in that order
    times = {}
    for n in map(int, sys.argv[3:]):
        s = library.get(name).replace(bars=n)
        t = time.perf_counter()
        views = s.build_market(keep_base=False)
        times[n] = time.perf_counter() - t
        del views
        gc.collect()
    out["times"] = times
print(json.dumps(out))
"""


def child(*args: object) -> dict:
    # -P: the child imports the package PYTHONPATH names (a tree to compare), not the working directory's
    proc = subprocess.run([sys.executable, "-P", "-c", _CHILD, *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--rounds", type=int, default=2, help="rounds of build timings (sizes alternate)")
    ap.add_argument("--traced", action="store_true", help="also tracemalloc peaks (slow at 10M bars)")
    ap.add_argument("--cases", default="all", choices=["all", "one", "multi"])
    args = ap.parse_args()
    cases = CASES if args.cases == "all" else CASES[:1] if args.cases == "one" else CASES[1:]
    sizes = sorted(args.bars)
    print(f"target: peak run memory <= {TARGET_BYTES_PER_BAR} bytes per bar (one symbol), a linear build, "
          f"10M bars under {TARGET_10M_GB} GB")
    for name, k in cases:
        print(f"\n{name} ({k} symbol{'s' if k > 1 else ''}), simple trader, calm exchange")
        for n in sizes:
            m = child("rss", name, n)
            extra = m["peak"] - m["base"]
            print(f"  {n:>11,} bars: peak RSS of the run {extra / 2**20:8.1f} MB above {m['base'] / 2**20:.0f} MB "
                  f"(process peak {m['peak'] / 2**30:.2f} GB) = {extra / n:6.1f} B/bar, "
                  f"{extra / n / k:6.1f} B/symbol-bar  ({m['trades']} trades, {m['refused']} refused)")
            if args.traced:
                t = child("traced", name, n)
                print(f"  {'':>11}       tracemalloc: run peak {t['run_peak'] / n:6.1f} B/bar, market build peak "
                      f"{t['build_peak'] / n:6.1f} B/bar, result kept {t['result'] / n:5.1f} B/bar")
        if len(sizes) > 1:
            per_bar: dict[int, list[float]] = {n: [] for n in sizes}
            ratios = []
            for r in range(args.rounds):
                order = sizes if r % 2 == 0 else sizes[::-1]
                times = {int(n): t for n, t in child("build", name, *order)["times"].items()}
                for n in sizes:
                    per_bar[n].append(times[n] / n * 1e9)
                ratios.append((times[sizes[-1]] / sizes[-1]) / (times[sizes[0]] / sizes[0]))
            cells = ", ".join(f"{n:,} bars {statistics.median(per_bar[n]):.0f} ns/bar" for n in sizes)
            print(f"  build_market: {cells}; linearity ratio {sizes[-1]:,} / {sizes[0]:,} per bar: "
                  f"median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}; "
                  f"1.0 is linear)")


if __name__ == "__main__":
    main()
