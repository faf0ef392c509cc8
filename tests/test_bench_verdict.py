"""benchmarks/bench_verdict.py's statistical part in a tiny quick run: the error-bound table and the
mean-paths target are printed with PASS/MISS. No timing (a timed test on a shared machine is noise)."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_verdict.py"


def test_quick_statistics_print_the_table_and_verdicts(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_verdict", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_verdict", bench)
    spec.loader.exec_module(bench)
    summary = bench.main(["--cases", "200", "--skip-timing", "--seed", "3"])
    out = capsys.readouterr().out
    assert "(a) error bounds" in out and "(b) mean paths" in out and "(c)" not in out
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\.\d%\s+\d", line)]
    assert len(rows) == len(bench.RATES), out
    assert sum("false FAIL <=" in r for r in rows) == 3 and sum("false PASS <=" in r for r in rows) == 4
    assert sum("either" in r for r in rows) == 1
    # the exact bounds hold (the rule is calibrated on them); 200 cases are within 3 se of them
    assert set(summary["bounds"]) == {0.0, 0.005, 0.01, 0.10, 0.20, 0.30, 0.50}
    assert all(summary["bounds"].values()), out
    assert sum(r.rstrip().split()[-3] == "PASS" for r in rows) == 7
    assert "fixed-size test with the same bounds runs 61 paths" in out
    assert re.search(r"at most half the fixed sample .*: (PASS|MISS)", out)
    assert summary["half"] is True
