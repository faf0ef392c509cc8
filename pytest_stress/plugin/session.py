"""The stress session: gathers every case's result on the controller, saves, compares, reports.

Results travel as JSON on the test report (``report.stress_result``), which xdist
forwards from its workers, so the table survives a crashed worker and works without
xdist. Only the controller (not an xdist worker) writes files or prints.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import StressError

if TYPE_CHECKING:   # the results' modules import numpy: loaded when a case has finished, not at start-up
    from ..result.models import ScenarioResult
    from ..result.verdicts import VerdictResult
    from ..result.paths import PathsResult
    from .compare import Regression, Threshold
    from .options import StressOptions

__all__ = ["StressSession", "SESSION_KEY", "RESULT_KEY", "VERDICT_KEY", "summarize", "REGRESSED", "case_label"]

#: The key under which regressed cases are counted in pytest's closing line ("26 passed, 2 regressed
#: (--stress-compare-fail)"), so that a session failed by the comparison alone says so.
REGRESSED = "regressed (--stress-compare-fail)"

SESSION_KEY = pytest.StashKey["StressSession"]()
RESULT_KEY = pytest.StashKey[Any]()
#: A case decided over its scenario's paths: its plan (``fixtures.VerdictPlan``), set by the fixture.
VERDICT_KEY = pytest.StashKey[Any]()


def summarize(result: ScenarioResult | PathsResult | VerdictResult, tolerance: dict[str, str] | None = None, *,
              detail: bool = False) -> dict[str, Any]:
    """The summary of one case, in the one JSON form (``result/jsonform.py``), that goes on the
    report, into the table and the baseline. Monte Carlo and verdict cases carry medians in ``metrics``.
    ``detail``: also the run's curves and trades (``ScenarioResult.to_dict(curves=True,
    records=True)``; for Monte Carlo the worst path's, plus ``fan``, the percentile bands of
    equity), for ``--stress-save-detail``."""
    from ..result.jsonform import encode   # lazy: numpy, once a case has a result
    from ..result.metrics import METRIC_FIELDS   # lazy: as above
    from ..result.paths import PathsResult   # lazy: as above
    from ..result.verdicts import SINGLE_SEED_NOTE, VerdictResult   # lazy: as above

    from ..result.breaking import BreakingCase, short_note   # lazy: as above

    if isinstance(result, BreakingCase):
        run, bp = result.result, result.breaking_point.summary()
        out = {"scenario": result.breaking_point.base, "scenario_type": run.scenario_type, "seed": run.seed,
               "success": run.success, "error": run.error, "verdict": "breaking_point", "breaking_point": bp,
               "note": short_note(bp) + "; figures: one path where it held",
               "metrics": encode({k: getattr(run, k) for k in METRIC_FIELDS})}
        result = run
    elif isinstance(result, VerdictResult):
        out = {"scenario": result.scenario.name, "scenario_type": result.scenario.type.value,
               "seed": result.scenario.seed, "success": True, **result.summary()}
        result = result.path_results     # its detail: the worst path's run and the fan, as a Monte Carlo case's
    elif isinstance(result, PathsResult):
        agg = result.summary()
        out = {"scenario": result.scenario.name, "scenario_type": result.scenario.type.value,
               "seed": result.scenario.seed, "success": result.success, "paths": result.paths,
               "worst_seed": agg["worst_seed"], "metrics": agg["median"], "metrics_p95": agg["p95"]}
        if not result.success:   # the table's FAILED cell says why
            first = result.failures[0]
            out["error"] = (f"{len(result.failures)} of {result.paths} paths failed; path {first.path}: "
                            + (str(first.error or "").splitlines() or [""])[0])
    else:
        out = {"scenario": result.scenario_name, "scenario_type": result.scenario_type, "seed": result.seed,
               "success": result.success, "error": result.error, "verdict": "seed", "note": SINGLE_SEED_NOTE,
               "metrics": encode({k: getattr(result, k) for k in METRIC_FIELDS})}
    if tolerance:
        out["tolerance"] = dict(tolerance)
    if detail and isinstance(result, PathsResult):   # the worst path's run (rerun from its seed) and the fan
        out["successful"] = result.successful
        out["detail"] = [result.worst("max_drawdown").to_dict(curves=True, records=True)] if result.successful else []
        out["fan"] = result.fan()
    elif detail:
        out["detail"] = [result.to_dict(curves=True, records=True)]
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
        self.saved: int = 0
        self.unsaved: list[str] = []                 # cases with no result to save (timed out)
        self.not_in_baseline: list[str] = []
        self.not_compared: list[str] = []            # in the baseline, but no result now
        self.other_options: dict[tuple, list[str]] = {}   # differences -> cases made under other options
        self.breaking_notes: list[str] = []          # breaking points not compared, or moved without a gate
        #: each compared case against its baseline entry (``result.differences.case_comparison``)
        self.comparisons: dict[str, dict[str, Any]] = {}
        self._baseline: dict[str, dict[str, Any]] | None = None   # read once, for each case as it arrives
        self.error: str | None = None

    # -- gathering ------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)   # before pytest-html's: its row reads the case's comparison
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Every report reaches the controller here (xdist replays its workers' reports)."""
        if report.when == "call" or (report.when == "setup" and report.failed):
            self.add(report)

    def add(self, report: pytest.TestReport) -> None:
        raw = getattr(report, "stress_result", None)
        if raw is None or self.is_worker:
            return
        summary = json.loads(raw)
        if hasattr(report, "wasxfail"):   # an expected failure: say so, not "skipped"
            summary["outcome"] = "xpassed" if report.passed else "xfailed"
        else:
            summary["outcome"] = "error" if report.when != "call" and report.failed else report.outcome
        self.results[report.nodeid] = summary
        if self.options.compare:   # what pytest-html's row shows; the session's own check is finish's
            comparison = self._early_comparison(report.nodeid, summary)
            if comparison is not None:
                report.stress_comparison = json.dumps(comparison)   # type: ignore[attr-defined]

    def _early_comparison(self, test: str, now: dict[str, Any]) -> dict[str, Any] | None:
        """This case against the baseline as its report arrives (the same check as ``finish``'s), or
        None where ``finish`` would not compare it (or the baseline cannot be read: ``finish`` says why)."""
        if self._baseline is None:
            from .storage import load_results   # lazy: the JSON form (numpy), only to compare

            try:
                self._baseline = load_results(str(self.options.compare))
            except StressError:
                self._baseline = {}
        base = self._baseline.get(test)
        if (base is None or not now.get("metrics") or now.get("verdict") == "property" or now.get("breaking_point")
                or base.get("breaking_point")):
            return None
        here = {k: v for k, v in self.options.as_dict().items() if k != "scenarios"}
        if self.options.compare_strict and _differences(base.get("options", {}), here):
            return None
        try:
            return self._check_case(test, base, now)[1]
        except StressError:
            return None

    # -- end of session -------------------------------------------------------
    def finish(self, session: pytest.Session) -> None:
        """Save, then compare; a problem with either (a ``StressError``) is raised after both were tried."""
        opts = self.options
        if self.is_worker or not (opts.save or opts.compare):
            return
        from .storage import load_results, save_results   # lazy: the JSON form (numpy), only to save or compare

        problems: list[str] = []
        if opts.save:
            # property tests: their figures are hypothesis's draws, not a seed's (plugin/properties.py)
            done = {t: s for t, s in self.results.items() if s.get("metrics") and s.get("verdict") != "property"}
            self.unsaved = sorted(t for t, s in self.results.items()
                                  if t not in done and s.get("verdict") != "property")
            try:
                self.saved_to = str(save_results(opts.save, done, opts.as_dict(), fresh=opts.save_fresh))
                self.saved = len(done)
            except StressError as exc:
                problems.append(str(exc))
        if opts.compare:
            try:
                self._compare(load_results(opts.compare))
            except StressError as exc:
                problems.append(str(exc))
            if self.regressions:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            if self.other_options and opts.compare_strict:
                problems.append(f"--stress-compare-strict: {opts.compare} was made under other options than this "
                                "run for " + "; ".join(f"{len(tests)} case(s) ({_differences_text(diff)})"
                                                       for diff, tests in self.other_options.items())
                                + ". Those cases were not compared; re-save the baseline under these options or run "
                                  "with the baseline's.")
        if problems:
            raise StressError("\n".join(problems))

    def _compare(self, baseline: dict[str, dict[str, Any]]) -> None:
        opts = self.options
        here = {k: v for k, v in opts.as_dict().items() if k != "scenarios"}
        for test, now in sorted(self.results.items()):   # same order with or without xdist
            if now.get("verdict") == "property":   # hypothesis's draws: nothing to compare with a seed's
                continue
            base = baseline.get(test)
            if base is None:
                self.not_in_baseline.append(test)
                continue
            if not now.get("metrics"):
                self.not_compared.append(test)
                continue
            diff = _differences(base.get("options", {}), here)
            if diff:
                self.other_options.setdefault(diff, []).append(test)
                if opts.compare_strict:
                    continue
            self.compared += 1
            if now.get("breaking_point") or base.get("breaking_point"):
                before = len(self.regressions)
                status = self._compare_breaking(test, base.get("breaking_point"), now.get("breaking_point"))
                regs = [r.describe() for r in self.regressions[before:]]
                self.comparisons[test] = {"status": status, "changes": [], "regressions": regs, "key": {}}
                continue
            regressions, self.comparisons[test] = self._check_case(test, base, now)
            self.regressions.extend(regressions)

    def _check_case(self, test: str, base: dict[str, Any], now: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """One case's regressions under the thresholds, and its comparison (what moved)."""
        from ..result.differences import case_comparison   # lazy: only when comparing
        from ..result.jsonform import decode_metrics   # lazy: numpy, only when comparing
        from .compare import check, check_judgeable, decode_path_values   # lazy: the metric table, only when comparing

        where = f"{self.options.compare}: {test}"
        base_metrics = decode_metrics(base.get("metrics", {}), where)
        now_metrics = decode_metrics(now.get("metrics", {}), f"this run: {test}")
        # each path's values, where both sides have them: the change is judged against their noise
        base_paths = decode_path_values(base.get("path_values"), where)
        now_paths = decode_path_values(now.get("path_values"), f"this run: {test}")
        thresholds = self._thresholds(now)
        regressions = []
        for threshold in thresholds:
            check_judgeable(f"--stress-compare: {self.options.compare!r}, entry {test!r}", base_metrics, now_metrics,
                            threshold)
            reg = check(test, base_metrics, now_metrics, threshold, baseline_paths=base_paths, now_paths=now_paths)
            if reg is not None:
                regressions.append(reg)
        return regressions, case_comparison(base_metrics, now_metrics, [r.describe() for r in regressions],
                                            [t.metric for t in thresholds])

    def _compare_breaking(self, test: str, base: dict[str, Any] | None, now: dict[str, Any] | None) -> str:
        """A breaking-point case: its answer against the baseline's (``compare_breaking``), never its
        one path's metrics. A move is a regression under ``--stress-compare-fail`` (any threshold:
        each end of a bracket is already a verdict), a warning otherwise. Returns the comparison's
        status: "regressed", "changed", "not comparable" or "unchanged"."""
        from .compare_breaking import check_breaking, comparable   # lazy: only when comparing

        if base is None or now is None:
            self.breaking_notes.append(f"{test}: a breaking point on one side only (not compared)")
            return "not comparable"
        why = comparable(base, now)
        if why is not None:
            self.breaking_notes.append(f"{test}: breaking points not comparable ({why})")
            return "not comparable"
        move = check_breaking(test, base, now)
        if move is None:
            return "unchanged"
        if self.options.compare_fail:
            self.regressions.append(move)     # type: ignore[arg-type]   # describes itself as a Regression does
            return "regressed"
        self.breaking_notes.append(f"{test}: {move.describe()} (fails the session with --stress-compare-fail)")
        return "changed"

    def _thresholds(self, summary: dict[str, Any]) -> list[Threshold]:
        from .compare import parse_threshold   # lazy: the metric table, only when comparing

        by_metric = {t.metric: t for t in self.options.compare_fail}
        for metric, value in (summary.get("tolerance") or {}).items():
            by_metric[metric] = parse_threshold(f"{metric}:{value}")
        return list(by_metric.values())

    def report_lines(self) -> list[str]:
        if not self.results:
            return []
        from ..result.jsonform import decode_metrics   # lazy: numpy, only when there are results
        from ..result.table import format_table   # lazy: the metric table, as above

        rows = []
        for test, s in self.results.items():
            label = test.split("::", 1)[-1]
            row = {"test": label, "success": s.get("success", True), "error": s.get("error"),
                   "outcome": {"failed": "FAILED", "error": "ERROR"}.get(s["outcome"], s["outcome"]),
                   **decode_metrics(s.get("metrics", {}), test)}
            row["test"] = case_label(label, s)
            rows.append(row)
        lines = [format_table(rows, label="test", label_header="test", extra=(("outcome", "outcome"),))]
        if self.saved_to:
            lines.append(f"stress results saved to {self.saved_to} ({self.saved} case(s) "
                         + ("written afresh" if self.options.save_fresh else "merged into what it held")
                         + (", with curves and trades" if self.options.save_detail else "") + ")")
        if self.unsaved:
            lines.append(f"not saved (no result): {', '.join(self.unsaved)}")
        if self.options.compare:
            moved = sum(c["status"] in ("regressed", "changed") for c in self.comparisons.values())
            lines.append(f"compared {self.compared} case(s) with {self.options.compare}"
                         + (f"; thresholds: {', '.join(map(str, self.options.compare_fail))}"
                            if self.options.compare_fail else "; no --stress-compare-fail thresholds given"))
            lines.append(f"{moved} compared case(s) moved against the baseline (listed under 'stress differences')"
                         if moved else "no metric of a compared case moved against the baseline")
        return lines

    def difference_lines(self, limit: int = 4) -> list[str]:
        """Each compared case whose metrics moved, with what moved (threshold or not): baseline ->
        now, change and relative change, its most-read metrics first."""
        if not self.comparisons:
            return []
        from ..result.differences import describe_change   # lazy: only when comparing

        lines = []
        for test, c in sorted(self.comparisons.items()):
            if not c["changes"]:
                continue
            shown = "; ".join(describe_change(x) for x in c["changes"][:limit])
            more = f"; {len(c['changes']) - limit} more" if len(c["changes"]) > limit else ""
            lines.append(f"{test}{' [REGRESSED]' if c['regressions'] else ''}: {shown}{more}")
        return lines

    def warning_lines(self) -> list[str]:
        """What the comparison could not vouch for: cases made under other options, cases missing
        from the baseline, cases with no result."""
        lines = []
        for diff, tests in self.other_options.items():
            lines.append(f"{len(tests)} case(s) of {self.options.compare} were saved under other options than this "
                         f"run's: {_differences_text(diff)}"
                         + ("; not compared (--stress-compare-strict):" if self.options.compare_strict else
                            "; compared anyway (--stress-compare-strict makes this an error):"))
            lines.extend(f"    {t}" for t in tests)
        if self.not_in_baseline:
            lines.append(f"{len(self.not_in_baseline)} case(s) not in {self.options.compare} (not compared; add them "
                         f"with --stress-save={self.options.compare}):")
            lines.extend(f"    {t}" for t in self.not_in_baseline)
        if self.not_compared:
            lines.append(f"{len(self.not_compared)} case(s) have no result to compare (timed out):")
            lines.extend(f"    {t}" for t in self.not_compared)
        lines.extend(self.breaking_notes)
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
            lines.append("If the change is intended, re-save these cases into the baseline with "
                         f"--stress-save={self.options.compare} (saving merges: the cases run replace their "
                         "entries, the others stay)")
        return lines

    def regressed_tests(self) -> list[str]:
        return sorted({r.test for r in self.regressions})


def case_label(label: str, s: dict[str, Any]) -> str:
    """A case's name in the summary table, with what its figures are (``result.verdicts.case_note``)."""
    from ..result.verdicts import case_note   # lazy: loaded with the results already

    note = case_note(s)
    return f"{label} ({note})" if note else label


def _differences(base: dict[str, Any], here: dict[str, Any]) -> tuple:
    """The options set on both sides that differ, as ``((name, baseline's, this run's), ...)``.
    An option one side does not record (a file from before it existed) is not compared."""
    def text(v: Any) -> str:
        return json.dumps(v, sort_keys=True)
    return tuple((k, text(base[k]), text(here[k])) for k in sorted(set(base) & set(here))
                 if text(base[k]) != text(here[k]))


def _differences_text(diff: tuple) -> str:
    return ", ".join(f"{name} {old} in the baseline, {new} now" for name, old, new in diff)
