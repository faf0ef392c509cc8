"""The report page: one self-contained HTML file (inline CSS, inline SVG, a few lines of inline
JavaScript to sort the table; no network, no external file).

Input is the list of case summaries in the one JSON form (what the plugin gathers and
``--stress-save`` writes: ``scenario``, ``seed``, ``outcome``, ``metrics``, ... and the
chart data under ``report``), so the same page comes from a live session, a saved file
and the command line.
"""
from __future__ import annotations

import datetime as _dt
import html
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import StressError
from ..result.breaking import describe_summary
from ..result.extremes import describe_extremes
from ..result.verdicts import case_note
from ..result.jsonform import decode
from ..result.metrics import summary_columns
from .blocks import baseline_table, comparison_block, fragile_list, notes_block, status_cell, verdict_block
from .breaking_chart import breaking_svg
from .charts import case_svg
from .payload import detail_payload

__all__ = ["build_report", "write_report", "case_anchor"]

log = logging.getLogger("pytest_stress")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:20px;color:#1b1b1b;max-width:1340px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:28px 0 6px;border-top:1px solid #ddd;padding-top:14px}
.meta{color:#555;font-size:12px} code{background:#f3f3f3;padding:1px 4px;border-radius:3px;font-size:12px}
table{border-collapse:collapse;font-size:12px;margin-top:10px} th,td{padding:3px 6px;text-align:right;
border-bottom:1px solid #eee;white-space:nowrap} th{cursor:pointer;background:#fafafa;position:sticky;top:0;
white-space:normal;vertical-align:bottom;max-width:64px} th.l{max-width:none} td.wrap,td.test{white-space:normal}
td.test{max-width:300px;overflow-wrap:anywhere} .sub{display:block;font-size:10px;color:#666;white-space:normal;
max-width:300px} .chg{color:#ef6c00;font-weight:600} .verdict,.reg{font-size:12px;margin:4px 0}
.reg.fail{font-weight:400} ul.notes{font-size:12px;margin:4px 0;padding-left:18px} li.warn{color:#b71c1c}
.fragile{font-size:12px;background:#fff8e1;padding:6px 10px;margin:8px 0} .fragile ul{margin:2px 0}
.nochart{font-size:13px;background:#fff8e1;padding:6px 10px}
td.l,th.l{text-align:left} tr.failed td{background:#fdecea} .pass{color:#2e7d32;font-weight:600}
.fail{color:#c62828;font-weight:600} .skip{color:#777} .counts span{margin-right:14px}
.where,.bp{font-size:12px;margin:4px 0} .err{white-space:pre-wrap;font-family:monospace;font-size:11px;
background:#fdecea;padding:6px} svg{max-width:100%;height:auto} .scroll{overflow-x:auto}
"""

_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('data-asc') !== '1';
    th.setAttribute('data-asc', asc ? '1' : '0');
    rows.sort(function(a, b){
      var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
"""


def case_anchor(test: str) -> str:
    """An HTML id for a test id (letters, digits, '-' and '_' only)."""
    return "case-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in test)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _outcome(s: Mapping[str, Any]) -> str:
    out = s.get("outcome") or ("passed" if s.get("success", True) else "failed")
    return "failed" if out == "FAILED" else out


def _table(cases: Sequence[tuple[str, Mapping[str, Any]]],
           comparison: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    cols = summary_columns()
    head = ['<th class="l">test</th>', '<th class="l">outcome</th>', '<th class="l">scenario</th>',
            '<th>seed</th>', *[f'<th title="{_e(m.definition)}">{_e(m.header)}</th>' for m in cols]]
    if comparison is not None:
        head.append('<th class="l">vs baseline</th>')
    rows = []
    for test, s in cases:
        outcome = _outcome(s)
        metrics = decode(s.get("metrics") or {})
        note = case_note(s)
        cells = [f'<td class="l test" data-v="{_e(test)}"><a href="#{case_anchor(test)}">{_e(test)}</a></td>',
                 f'<td class="l {"fail" if outcome == "failed" else "pass" if outcome == "passed" else "skip"}" '
                 f'data-v="{_e(outcome)}">{_e(outcome)}</td>',
                 f'<td class="l test" data-v="{_e(s.get("scenario", ""))}">{_e(s.get("scenario", ""))}'
                 + (f'<span class="sub">{_e(note)}</span>' if note else "") + "</td>",
                 f'<td data-v="{_e(s.get("seed", ""))}">{_e(s.get("seed", ""))}</td>']
        for m in cols:
            v = metrics.get(m.name)
            num = v if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            cells.append(f'<td data-v="{_e(num)}">{_e(m.format(v)) if v is not None or m.name in metrics else ""}</td>')
        if comparison is not None:
            text, cls = status_cell(comparison.get(test), s)
            cells.append(f'<td class="l {cls}" data-v="{_e(text)}"><a href="#baseline">{_e(text)}</a></td>')
        rows.append(f'<tr class="{"failed" if outcome == "failed" else ""}">{"".join(cells)}</tr>')
    return (f'<table class="sortable"><thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table>")


def _where(payload: Mapping[str, Any]) -> str:
    ext = payload.get("extremes") or (payload.get("worst") or {}).get("extremes") or {}
    parts = [_e(line) for line in describe_extremes(ext, drawdown="maximum drawdown")]
    prefix = f"worst path (seed {payload['worst']['seed']}): " if payload.get("kind") == "paths" and parts else ""
    return f'<p class="where">{prefix}{"; ".join(parts)}</p>' if parts else ""


def _breaking(bp: Mapping[str, Any], test: str) -> str:
    """A reverse stress test's headline, its mildest failing scenario as a line of Python, its
    notes and the chart of the failure rate against severity; then a line on the run drawn below
    (the plugin's and the service's: one path at the bracket's passing end)."""
    out = [f'<p class="bp"><b>breaking point</b>: {_e(describe_summary(bp))}</p>']
    if bp.get("scenario_repr"):
        out.append(f'<p class="bp">mildest failing scenario (paste back as Python): '
                   f'<code class="bp-scenario">{_e(bp["scenario_repr"])}</code></p>')
    out += [f'<p class="bp">note: {_e(n)}</p>' for n in bp.get("notes") or []]
    anchor = case_anchor(test)
    title = f"{bp.get('base', test)}: reverse stress test along {bp.get('axis', 'severity')}"
    out.append(f'<div class="chart bp-chart">{breaking_svg(dict(bp), title, gid=anchor + "-bp")}</div>')
    lo, hi = bp.get("bracket") or (None, None)
    if lo is not None:
        out.append(f'<p class="meta">the run drawn below: one path where the claim held, at {_e(bp["axis"])} '
                   f"{lo:.4g}</p>")
    elif hi is not None:
        out.append(f'<p class="meta">the run drawn below: path 0 at {_e(bp["axis"])} {hi:.4g}, where the claim '
                   "already fails</p>")
    return "".join(out)


def _case(test: str, s: Mapping[str, Any], baseline: Mapping[str, Any] | None,
          comparison: Mapping[str, Any] | None = None, baseline_name: str = "the baseline") -> str:
    outcome = _outcome(s)
    title = f"{s.get('scenario', test)} ({s.get('scenario_type', '')}), seed {s.get('seed', '')}" \
        + (f"; {case_note(s)}" if case_note(s) else "")
    mark = "fail" if outcome == "failed" else "pass"
    out = [f'<section id="{case_anchor(test)}"><h2>{_e(test)} <span class="{mark}">'
           f"{_e(outcome)}</span></h2>"]
    if s.get("error"):
        out.append(f'<div class="err">{_e(str(s["error"]).splitlines()[0][:400])}</div>')
    out.append(verdict_block(s, case_anchor(test)))
    if baseline is not None or comparison is not None:
        out.append(comparison_block(comparison, baseline_name))
    if s.get("breaking_point"):
        out.append(_breaking(s["breaking_point"], test))
    payload = s.get("report") or detail_payload(dict(s))
    out.append(notes_block(s, payload))
    if s.get("report_error"):
        out.append(f'<div class="err">no chart: {_e(s["report_error"])}</div>')
    if not payload:
        out.append('<p class="meta">no chart data for this case (save with --stress-report or --stress-save-detail '
                   "beside --stress-save)</p>")
    else:
        out.append(_where(payload))
        base_payload = None
        if baseline:   # a baseline saved with --stress-report's data, or with --stress-save-detail
            base_payload = baseline.get("report") or detail_payload(dict(baseline))
        out.append(f'<div class="chart">{case_svg(payload, title, base_payload)}</div>')
    out.append("</section>")
    return "".join(out)


def no_chart_reason(results: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why a page of these cases has no chart at all (None when some case has one)."""
    if not results or any(s.get("report") or s.get("detail") for s in results.values()):
        return None
    return ("no charts: the file's entries hold figures only (saved with --stress-save alone); save with "
            "--stress-save-detail as well, or draw the report live with --stress-report")


def build_report(results: Mapping[str, Mapping[str, Any]], *, options: Mapping[str, Any] | None = None,
                 command: str | None = None, baseline: Mapping[str, Mapping[str, Any]] | None = None,
                 title: str = "pytest-stress report", comparison: Mapping[str, Mapping[str, Any]] | None = None,
                 baseline_name: str = "the baseline") -> str:
    """The HTML page for ``{test id: case summary}`` (failures first, then by test id). ``baseline``:
    the baseline's entries (their curves are drawn dashed); ``comparison``: each compared case's
    comparison (``result.differences.case_comparison``), shown as the table's "vs baseline" column,
    a table of baseline, now and change, and per case."""
    started = time.perf_counter()
    cases = sorted(results.items(), key=lambda kv: (_outcome(kv[1]) != "failed", kv[0]))
    counts: dict[str, int] = {}
    for _, s in cases:
        counts[_outcome(s)] = counts.get(_outcome(s), 0) + 1
    opts = dict(options or {})
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1>",
             f'<p class="meta">pytest-stress {__version__}, '
             f'{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}</p>',
             '<p class="counts">'
             + "".join(f'<span class="{"fail" if k == "failed" else "pass" if k == "passed" else "skip"}">'
                       f"{v} {_e(k)}</span>" for k, v in sorted(counts.items())) + "</p>"]
    if opts:
        parts.append('<p class="meta">options: ' + ", ".join(f"{_e(k)}=<code>{_e(v)}</code>" for k, v in opts.items())
                     + "</p>")
    if command:
        parts.append(f'<p class="meta">reproduce: <code>{_e(command)}</code></p>')
    reason = no_chart_reason(results)
    if reason:
        parts.append(f'<p class="nochart">{_e(reason)}</p>')
    parts.append(fragile_list(cases, case_anchor))
    parts.append(f'<div class="scroll">{_table(cases, comparison)}</div>')
    if comparison is not None:
        parts.append(baseline_table(cases, comparison, baseline_name, case_anchor))
    for test, s in cases:
        parts.append(_case(test, s, (baseline or {}).get(test), None if comparison is None else comparison.get(test),
                           baseline_name))
    parts.append(f"<script>{_JS}</script></body></html>")
    page = "\n".join(parts)
    log.debug("report of %d cases built in %.2fs", len(cases), time.perf_counter() - started)
    return page


def write_report(path: str | Path, results: Mapping[str, Mapping[str, Any]], **kw: Any) -> Path:
    """Build the report and write it to ``path`` atomically; returns the path."""
    path = Path(path)
    page = build_report(results, **kw)
    tmp = None
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StressError(f"cannot write the report to {str(path)!r} ({type(exc).__name__}: "
                          f"{exc.strerror or exc}); give a writable file path such as report.html") from None
    finally:
        if tmp is not None:
            os.unlink(tmp)
    return path
