"""Instructions per bar of the executor's cases, counted by valgrind: figures a noisy machine cannot move.

Run: python benchmarks/bench_instructions.py [--bars 20000] [--cases simple roles ...] [--tree DIR]
     [--jobs 2]

On a shared 2-core machine the CPU-time ratios of ``bench_executor.py`` and ``bench_overhead.py``
spread by 20-60% between rounds (other processes, frequency, steal). Instructions retired do
not: ``valgrind --tool=cachegrind`` counts them, the same total for the same interpreter,
inputs and code whatever else the machine is doing (within a fraction of a percent: the hash
seed is fixed, ``PYTHONHASHSEED=0``, and BLAS has one thread, whose idle spinning would count).
An instruction is not a nanosecond (a cache miss costs
more than an add), so these are a complement to the timed benchmarks, not a replacement: use
them to compare two trees, or one case with another, on the same interpreter.

Each case runs in a child process under cachegrind twice, once with one run and once with three
runs of the case after building the market; (three - one) / 2 / bars is the count per bar of one
run, imports, the market build and the warm-up cancelled out. Cases (the engines and traders
of ``bench_executor.py`` and ``bench_overhead.py``, frictionless, on ``--bars`` bars):

- hand, floor: the hand loop over the same SMAs, and ``SmaTrader.on_bar`` in a plain loop (the API floor);
- simple, roles: the simple form and the eight roles (SMA crossover, as in ``bench_executor.py``);
- quiet, rquiet: do-nothing simple trader and eight roles (the framework's cost per bar);
- flip, rflip: an order every bar (per order: flip - quiet, rflip - rquiet);
- plain1, plain3: plain Python loops making 1 and 3 do-nothing calls a bar (``bench_overhead.plain``);
- history: ``ctx.history("close")`` on every bar (per call: history - quiet).

``--tree DIR`` measures the package in DIR (put first on ``PYTHONPATH``; the benchmark's own
traders come from this checkout), to set two trees side by side.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = ("hand", "floor", "simple", "roles", "quiet", "rquiet", "flip", "rflip", "plain1", "plain3", "history")

_CHILD = r"""
import sys
sys.path.insert(0, {here!r})
from bench_executor import SmaTrader, api_floor, eight_roles, hand_loop
from bench_overhead import Flip, FlipModel, History, Quiet, QuietModel, plain, roles
from pytest_stress import Scenario
from pytest_stress.runner import run_scenario

case, runs, bars = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sc = Scenario("bench", bars=bars, seed=42)
views = sc.build_market()
o, c = views.true.open[0], views.true.close[0]
traders = {{"simple": SmaTrader, "roles": eight_roles, "quiet": Quiet, "flip": Flip, "history": History,
            "rquiet": lambda: roles(QuietModel), "rflip": lambda: roles(FlipModel)}}
for _ in range(runs):
    if case == "hand":
        hand_loop(o, c, sc.initial_equity)
    elif case == "floor":
        api_floor(o, c, sc.initial_equity)
    elif case.startswith("plain"):
        plain(int(case[5:]), bars)
    else:
        run_scenario(sc, traders[case](), "frictionless", market=views)
"""


def instructions(case: str, runs: int, bars: int, env: dict[str, str]) -> int:
    """Instructions of a child process running ``case`` ``runs`` times on ``bars`` bars."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, "-P", "-c", _CHILD.format(here=HERE), case, str(runs), str(bars)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"{case}: valgrind or the child failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_bar(case: str, bars: int, env: dict[str, str]) -> float:
    return (instructions(case, 3, bars, env) - instructions(case, 1, bars, env)) / 2 / bars


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bars", type=int, default=20_000)
    ap.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    ap.add_argument("--tree", help="measure the package in this tree instead of the installed one")
    ap.add_argument("--jobs", type=int, default=2, help="cases counted at once (each is one process)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    # one BLAS thread: an idle OpenBLAS worker spins, and its spinning would be counted
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if args.tree:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.abspath(args.tree), env.get("PYTHONPATH", "")]))
    with ThreadPoolExecutor(args.jobs) as pool:
        got = dict(zip(args.cases, pool.map(lambda c: per_bar(c, args.bars, env), args.cases)))
    print(f"instructions per bar, {args.bars:,} bars, frictionless (cachegrind; "
          f"package: {args.tree or 'installed'}):")
    for case, value in got.items():
        print(f"  {case:<8} {value:10,.0f}")

    def have(*names: str) -> bool:
        return all(n in got for n in names)

    if have("simple", "hand"):
        print(f"simple form / hand loop {got['simple'] / got['hand']:.2f}x (for information: #16's time target "
              "'within 2x of a hand loop' is retired for the factor over the API floor)")
    if have("floor", "hand"):
        print(f"API floor / hand loop {got['floor'] / got['hand']:.2f}x: the user code's own cost through this API")
    if have("simple", "floor"):
        print(f"simple form / API floor {got['simple'] / got['floor']:.2f}x: the framework's factor "
              "(time target <= 1.8x, bench_executor.py)")
    if have("roles", "simple"):
        print(f"eight roles / simple form {got['roles'] / got['simple']:.2f}x")
    if have("quiet", "rquiet", "plain1", "plain3"):
        simple, eight = got["quiet"] - got["plain1"], got["rquiet"] - got["plain3"]
        print(f"framework overhead per bar: simple {simple:,.0f}, eight roles {eight:,.0f} instructions "
              f"({eight / simple:.2f}x; time target <= 1.5x)")
    if have("history", "quiet"):
        print(f"ctx.history('close') per call: {got['history'] - got['quiet']:,.0f} instructions")
    if have("flip", "quiet"):
        print(f"per order: simple {got['flip'] - got['quiet']:,.0f} instructions", end="")
        print(f", eight roles {got['rflip'] - got['rquiet']:,.0f}" if have("rflip", "rquiet") else "", end="")
        print(" (for information; #16's halving target is retired)")


if __name__ == "__main__":
    main()
