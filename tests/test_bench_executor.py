"""benchmarks/bench_executor.py in a tiny quick run: every engine makes the same trades.

Times are not asserted (a timed test on a shared machine is noise); the trades-equal
check is what keeps the benchmark an honest comparison when an engine changes.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_executor.py"


def test_quick_benchmark_engines_make_the_same_trades(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_executor", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_executor", bench)     # dataclasses look their module up
    spec.loader.exec_module(bench)
    summary = bench.main(["--quick", "--bars", "2000", "--rounds", "1"])
    out = capsys.readouterr().out
    assert summary["trades"] > 10
    assert summary["same_trades"] and all(summary["same_trades"].values()), summary["same_trades"]
    assert summary["final_equity_equal"]
    assert all(len(times) == 1 and times[0] > 0 for times in summary["cpu"].values())
    assert {"simple_vs_floor", "stressed_simple", "stressed_roles"} <= set(summary["verdicts"])
    assert "same trades as the simple form" in out and "target <= 1.8x" in out
    assert "hand loop" not in out.split("targets")[1].split("for information")[0]   # retired (#16)
