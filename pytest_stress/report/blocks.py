"""The report's per-case blocks beside the charts, as HTML text from a case's JSON summary: a
verdict's account (paths run and failed, the interval, the rule, the worst failing path's seed and
its rerun line, the distribution of the asserted metrics over the paths), the comparison with the
baseline, and the case's notes (positions the trader did not ask for, a property test's example).
Also the page's baseline table and its list of seed-fragile verdicts.
"""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..result.differences import KEY_METRICS, describe_change
from ..result.metrics import metric
from ..result.verdicts import seed_fragility

__all__ = ["verdict_block", "comparison_block", "notes_block", "baseline_table", "fragile_list", "status_cell"]


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def verdict_block(s: Mapping[str, Any], anchor: str) -> str:
    """A verdict case's account (module docstring); "" for other cases."""
    if not s.get("paths_run"):
        return ""
    runs, fails = int(s["paths_run"]), int(s.get("path_failures") or 0)
    lo, hi = (float(v) for v in (s.get("failure_interval") or (math.nan, math.nan)))
    rule = s.get("rule") or {}
    verdict = str(s.get("verdict", "")).upper()
    cap = "; decided at the cap by the likelihood ratio" if s.get("at_cap") else ""
    out = [f'<p class="verdict"><b class="{"fail" if verdict == "FAIL" else "pass"}">{_e(verdict)}</b>: the assertion '
           f"failed on <b>{fails}</b> of <b>{runs}</b> paths ({fails / runs:.1%}; "
           f"{float(rule.get('confidence', 0.95)):.0%} CI {lo:.1%}-{hi:.1%}){_e(cap)}; rule: pass at a failure rate "
           f"of {float(rule.get('pass_rate', 0.01)):.3g} or less, fail at {float(rule.get('fail_rate', 0.1)):.3g} "
           f"or more, at most {rule.get('max_paths', '?')} paths</p>"]
    fragile = seed_fragility(s)
    if fragile:
        out.append(f'<p class="verdict fragile">seed-fragile: {_e(fragile)}</p>')
    first = s.get("first_failure")
    if first:
        message = str(first.get("message") or "").splitlines()
        out.append(f'<p class="verdict">first failure: path {_e(first.get("path"))} (seed {_e(first.get("seed"))}): '
                   f"<code>{_e(message[0][:300] if message else '')}</code></p>")
    if s.get("worst_failing_seed") is not None:
        rerun = s.get("worst_failing_rerun")
        out.append(f'<p class="verdict">worst failing path: seed <b class="worst-seed">{_e(s["worst_failing_seed"])}'
                   "</b>" + (f'; rerun it alone: <code class="rerun">{_e(rerun)}</code>' if rerun else "") + "</p>")
    dist = _distribution(s, anchor)
    if dist:
        out.append(dist)
    return "".join(out)


def _failing_paths(s: Mapping[str, Any]) -> set[int]:
    """Indices of the failing paths, from their seeds (path i's seed is ``derive_seed(seed, i)``)."""
    from ..scenario.definition import derive_seed   # lazy: only for a verdict with failures

    seeds = set(s.get("failing_seeds") or [])
    if not seeds:
        return set()
    return {i for i in range(int(s["paths_run"])) if derive_seed(int(s["seed"]), i) in seeds}


def _distribution(s: Mapping[str, Any], anchor: str) -> str:
    """The asserted metrics' values over the paths: a histogram each, failing paths in red."""
    values = s.get("path_values") or {}
    names = [m for m in (s.get("asserted") or []) if m in values]
    if not names:
        return ""
    from .charts import distribution_svg   # lazy: matplotlib, only for a verdict case

    failing = _failing_paths(s)
    series: dict[str, tuple[list[float], list[float]]] = {}
    for name in names:
        ok: list[float] = []
        bad: list[float] = []
        for i, v in enumerate(values[name]):
            if isinstance(v, (int, float)) and math.isfinite(v):
                (bad if i in failing else ok).append(float(v))
        if len(set(ok + bad)) > 1 and len(series) < 4:   # one value on every path (initial_equity): nothing to draw
            series[name] = (ok, bad)
    if not series:
        return ""
    return (f'<div class="chart dist">{distribution_svg(series, gid=anchor + "-dist")}</div>'
            '<p class="meta">distribution over the paths of the metrics the test names (grey: paths where the '
            "assertion held; red: where it failed)</p>")


def status_cell(comparison: Mapping[str, Any] | None, s: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(text, CSS class) of a case's "vs baseline" cell (``s``: the case's summary)."""
    if comparison is None and (s or {}).get("verdict") == "property":
        return "not compared (property test)", "skip"
    if comparison is None:
        return "not in baseline", "skip"
    status = comparison["status"]
    return status, {"regressed": "fail", "changed": "chg", "unchanged": "pass"}.get(status, "skip")


def comparison_block(comparison: Mapping[str, Any] | None, name: str) -> str:
    """What moved against the baseline, and the regressions, for one case."""
    if comparison is None:
        return ""
    out = []
    for r in comparison.get("regressions") or []:
        out.append(f'<p class="reg fail">regression against {_e(name)}: {_e(r)}</p>')
    changes = comparison.get("changes") or []
    if changes:
        out.append(f'<p class="reg">against {_e(name)}: ' + "; ".join(_e(describe_change(c)) for c in changes) + "</p>")
    elif not out:
        out.append(f'<p class="reg">against {_e(name)}: no metric moved</p>')
    return "".join(out)


def baseline_table(cases: Sequence[tuple[str, Mapping[str, Any]]], comparison: Mapping[str, Mapping[str, Any]],
                   name: str, anchor_of: Any) -> str:
    """Every case against the baseline: status, and baseline, now and change of the key metrics."""
    heads = ['<th class="l">test</th>', '<th class="l">vs baseline</th>']
    for m in KEY_METRICS:
        h = _e(metric(m).header)
        heads += [f"<th>{h}<br>baseline</th>", f"<th>{h}<br>now</th>", f"<th>{h}<br>change</th>"]
    heads.append('<th class="l">regressions</th>')
    rows = []
    for test, summary in cases:
        c = comparison.get(test)
        text, cls = status_cell(c, summary)
        cells = [f'<td class="l test"><a href="#{anchor_of(test)}">{_e(test)}</a></td>',
                 f'<td class="l {cls}">{_e(text)}</td>']
        for m in KEY_METRICS:
            key = ((c or {}).get("key") or {}).get(m) or {}
            b, n = key.get("baseline"), key.get("now")
            fmt = metric(m).format
            change = "" if b is None or n is None or not (math.isfinite(b) and math.isfinite(n)) else \
                (fmt(n - b) if fmt(n - b).startswith(("+", "-")) else "+" + fmt(n - b))
            pct = f" ({(n - b) / abs(b) * 100:+.1f}%)" if change and b else ""
            cells += [f"<td>{'' if b is None else _e(fmt(b))}</td>", f"<td>{'' if n is None else _e(fmt(n))}</td>",
                      f"<td>{_e(change + pct)}</td>"]
        regs = (c or {}).get("regressions") or []
        cells.append(f'<td class="l wrap">{"<br>".join(_e(r) for r in regs)}</td>')
        rows.append(f'<tr class="{"failed" if regs else ""}">{"".join(cells)}</tr>')
    return (f'<h2 id="baseline">Against the baseline {_e(name)}</h2><div class="scroll"><table class="base">'
            f'<thead><tr>{"".join(heads)}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def fragile_list(cases: Sequence[tuple[str, Mapping[str, Any]]], anchor_of: Any) -> str:
    """The seed-fragile verdicts of the session, each with why; "" when there are none."""
    items = [(test, seed_fragility(s)) for test, s in cases]
    items = [(t, why) for t, why in items if why]
    if not items:
        return ""
    return ('<div class="fragile"><b>seed-fragile verdicts</b> (decided near the tolerance: another set of paths '
            "may decide otherwise; raise max_paths or look at the cases):<ul>"
            + "".join(f'<li><a href="#{anchor_of(t)}">{_e(t)}</a>: {_e(why)}</li>' for t, why in items)
            + "</ul></div>")


def notes_block(s: Mapping[str, Any], payload: Mapping[str, Any] | None) -> str:
    """The case's notes: positions the trader did not ask for; a property test's example."""
    notes = list(s.get("position_notes") or (payload or {}).get("position_notes")
                 or ((payload or {}).get("worst") or {}).get("position_notes") or [])
    out = []
    if notes:
        out.append('<ul class="notes">' + "".join(f'<li class="warn">{_e(n)}</li>' for n in notes) + "</ul>")
    if s.get("verdict") == "property" and s.get("scenario_repr"):
        out.append(f'<p class="verdict">{_e(s.get("note", ""))}; the scenario shown (paste back as Python): '
                   f'<code class="bp-scenario">{_e(s["scenario_repr"])}</code></p>')
    return "".join(out)
