"""The stress session: gathers every case's result on the controller, saves, compares, reports.

Results travel as JSON on the test report (``report.stress_result``), which xdist
forwards from its workers, so the table survives a crashed worker and works without
xdist. Only the controller (not an xdist worker) writes files or prints.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from ..result.jsonform import decode_metrics, encode
from ..result.metrics import METRIC_FIELDS
from ..result.models import ScenarioResult
from ..result.paths import PathsResult
from ..result.table import format_table
from .compare import Regression, Threshold, check, parse_threshold
from .options import StressOptions
from .storage import load_results, save_results

__all__ = ["StressSession", "SESSION_KEY", "RESULT_KEY", "summarize"]

SESSION_KEY = pytest.StashKey["StressSession"]()
RESULT_KEY = pytest.StashKey[Any]()


def summarize(result: ScenarioResult | PathsResult, tolerance: dict[str, str] | None = None) -> dict[str, Any]:
    """The summary of one case, in the one JSON form (``result/jsonform.py``), that goes on the
    report, into the table and the baseline. Monte Carlo cases carry medians in ``metrics``."""
    if isinstance(result, PathsResult):
        agg = result.summary()
        out = {"scenario": result.scenario.name, "scenario_type": result.scenario.type.value,
               "seed": result.scenario.seed, "success": result.success, "paths": result.paths,
               "worst_seed": agg["worst_seed"], "metrics": agg["median"], "metrics_p95": agg["p95"]}
    else:
        out = {"scenario": result.scenario_name, "scenario_type": result.scenario_type, "seed": result.seed,
               "success": result.success, "error": result.error,
               "metrics": encode({k: getattr(result, k) for k in METRIC_FIELDS})}
    if tolerance:
        out["tolerance"] = dict(tolerance)
    return out


class StressSession:
    def __init__(self, config: pytest.Config, options: StressOptions) -> None:
        self.config = config
        self.options = options
        self.is_worker = hasattr(config, "workerinput")
        self.results: dict[str, dict[str, Any]] = {}
        self.regressions: list[Regression] = []
        self.compared: int = 0
        self.saved_to: str | None = None
        self.error: str | None = None

    # -- gathering ------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Every report reaches the controller here (xdist replays its workers' reports)."""
        if report.when == "call":
            self.add(report)

    def add(self, report: pytest.TestReport) -> None:
        raw = getattr(report, "stress_result", None)
        if raw is None or self.is_worker:
            return
        summary = json.loads(raw)
        summary["outcome"] = report.outcome
        self.results[report.nodeid] = summary

    # -- end of session -------------------------------------------------------
    def finish(self, session: pytest.Session) -> None:
        if self.is_worker:
            return
        opts = self.options
        if opts.save:
            self.saved_to = str(save_results(opts.save, self.results, opts.as_dict()))
        if opts.compare:
            baseline = load_results(opts.compare)
            for test, now in sorted(self.results.items()):   # same order with or without xdist
                base = baseline.get(test)
                if base is None:
                    continue
                self.compared += 1
                where = f"{opts.compare}: {test}"
                base_metrics = decode_metrics(base.get("metrics", {}), where)
                now_metrics = decode_metrics(now.get("metrics", {}), f"this run: {test}")
                for threshold in self._thresholds(now):
                    reg = check(test, base_metrics, now_metrics, threshold)
                    if reg is not None:
                        self.regressions.append(reg)
            if self.regressions:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _thresholds(self, summary: dict[str, Any]) -> list[Threshold]:
        by_metric = {t.metric: t for t in self.options.compare_fail}
        for metric, value in (summary.get("tolerance") or {}).items():
            by_metric[metric] = parse_threshold(f"{metric}:{value}")
        return list(by_metric.values())

    def report_lines(self) -> list[str]:
        if not self.results:
            return []
        rows = []
        for test, s in self.results.items():
            label = test.split("::", 1)[-1]
            row = {"test": label, "success": s.get("success", True), "error": s.get("error"),
                   "outcome": "FAILED" if s["outcome"] == "failed" else s["outcome"],
                   **decode_metrics(s.get("metrics", {}), test)}
            if s.get("paths"):
                row["test"] = f"{label} ({s['paths']} paths: medians; worst seed {s['worst_seed']})"
            rows.append(row)
        lines = [format_table(rows, label="test", label_header="test", extra=(("outcome", "outcome"),))]
        if self.saved_to:
            lines.append(f"stress results saved to {self.saved_to}")
        if self.options.compare:
            lines.append(f"compared {self.compared} case(s) with {self.options.compare}"
                         + (f"; thresholds: {', '.join(map(str, self.options.compare_fail))}"
                            if self.options.compare_fail else "; no --stress-compare-fail thresholds given"))
        return lines

    def regression_lines(self) -> list[str]:
        lines = []
        by_test: dict[str, list[Regression]] = {}
        for r in self.regressions:
            by_test.setdefault(r.test, []).append(r)
        for test, regs in by_test.items():
            lines.append(test)
            lines.extend(f"    {r.describe()}" for r in regs)
        if lines:
            lines.append("If the change is intended, re-create the baseline with "
                         f"--stress-save={self.options.compare}")
        return lines
