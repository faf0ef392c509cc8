"""The verdict of a stress test over a scenario's paths (``runner.run_verdict``): PASS or FAIL,
how many paths ran and failed, the failure rate's interval, the failing paths' seeds, and the
paths' figures (a ``PathsResult`` of the paths that ran: medians, worst path, fan).

The decision itself is ``verdict.VerdictRule``'s; this module only holds and describes it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..verdict import FAIL, PASS, VerdictRule, rate_interval
from .breaking import short_note
from .jsonform import encode
from .metrics import HIGHER, LOWER, METRIC_FIELDS, worse_direction
from .paths import PathsResult

__all__ = ["VerdictResult", "PathFailure", "SINGLE_SEED_NOTE", "REPLAY_NOTE", "case_note", "seed_fragility",
           "FRAGILE_FLIP"]

#: A verdict is seed-fragile when, at its observed failure rate, other paths would reach the other
#: verdict at least this often (or when it was decided at the cap).
FRAGILE_FLIP = 0.2

#: What a single-seed case's summary says of its verdict.
SINGLE_SEED_NOTE = "single seed: one draw of the scenario, not a verdict about it"
#: What a replay's verdict or Monte Carlo says of its paths: a ``historical_replay`` has no
#: stress draws, so path i differs from path 0 only by the venue's and the faults' seed.
REPLAY_NOTE = "a replay: one market path; its paths vary only the venue's and the faults' draws, not the prices"


def case_note(s: Mapping[str, Any]) -> str:
    """What a case's figures are, from its JSON summary, for tables and reports: a verdict's
    outcome and paths (its figures are medians), a Monte Carlo's paths, or a single seed's one
    draw ("" for a summary that says none of these, such as one saved before verdicts)."""
    if s.get("breaking_point"):
        return short_note(s["breaking_point"])
    replay = f" ({REPLAY_NOTE})" if s.get("scenario_type") == "historical_replay" else ""
    if s.get("paths_run"):
        lo, hi = s.get("failure_interval") or (math.nan, math.nan)
        return (f"{str(s.get('verdict', '')).upper()}: failed on {s.get('path_failures')} of {s['paths_run']} paths, "
                f"CI {float(lo):.0%}-{float(hi):.0%}; medians{replay}")
    if s.get("verdict") == "property":
        return f"property test: {s.get('runs')} run(s)"
    if s.get("paths"):
        return f"{s['paths']} paths: medians; worst seed {s.get('worst_seed')}{replay}"
    if s.get("verdict") == "seed":
        return f"single seed {s.get('seed')}: one draw"
    return ""


def seed_fragility(s: Mapping[str, Any]) -> str | None:
    """Why a verdict case's verdict is seed-fragile (decided near the tolerance), from its JSON
    summary; None when it is not, or the case is not a verdict. Fragile: decided at the cap of
    ``max_paths`` (neither boundary reached), or, were the true failure rate the observed one, the
    rule would reach the other verdict on another set of paths with probability at least
    ``FRAGILE_FLIP`` (``VerdictRule.operating``, exact)."""
    if not s.get("paths_run") or s.get("verdict") not in (PASS, FAIL):
        return None
    rule = VerdictRule(**{k: v for k, v in (s.get("rule") or {}).items() if k in ("pass_rate", "fail_rate",
                                                                                    "confidence", "max_paths")})
    runs, fails = int(s["paths_run"]), int(s.get("path_failures") or 0)
    if s.get("at_cap"):
        return (f"decided at the cap of {rule.max_paths} paths by the likelihood ratio ({fails} of {runs} failed, "
                f"between the pass rate {rule.pass_rate:.3g} and the fail rate {rule.fail_rate:.3g})")
    rate = fails / runs
    op = rule.operating(rate)
    other = op.fail_prob if s["verdict"] == PASS else op.pass_prob
    if other < FRAGILE_FLIP:
        return None
    lo, hi = s.get("failure_interval") or (math.nan, math.nan)
    return (f"{s['verdict'].upper()} with {fails} of {runs} paths failing ({rate:.1%}, CI {float(lo):.1%}-"
            f"{float(hi):.1%}; pass rate {rule.pass_rate:.3g}, fail rate {rule.fail_rate:.3g}): "
            f"at that rate other paths would {'FAIL' if s['verdict'] == PASS else 'PASS'} it "
            f"{other:.0%} of the time")


@dataclass(frozen=True)
class PathFailure:
    """A path on which the test's assertion failed: its index, its seed (``--stress-verdict=seed
    --stress-seed=SEED`` reruns it alone) and the assertion's message."""

    path: int
    seed: int
    message: str


class VerdictResult:
    """The test's verdict about one scenario, decided over ``paths`` of its paths."""

    def __init__(self, rule: VerdictRule, verdict: str, failing: list[PathFailure], paths: PathsResult) -> None:
        if verdict not in (PASS, FAIL):
            raise ValueError(f"verdict = {verdict!r}; expected {PASS!r} or {FAIL!r}")
        self.rule = rule
        self.verdict = verdict
        self.failing = list(failing)
        self.path_results = paths

    @property
    def scenario(self) -> Any:
        return self.path_results.scenario

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    @property
    def paths(self) -> int:
        """How many paths ran before the verdict was decided."""
        return self.path_results.paths

    @property
    def failures(self) -> int:
        """On how many of them the assertion failed."""
        return len(self.failing)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.paths

    @property
    def interval(self) -> tuple[float, float]:
        """The failure rate's Clopper-Pearson interval at the rule's confidence."""
        return rate_interval(self.failures, self.paths, self.rule.confidence)

    @property
    def at_cap(self) -> bool:
        """Decided at ``max_paths`` by the likelihood ratio, neither boundary reached."""
        return self.rule.decided_at_cap(self.failures, self.paths)

    @property
    def worst_failure(self) -> PathFailure | None:
        """The failing path with the deepest drawdown (the first of equals), None if none failed."""
        if not self.failing:
            return None
        dd = self.path_results.values("max_drawdown")
        return max(self.failing, key=lambda f: (np.nan_to_num(dd[f.path], nan=-math.inf), -f.path))

    def headline(self) -> str:
        """``PASS: the assertion failed on 0 of 31 paths (0.0%, 95% CI 0.0-11.2%)``."""
        lo, hi = self.interval
        cap = f"; undecided at the cap of {self.rule.max_paths} paths, decided by the likelihood ratio" \
            if self.at_cap else ""
        replay = f"; {REPLAY_NOTE}" if self.scenario.type == "historical_replay" else ""
        return (f"{self.verdict.upper()}: the assertion failed on {self.failures} of {self.paths} paths "
                f"({self.failure_rate:.1%}, {self.rule.confidence:.0%} CI {lo:.1%}-{hi:.1%}){cap}{replay}")

    def summary(self) -> dict[str, Any]:
        """The verdict's keys of a case's JSON summary (``plugin.session.summarize``): the verdict,
        paths run and failed, the interval, the rule, the failing paths; and the paths' figures:
        ``metrics`` (medians), ``metrics_worst`` (each metric's worst value over the paths),
        ``path_values`` (each metric per path, in path order, to 7 significant digits) and
        ``worst_seed``."""
        table = self.path_results.table
        agg = self.path_results.summary()
        worst: dict[str, float] = {}
        for j, m in enumerate(METRIC_FIELDS):
            way = worse_direction(m)
            if way not in (HIGHER, LOWER):
                continue
            col = table.values[:, j]
            col = col[~np.isnan(col)]
            worst[m] = float(np.max(col) if way == HIGHER else np.min(col)) if len(col) else math.nan
        values: dict[str, list[Any]] = {}
        for j, m in enumerate(METRIC_FIELDS):
            col = table.values[:, j]
            # 7 significant digits: what a comparison of paths needs, half the digits of a full repr
            values[m] = [None if table.none[i, j] else float(f"{col[i]:.7g}") for i in range(len(col))]
        lo, hi = self.interval
        first = self.failing[0] if self.failing else None
        worst_fail = self.worst_failure
        return encode({
            "verdict": self.verdict, "paths_run": self.paths, "path_failures": self.failures,
            "failure_rate": self.failure_rate, "failure_interval": [lo, hi], "at_cap": self.at_cap,
            "rule": self.rule.as_dict(),
            "first_failure": None if first is None else {"path": first.path, "seed": first.seed,
                                                         "message": first.message},
            "worst_failing_seed": None if worst_fail is None else worst_fail.seed,
            "failing_seeds": [f.seed for f in self.failing],
            "worst_seed": agg["worst_seed"], "metrics": agg["median"], "metrics_worst": worst,
            "path_values": values})

    def __repr__(self) -> str:
        return f"VerdictResult({self.scenario.name!r}, {self.headline()})"
