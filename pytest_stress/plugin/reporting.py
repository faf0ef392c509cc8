"""The plugin's side of the HTML report (``--stress-report=PATH``) and of pytest-html.

On the process that ran a case (an xdist worker or the only process), ``case_extras``
adds where the run was at its worst (always: a few numbers) and, when a report is
wanted, the case's chart data (``report/payload.py``: downsampled there, so xdist ships
kilobytes, not the run's curves). On the controller, ``write_session_report`` draws
the page at session end. pytest-html's hooks are optional hooks: without pytest-html
they are never called and cause no error.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from ..errors import StressError

__all__ = ["case_extras", "check_report_option", "wants_chart_data", "write_session_report", "where_lines",
           "pytest_html_results_table_header", "pytest_html_results_table_row", "pytest_html_results_table_html"]

log = logging.getLogger("pytest_stress")


def _html_report_wanted(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("html") and bool(getattr(config.option, "htmlpath", None))


def wants_chart_data(config: pytest.Config, options: Any) -> bool:
    """Chart data travels with the case when ``--stress-report`` or pytest-html's ``--html`` is given."""
    return bool(options.report) or _html_report_wanted(config)


def case_extras(item: pytest.Item, result: Any, options: Any, *, scenario: Any = None,
                exchange: Any = None) -> dict[str, Any]:
    """Summary keys for one case: ``extremes`` (max drawdown and worst bar: bar, time, value),
    ``position_notes`` (positions the trader did not ask for: ``result/positions.py``; of the
    worst path for Monte Carlo) and, when a report is wanted, ``report`` (the chart data).
    ``scenario`` and ``exchange``: the run's, when they are not the case's fixtures (a property test)."""
    from ..result.positions import position_notes   # lazy: once a case has a result

    out: dict[str, Any] = {}
    if not hasattr(result, "table"):
        out["extremes"] = result.extremes()
        notes = position_notes(result)
    elif result.successful:   # Monte Carlo: the worst path's full run (rerun from its seed here)
        worst = result.worst("max_drawdown")
        notes = [f"worst path (seed {worst.seed}): {n}" for n in position_notes(worst)]
        if worst.success:
            out["extremes"] = {**worst.extremes(), "seed": worst.seed}
    else:
        notes = []
    if notes:
        out["position_notes"] = notes
    if wants_chart_data(item.config, options):
        from ..report.payload import case_payload   # lazy: numpy chart data only when a report is wanted
        from ..runner import exchange_config   # lazy: as above

        funcargs = getattr(item, "funcargs", {})
        try:
            out["report"] = case_payload(result, scenario or funcargs.get("stress_scenario"),
                                         exchange_config(exchange) if exchange is not None
                                         else funcargs.get("stress_exchange"))
        except Exception as exc:   # never lose the case's result for its chart; say why it has none
            log.error("pytest-stress report: no chart for %s: %s: %s", item.nodeid, type(exc).__name__, exc)
            out["report_error"] = f"{type(exc).__name__}: {exc}"
    return out


def where_lines(s: dict[str, Any]) -> list[str]:
    """'max drawdown ... at bar N (time)' and 'worst bar ...' lines for a failure report."""
    from ..result.extremes import describe_extremes   # lazy: numpy, only for a failed case's report

    ext = s.get("extremes") or {}
    path = f" (worst path, seed {ext['seed']})" if "seed" in ext else ""
    return [f"  {line}{path}" for line in describe_extremes(ext)]


def check_report_option(options: Any) -> None:
    """Before anything runs: ``--stress-report`` needs matplotlib and a file path (a clear usage error)."""
    if not options.report:
        return
    import importlib.util   # lazy: only --stress-report needs it

    if importlib.util.find_spec("matplotlib") is None:
        raise pytest.UsageError("--stress-report needs matplotlib; "
                                "install it with pip install 'pytest-stress-trading[report]'")


def write_session_report(session: pytest.Session, stress: Any) -> str | None:
    """Draw the report of every gathered case (controller only); returns a line for the terminal."""
    opts = stress.options
    if stress.is_worker or not opts.report:
        return None
    from ..report.html import write_report   # lazy: matplotlib only when a report is asked for
    from .storage import load_results   # lazy: a baseline is read only to overlay its curves

    started = time.perf_counter()
    baseline = None
    if opts.compare:
        try:
            baseline = load_results(opts.compare)
        except StressError as exc:   # the comparison itself reports this; the report goes on without overlay
            log.warning("pytest-stress report: baseline not overlaid: %s", exc)
    args = " ".join(session.config.invocation_params.args)
    path = write_report(opts.report, stress.results, options=opts.as_dict(), baseline=baseline,
                        command=f"pytest {args}".strip(), comparison=stress.comparisons if opts.compare else None,
                        baseline_name=str(opts.compare or "the baseline"))
    size = path.stat().st_size
    return (f"stress report: {path} ({len(stress.results)} case(s), {size / 1e3:,.0f} KB, "
            f"{time.perf_counter() - started:.1f}s)")


# -- pytest-html (optional hooks: called only when pytest-html is installed) -------------
def _summary(report: Any) -> dict[str, Any] | None:
    raw = getattr(report, "stress_result", None)
    return json.loads(raw) if raw else None


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(2, '<th class="sortable" data-column-type="maxdd">max drawdown %</th>')
    cells.insert(3, '<th data-column-type="stressverdict">stress verdict</th>')
    cells.insert(4, '<th data-column-type="stressbaseline">vs baseline</th>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: Any, cells: list[str]) -> None:
    import html   # lazy: only with pytest-html

    s = _summary(report)
    dd = (s or {}).get("metrics", {}).get("max_drawdown")
    cells.insert(2, f"<td>{dd:.2f}</td>" if isinstance(dd, (int, float)) else "<td></td>")
    note = ""
    if s:
        from ..result.verdicts import case_note   # lazy: only with pytest-html and a stress case

        note = case_note(s)
    cells.insert(3, f'<td class="col-stressverdict">{html.escape(note)}</td>')
    raw = getattr(report, "stress_comparison", None)
    text = ""
    if raw:
        from ..result.differences import describe_change   # lazy: as above

        c = json.loads(raw)
        text = c["status"] + "".join(f"; {r}" for r in c["regressions"]) \
            + ("" if c["regressions"] else "".join(f"; {describe_change(x)}" for x in c["changes"][:2]))
    cells.insert(4, f'<td class="col-stressbaseline">{html.escape(text)}</td>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report: Any, data: list[str]) -> None:
    s = _summary(report)
    if not s or not (s.get("report") or s.get("breaking_point")):
        return
    from ..report.breaking_chart import breaking_svg   # lazy: matplotlib only when a report is asked for
    from ..report.charts import case_svg   # lazy: as above

    title = f"{s.get('scenario')} ({s.get('scenario_type')}), seed {s.get('seed')}"
    try:
        if s.get("breaking_point"):
            from ..report.html import case_anchor   # lazy: as above

            bp = s["breaking_point"]
            svg = breaking_svg(bp, f"{bp.get('base')}: reverse stress test", gid=case_anchor(report.nodeid) + "-bp")
            data.append(f'<div class="stress-chart">{svg}</div>')
        if s.get("report"):
            data.append(f'<div class="stress-chart">{case_svg(s["report"], title)}</div>')
    except StressError as exc:
        data.append(f"<div>pytest-stress: {exc}</div>")
