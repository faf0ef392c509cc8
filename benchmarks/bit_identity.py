"""Are the runs the same to the bit? A snapshot of many runs' whole results, to save before a
change that should not change any run (a speed-up, a memory saving, a reorganisation) and
check after it.

    python benchmarks/bit_identity.py save /tmp/before.json [--tree DIR]
    python benchmarks/bit_identity.py check /tmp/before.json [--tree DIR]

Runs every library scenario (1,000 bars) on the three exchange presets with four traders:
the example suite's eight-role system, an SMA cross over precomputed indicators, a trader
that reads ``ctx.history`` on every symbol and the field properties every bar, and an
all-in trader on a 3x isolated perpetual (liquidations). Each run's ``to_dict(curves=True,
records=True)`` (less its wall-clock duration) is hashed; ``check`` names the runs that
differ and exits 1 if any do. ``--tree DIR`` runs the package in DIR (put first on the path),
so a ``git archive`` of another commit can be saved from this checkout. Bit identity holds
for one numpy build and one set of SIMD kernels (``tests/test_plugin.py``'s ``SAME_KERNELS``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "conftest_examples")

_CHILD = r"""
import hashlib, json, math, sys
sys.path.insert(0, {examples!r})
import numpy as np
from pytest_stress import Account, buy, library, sell
from pytest_stress.indicators import sma
from pytest_stress.runner import run_scenario
from trading_system import full_system


class SmaCross:
    def indicators(self, feed):
        c = feed.close[0]
        return {{"fast": sma(c, 10), "slow": sma(c, 30)}}

    def on_bar(self, ctx):
        pos = ctx.position()
        if ctx.value("fast") > ctx.value("slow"):
            if pos == 0:
                return buy(0.5 * ctx.cash / ctx.price) if ctx.price > 0 else None
        elif pos > 0:
            return sell(pos)
        return None


class Reader:
    def on_bar(self, ctx):
        c = ctx.history("close")
        for s in ctx.symbols:
            ctx.history("close", s), ctx.history("spread", s)
        ctx.high, ctx.low, ctx.timestamps
        if len(c) < 20 or not math.isfinite(ctx.price):
            return None
        m = np.nanmean(c[-20:])
        if ctx.price > m * 1.001 and ctx.position() <= 0 and not ctx.open_orders:
            return buy(0.2 * ctx.equity / ctx.price)
        if ctx.price < m * 0.999 and ctx.position() > 0:
            return sell(ctx.position())
        return None


class AllIn:
    def on_bar(self, ctx):
        if ctx.position() == 0 and not ctx.open_orders and math.isfinite(ctx.price) and ctx.equity > 0:
            return buy(3 * ctx.equity / ctx.price)
        return None


traders = (("system", full_system, None), ("sma", SmaCross, None), ("reader", Reader, None),
           ("all-in 3x", AllIn, Account.perpetual(leverage=3)))
out = {{}}
for sc in library.all():
    sc = sc.replace(bars=1000)
    for exchange in ("frictionless", "calm", "stressed"):
        for name, make, account in traders:
            key = f"{{sc.name}} | {{exchange}} | {{name}}"
            try:
                d = run_scenario(sc, make(), exchange, account=account).to_dict(curves=True, records=True)
            except Exception as exc:   # an error is a result too: it must not change either
                out[key] = f"error: {{type(exc).__name__}}: {{exc}}"
                continue
            d.pop("duration_s", None)
            out[key] = hashlib.sha256(json.dumps(d, sort_keys=True, default=repr).encode()).hexdigest()
print(json.dumps(out))
"""


def snapshot(tree: str | None) -> dict[str, str]:
    """Hash of every run's result, computed in a child process (the package from ``tree`` if given)."""
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.abspath(tree), env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-P", "-c", _CHILD.format(examples=EXAMPLES)], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"the runs failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["save", "check"])
    ap.add_argument("file")
    ap.add_argument("--tree", help="run the package in this directory instead of the installed one")
    args = ap.parse_args()
    now = snapshot(args.tree)
    if args.mode == "save":
        with open(args.file, "w") as f:
            json.dump(now, f, indent=1)
        print(f"{len(now)} runs saved to {args.file}")
        return
    with open(args.file) as f:
        before = json.load(f)
    differ = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    print(f"{len(now)} runs, {len(differ)} differ from {args.file}" + "".join(f"\n  {k}" for k in differ))
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
