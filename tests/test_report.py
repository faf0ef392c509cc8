"""The HTML report, its data and the results as DataFrames: extremes kept, self-contained,
a chart per case, rendered by a real browser; from the plugin (-n 0 and -n 2) and pytest-html."""
import json
import pathlib
import re
import shutil
import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from pytest_stress import library, run_paths, run_scenario
from pytest_stress.report.downsample import envelope, minmax
from pytest_stress.report.html import build_report, case_anchor, write_report
from pytest_stress.report.payload import case_payload, detail_payload, run_payload
from pytest_stress.result.models import ScenarioResult
from pytest_stress.scenario import kind_of
from pytest_stress.runner import exchange_config, path_seeds
from pytest_stress.plugin.session import summarize

from traders import SmaCross

pytest_plugins = ["pytester"]

matplotlib = pytest.importorskip("matplotlib", reason="the report needs the 'report' extra (matplotlib)")

# a resource the page would load from the network: src=/href=/url()/@import pointing at http(s)
_REMOTE = re.compile(r"""(?:\bsrc|\bhref|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//"""
                     r"""|@import|<link\b|<iframe\b|<object\b|<embed\b""", re.IGNORECASE)


# -- downsampling keeps extremes ---------------------------------------------------
def test_minmax_keeps_each_columns_extremes_and_a_single_spike_in_a_million_points():
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.standard_normal(1_000_000))
    y[654_321] = y.min() - 50.0          # one bar far below everything else
    y[123_456] = y.max() + 50.0
    x, v = minmax(y, 800)
    assert len(x) <= 2 * 800 + 2
    assert np.all(np.diff(x) > 0)                       # time order, no duplicates
    assert 654_321 in x and 123_456 in x
    assert v.min() == y.min() and v.max() == y.max()
    np.testing.assert_array_equal(v, y[x])
    # every column's own min and max survive (what a pixel column draws)
    starts = np.unique(np.linspace(0, len(y), 801).astype(int)[:-1])
    for a, b in zip(starts[::97], np.append(starts, len(y))[1::97]):
        inside = (x >= a) & (x < b)
        assert v[inside].min() == y[a:b].min() and v[inside].max() == y[a:b].max()


def test_minmax_short_series_whole_and_nan_columns_stay_gaps():
    y = np.arange(10.0)
    x, v = minmax(y, 800)
    np.testing.assert_array_equal(x, np.arange(10))
    np.testing.assert_array_equal(v, y)
    z = np.ones(10_000)
    z[2_000:4_000] = np.nan
    x, v = minmax(z, 100)
    assert np.isnan(v).any() and np.nanmax(v) == 1.0
    with pytest.raises(ValueError, match="width = 0"):
        minmax(z, 0)


def test_envelope_never_narrows_a_band():
    rng = np.random.default_rng(2)
    lo, hi = rng.standard_normal(50_000), rng.standard_normal(50_000) + 3
    x, v_lo = envelope(lo, 500, lower=True)
    x2, v_hi = envelope(hi, 500, lower=False)
    np.testing.assert_array_equal(x, x2)
    assert v_lo.min() == lo.min() and v_hi.max() == hi.max()
    assert len(x) == 500


# -- a run's worst moments and DataFrames -------------------------------------------
@pytest.fixture(scope="module")
def crash_run():
    sc = library.get("Black Swan Combo", bars=600)
    return sc, run_scenario(sc, SmaCross(qty=2.0), "calm")


def test_extremes_name_the_bars_behind_the_metrics(crash_run):
    _, r = crash_run
    ext = r.extremes()
    dd, wb = ext["max_drawdown"], ext["worst_bar"]
    assert dd["bar"] == int(np.argmax(r.drawdown_curve))
    assert dd["value"] == pytest.approx(r.max_drawdown)
    assert wb["value"] == pytest.approx(r.worst_bar_return_pct)
    assert dd["time"] == pd.Timestamp(int(r.timestamps[dd["bar"]]), tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 0 <= dd["peak_bar"] <= dd["bar"]
    assert r.equity_curve[dd["peak_bar"]] >= r.equity_curve[: dd["bar"] + 1].max() - 1e-9 or dd["peak_bar"] == 0


def test_equity_frame_adds_up_on_the_utc_index(crash_run):
    sc, r = crash_run
    f = r.equity_frame()
    assert isinstance(f.index, pd.DatetimeIndex) and str(f.index.tz) == "UTC" and len(f) == r.bars_processed
    assert list(f.index.asi8) == list(r.timestamps)
    assert {"equity", "drawdown", "cash", "exposure", "leverage", "position_BTCUSDT"} <= set(f.columns)
    close = sc.build_market().true.close[0]
    # the account identity at every bar: cash + position x true close == equity
    np.testing.assert_allclose(f["cash"] + f["position_BTCUSDT"] * close, f["equity"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(f["drawdown"], r.drawdown_curve)
    assert (f["position_BTCUSDT"] != 0).any()


def test_holdings_rebuilt_from_fills_for_results_without_account_curves(crash_run):
    """A result read from an older file has no positions/cash curves: they are rebuilt from its fills."""
    from pytest_stress.result.frames import holdings

    _, r = crash_run
    old = ScenarioResult.from_dict({k: v for k, v in r.to_dict(curves=True, records=True).items()
                                    if k not in ("positions", "cash_curve", "symbols")})
    symbols, qty, cash = holdings(old)
    assert symbols == ["BTCUSDT"]
    np.testing.assert_allclose(qty[0], r.positions[0], atol=1e-12)
    np.testing.assert_allclose(cash, r.cash_curve, rtol=1e-12)


def test_trades_and_executions_frames(crash_run):
    _, r = crash_run
    t, e = r.trades_frame(), r.executions_frame()
    assert len(t) == len(r.trades) and len(e) == len(r.executions)
    assert t["pnl"].sum() == pytest.approx(sum(x.pnl for x in r.trades))
    assert (t["exit_time"] == pd.to_datetime(r.timestamps[t["exit_bar"]], utc=True)).all()
    assert (e["time"] == pd.to_datetime(r.timestamps[e["bar"]], utc=True)).all()
    empty = ScenarioResult("x", "synthetic", 1).trades_frame()
    assert len(empty) == 0 and "entry_time" in empty.columns and "pnl" in empty.columns


def test_paths_to_frame_one_row_per_path_with_its_seed():
    sc = library.get("BTC Flash Crash 2021", bars=200)
    p = run_paths(sc, SmaCross, 4, "calm")
    f = p.to_frame()
    assert list(f["seed"]) == path_seeds(sc.seed, 4) and len(f) == 4
    assert list(f["max_drawdown"]) == [r.max_drawdown for r in p.results]


# -- chart data ---------------------------------------------------------------------
def test_a_million_bar_run_draws_its_real_worst_bar():
    n = 1_000_000
    equity = 100_000 + np.cumsum(np.random.default_rng(3).standard_normal(n))
    equity[777_777:] -= 5_000.0            # one bar's crash
    dd = np.maximum.accumulate(equity)
    dd = (1 - equity / dd) * 100
    ts = np.datetime64("2024-01-01", "ns").astype(np.int64) + np.arange(n, dtype=np.int64) * 60_000_000_000
    r = ScenarioResult("long", "synthetic", 1, bars_processed=n, initial_equity=100_000.0, equity_curve=equity,
                       drawdown_curve=dd, timestamps=ts)
    p = run_payload(r)
    assert len(p["drawdown"]["x"]) <= 2 * 800 + 2
    assert max(p["drawdown"]["y"]) == pytest.approx(dd.max(), rel=1e-5)
    assert min(p["equity"]["y"]) == pytest.approx(equity.min(), rel=1e-6)
    assert p["extremes"]["worst_bar"]["bar"] == 777_777
    assert len(json.dumps(p)) < 120_000      # what travels from an xdist worker


def test_payload_marks_stress_windows_and_fills(crash_run):
    sc, r = crash_run
    p = case_payload(r, sc, exchange_config("calm"))
    crash_start = int(sc.bars * sc.parameters["flash_crash_start"]) if "flash_crash_start" in sc.parameters else None
    assert p["stress_windows"], "a black swan has stress windows"
    if crash_start is not None:
        assert any(a - 5 <= crash_start <= b + 5 for a, b in p["stress_windows"])
    bars = {f[1] for f in p["fills"]}
    assert bars and bars <= {e.bar for e in r.executions if e.filled_qty > 0}
    assert p["price"][0]["y"][0] == pytest.approx(sc.build_market().true.close[0, 0], rel=1e-5)


def test_liquidations_are_marked_apart_from_fills():
    from pytest_stress import buy
    from pytest_stress.report.charts import case_svg

    class Leveraged:
        def on_bar(self, ctx):
            if ctx.t == 250 and ctx.position() == 0:
                return buy(4.5 * ctx.equity / ctx.price)

    sc = library.get("Black Swan Combo", bars=600)
    r = run_scenario(sc, Leveraged(), "calm", account="perpetual:leverage=10")
    assert r.liquidations >= 1
    p = case_payload(r, sc, exchange_config("calm"))
    liq = [f for f in p["fills"] if f[4] == 1]
    assert [f[1] for f in liq] == [e.bar for e in r.executions if e.status == "liquidation"]
    assert "liquidation" in case_svg(p, "x")


# -- the page -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def library_results():
    """Every library scenario (short) plus a Monte Carlo case, as the plugin would gather them."""
    cfg = exchange_config("calm")
    out = {}
    for sc in library.all():
        sc = sc.replace(bars=max(300, kind_of(sc.type).min_bars(sc.own_parameters())))   # short, windows fit
        r = run_scenario(sc, SmaCross(), cfg)
        s = summarize(r)
        s.update(outcome="passed" if r.max_drawdown < 3 else "failed", report=case_payload(r, sc, cfg))
        out[f"test_lib[{library.slug(sc.name)}]"] = s
    sc = library.get("BTC Flash Crash 2021", bars=300)
    p = run_paths(sc, SmaCross, 8, cfg)
    s = summarize(p)
    s.update(outcome="passed", report=case_payload(p, sc, cfg))
    out["test_mc[btc-flash-crash-2021]"] = s
    return out


@pytest.fixture(scope="module")
def library_page(library_results, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "r.html"
    return write_report(path, library_results, options={"exchange": "calm"}, command="pytest -m stress")


def _sections(page: str) -> dict[str, str]:
    parts = re.split(r'<section id="', page)[1:]
    return {p.split('"', 1)[0]: p for p in parts}


def test_page_is_self_contained_with_a_chart_for_every_case(library_results, library_page):
    path = library_page
    page = path.read_text(encoding="utf-8")
    assert not _REMOTE.search(page), _REMOTE.search(page).group(0)
    assert "<script src" not in page
    sections = _sections(page)
    assert len(sections) == len(library_results)
    for anchor, html in sections.items():
        assert html.count("<svg") == 1, anchor
        assert "<path" in html, anchor
    assert page.count('class="failed"') == sum(s["outcome"] == "failed" for s in library_results.values())
    assert "worst path: seed" in page and "p5-p95" in page            # the Monte Carlo fan
    assert "maximum drawdown" in page and "reproduce: <code>pytest -m stress</code>" in page
    assert path.stat().st_size < 3_000_000


def test_page_from_saved_detail_and_without_chart_data(crash_run):
    _, r = crash_run
    s = summarize(r, detail=True)
    assert detail_payload(s)["extremes"] == r.extremes()
    page = build_report({"t[detail]": {**s, "outcome": "passed"}, "t[bare]": {**summarize(r), "outcome": "passed"}})
    sections = _sections(page)
    assert sections["case-t-detail-"].count("<svg") == 1
    assert "<svg" not in sections["case-t-bare-"] and "no chart data" in sections["case-t-bare-"]


def test_baseline_curves_are_overlaid(library_results):
    test, now = next((t, s) for t, s in library_results.items() if s["report"]["kind"] == "run")
    plain = _sections(build_report({test: now}))
    overlaid = _sections(build_report({test: now}, baseline={test: now}))
    (key,) = plain
    assert "baseline" not in plain[key] and ">baseline<" in overlaid[key]


def test_report_to_an_unwritable_path_names_it(library_results, tmp_path):
    from pytest_stress.errors import StressError

    with pytest.raises(StressError, match="cannot write the report to .*is a directory"):
        write_report(tmp_path, {"a": next(iter(library_results.values()))})


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_renders_in_headless_chromium_without_console_errors(library_results, library_page, tmp_path):
    path = library_page
    shot = tmp_path / "shot.png"
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    out = subprocess.run([*base, f"--screenshot={shot}", "--window-size=1280,2000", path.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert shot.exists(), out.stderr[-2000:]
    console = [line for line in out.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (2000, 1280)
    assert image[..., :3].std() > 0.05                       # not a blank page
    assert (image[..., :3].std(axis=(1, 2)) > 0.01).mean() > 0.5   # content down most of the page
    # the sorting script runs: the DOM after scripts still holds every case
    dom = subprocess.run([*base, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.stdout.count("<section id=") == len(library_results)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_console_errors_would_be_caught(tmp_path):
    """The check above is live: a page with a script error is reported by chromium's log."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    out = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert any("CONSOLE" in line or "Uncaught" in line for line in out.stderr.splitlines()), out.stderr[-2000:]


# -- from the plugin ------------------------------------------------------------------
CONFTEST = textwrap.dedent('''
    import pytest
    from pytest_stress import buy, sell

    class Dip:
        def on_bar(self, ctx):
            if ctx.position() == 0 and ctx.t % 40 == 5:
                return buy(2.0)
            if ctx.position() > 0 and ctx.t % 40 == 25:
                return sell(ctx.position())

    @pytest.fixture(scope="session")
    def trader_factory():
        return Dip
''')

TESTS = textwrap.dedent('''
    from pytest_stress import stress

    @stress("BTC Flash Crash 2021", "Correlation Breakdown", bars=400)
    def test_runs(stress_result):
        assert stress_result.max_drawdown < 0.01     # fails: the report names where

    @stress("BTC Flash Crash 2021", bars=200, paths=4)
    def test_paths(stress_result):
        assert stress_result.paths == 4
''')


@pytest.mark.parametrize("xdist", [["-p", "no:xdist"], ["-n", "2"]], ids=["plain", "n2"])
def test_plugin_writes_the_report_and_names_the_worst_bar(pytester, xdist):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=TESTS)
    # one seed per case: this is the single run's page (tests/test_verdicts.py draws a verdict's)
    (pytester.path / "out").mkdir()      # the report's folder must exist (checked at start-up)
    out = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist, "--stress-verdict=seed",
                                        "--stress-report=out/report.html")
    out.assert_outcomes(passed=1, failed=2)
    out.stdout.fnmatch_lines(["*stress result: BTC Flash Crash 2021*", "*max drawdown *% at bar * (20*Z), from the peak at bar *",
                              "*worst bar * (20*Z): *%", "*stress report: out/report.html (3 case(s), * KB, *s)*"])
    page = (pytester.path / "out" / "report.html").read_text(encoding="utf-8")
    sections = _sections(page)
    assert len(sections) == 3 and all(s.count("<svg") == 1 for s in sections.values())
    assert not _REMOTE.search(page)
    assert "Correlation Breakdown" in page and "worst path: seed" in page
    assert "PnL by symbol" in sections["case-test_a-py--test_runs-correlation-breakdown-"]
    assert "stress &gt;= 0.5" in sections["case-test_a-py--test_runs-btc-flash-crash-2021-"]   # windows shaded


def test_without_the_option_no_chart_data_travels(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=TESTS)
    out = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:html",
                                        "--stress-save=saved.json")   # without pytest-html: its hooks are optional
    out.assert_outcomes(passed=1, failed=2)
    saved = json.loads((pytester.path / "saved.json").read_text())
    entries = saved["results"].values()
    assert all("report" not in e for e in entries) and all("extremes" in e for e in entries)
    assert not (pytester.path / "stress-report.html").exists()
    assert "PluginValidationError" not in out.stdout.str() + out.stderr.str()


def test_report_option_to_a_directory_is_a_usage_error(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=TESTS)
    (pytester.path / "out").mkdir()
    out = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "--stress-report=out")
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    out.stderr.fnmatch_lines(["*--stress-report 'out': is a directory; give a file path such as 'out/stress-report.html'*"])


def test_pytest_html_gets_the_charts(pytester):
    pytest.importorskip("pytest_html", reason="pytest-html is not installed")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=TESTS)
    out = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "--html=h.html",
                                        "--self-contained-html")
    out.assert_outcomes(passed=1, failed=2)
    page = (pytester.path / "h.html").read_text(encoding="utf-8")
    assert "max drawdown %" in page
    assert page.count("stress-chart") >= 3


# -- a reverse stress test's chart ---------------------------------------------------------
BP_CONFTEST = textwrap.dedent('''
    import pytest
    from pytest_stress import buy

    class Levered:
        """A 5x isolated long opened on the first bar and held."""
        def __init__(self):
            self.opened = False

        def on_bar(self, ctx):
            if not self.opened:
                self.opened = True
                return buy(4.9 * ctx.equity / ctx.price)

    @pytest.fixture(scope="session")
    def trader_factory():
        return Levered
''')

BP_TESTS = textwrap.dedent('''
    from pytest_stress import Account, Scenario, stress

    CRASH = Scenario("levered crash", "flash_crash", {"drop_pct": 0.3, "duration_bars": 6, "front": 1.0,
                     "noise_mult": 1.0, "recovery_pct": 0.0, "start": 0.5, "base_vol": 0.05}, bars=60, seed=7)
    KW = dict(account=Account.perpetual(leverage=5), exchange="frictionless")

    @stress(CRASH, breaking_point="drop_pct", search_range=(0.1, 0.3), precision=0.02, **KW)
    def test_margin(stress_result):
        assert stress_result.liquidations == 0
        assert stress_result.breaking_point.value >= 0.15

    @stress(CRASH, breaking_point="drop_pct", search_range=(0.02, 0.1), precision=0.02, **KW)
    def test_shallow(stress_result):
        assert stress_result.liquidations == 0
        assert stress_result.breaking_point.status == "never"
''')


def _svg_group(html: str, gid: str) -> str:
    """The text of the SVG group with id ``gid`` (matplotlib writes one <g id=...> per artist)."""
    start = html.index(f'<g id="{gid}"')
    return html[start:html.index("</g>", start)]


def _check_breaking_section(section: str, anchor: str, bp: dict) -> None:
    """What a breaking-point case's section shows: the headline, the paste-back line, and the chart
    with one marker per decided level (by verdict and path set), the rule's two rates and the bracket."""
    import html as _html

    from pytest_stress.result.breaking import describe_summary

    assert section.count("<svg") == 2       # the failure rate against severity, and the run where it held
    text = _html.unescape(section)     # Chromium's DOM writes ' where the page has &#x27;
    assert describe_summary(bp) in text
    if bp["scenario_repr"]:
        assert bp["scenario_repr"] in text
    gid = f"{anchor}-bp"
    for kind in ("pass", "fail"):
        for where, confirm in (("main", False), ("confirm", True)):
            n = sum(lv["verdict"] == kind and (lv["path_set"] > 0) == confirm for lv in bp["levels"])
            if n:
                assert _svg_group(section, f"{gid}-{kind}-{where}").count("<use") == n, (kind, where)
            else:
                assert f'id="{gid}-{kind}-{where}"' not in section
    assert f'id="{gid}-pass-rate"' in section and f'id="{gid}-fail-rate"' in section
    assert f'id="{gid}-bracket"' in section
    rule = bp["rule"]
    assert f"pass rate {rule['pass_rate']:.3g}: tolerated" in section and f"fail rate {rule['fail_rate']:.3g}" in section


def test_a_breaking_point_case_is_drawn_live_and_from_its_saved_file(pytester, tmp_path):
    """One session with a found and a never-breaking search (--stress-report and --stress-save), then
    ``pytest-stress report`` from the saved file; both pages rendered by headless Chromium."""
    from pytest_stress.cli import main

    import importlib.util

    html_plugin = importlib.util.find_spec("pytest_html") is not None
    pytester.makeconftest(BP_CONFTEST)
    pytester.makepyfile(test_bp=BP_TESTS)
    out = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "--stress-save=bp.json",
                                        "--stress-report=live.html",
                                        *(["--html=h.html", "--self-contained-html"] if html_plugin else []))
    out.assert_outcomes(passed=2)
    saved = json.loads((pytester.path / "bp.json").read_text())["results"]
    if html_plugin:   # pytest-html's page gets the breaking-point chart beside the run's
        h = (pytester.path / "h.html").read_text(encoding="utf-8")
        assert all(f"{case_anchor(t)}-bp-pass-main" in h for t in saved)
    assert main(["report", str(pytester.path / "bp.json"), "-o", str(pytester.path / "saved.html")]) == 0
    for name in ("live.html", "saved.html"):
        page = (pytester.path / name).read_text(encoding="utf-8")
        assert not _REMOTE.search(page) and len(page) < 600_000
        sections = _sections(page)
        for test, entry in saved.items():
            anchor = case_anchor(test)
            _check_breaking_section(sections[anchor], anchor, entry["breaking_point"])
        found = next(e["breaking_point"] for t, e in saved.items() if "margin" in t)
        never = next(e["breaking_point"] for t, e in saved.items() if "shallow" in t)
        assert found["status"] == "found" and never["status"] == "never" and never["scenario_repr"] is None
        assert f"bracket: holds at {found['bracket'][0]:.4g}, fails at {found['bracket'][1]:.4g}" in page
        assert f"holds at the harsh end, drop_pct {never['bracket'][0]:.4g}" in page
        assert "never breaks within drop_pct 0.02-0.1 of &#x27;levered crash&#x27;" in page
    if _chromium() is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium): the pages were checked as text")
    _render_breaking_page(pytester.path / "saved.html", saved, tmp_path)


def _render_breaking_page(path, saved, tmp_path) -> None:
    """In headless Chromium: no console errors, the chart's groups in the rendered DOM, and the
    bracket's shade and the pass/fail markers' colours on the screen."""
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*base, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []
    sections = _sections(dom.stdout)
    for test, entry in saved.items():
        anchor = case_anchor(test)
        _check_breaking_section(sections[anchor], anchor, entry["breaking_point"])
    shot = tmp_path / "bp.png"
    first = next(t for t in saved if "margin" in t)     # failures first, then by test id: this one is at the top
    assert list(sections)[0] == case_anchor(first)
    subprocess.run([*base, f"--screenshot={shot}", "--window-size=1280,720", path.as_uri()],
                   capture_output=True, text=True, timeout=120)
    rgb = (matplotlib.image.imread(shot)[..., :3] * 255).round().astype(int)

    def share(color: str, tol: int = 40) -> float:
        want = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
        return float((np.abs(rgb - want).sum(axis=-1) < tol).mean())

    from pytest_stress.report.breaking_chart import _BRACKET, _FAIL, _PASS

    shade = "#" + "".join(f"{round(255 - 0.35 * (255 - int(_BRACKET[i:i + 2], 16))):02x}" for i in (1, 3, 5))
    assert share(shade) > 0.001          # the bracket's band (35% opaque on white)
    assert share(_PASS) > 0.0002 and share(_FAIL) > 0.0002


# -- what a risk reader needs at a glance (issue 29) ------------------------------------------
def _screenshot_module():
    """benchmarks/report_screenshot.py, which draws docs/report.png from the same project."""
    import importlib.util

    path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "report_screenshot.py"
    spec = importlib.util.spec_from_file_location("report_screenshot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The README's trader without its guard (a timed-out exit that fills late leaves it short): the
#: screenshot's project, so that the page tested is the page shown.
RISK_CONFTEST = _screenshot_module().CONFTEST

RISK_TESTS = textwrap.dedent('''
    from hypothesis import Phase, given, settings
    from pytest_stress import stress
    from pytest_stress import strategies as sst

    @stress("Black Swan Combo", "Correlation Breakdown", verdict="seed")
    def test_single(stress_result):
        assert stress_result.max_drawdown < 60

    @stress("BTC Flash Crash 2021", bars=200)
    def test_coin_flip(stress_result):
        assert stress_result.final_equity > stress_result.initial_equity

    @settings(max_examples=4, deadline=None, database=None, phases=[p for p in Phase if p is not Phase.explain])
    @given(scenario=sst.scenarios(types=["flash_crash"], bars=120))
    def test_prop(stress_runner, scenario):
        assert stress_runner(scenario).max_drawdown < 1e-9
''')


def _measure_columns(page, tmp_path, width=1400):
    """Chromium lays the page out at ``width`` px: the right edge of every header of the summary table
    (written into the DOM by a script appended to a copy of the page), and console errors."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", """<script>
      var out = [];
      document.querySelectorAll('table.sortable th').forEach(function(th){
        out.push(th.textContent + '=' + Math.round(th.getBoundingClientRect().right));
      });
      document.body.setAttribute('data-columns', out.join('|'));
      document.body.setAttribute('data-width', String(document.documentElement.clientWidth));
    </script></body>"""), encoding="utf-8")
    dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          f"--window-size={width},900", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    cols = re.search(r'data-columns="([^"]*)"', dom.stdout).group(1)
    view = int(re.search(r'data-width="(\d+)"', dom.stdout).group(1))
    return {c.rsplit("=", 1)[0]: int(c.rsplit("=", 1)[1]) for c in cols.split("|")}, view, console, dom.stdout


def test_a_risk_reader_sees_verdicts_regressions_positions_and_property_tests(pytester, tmp_path, monkeypatch):
    """Two sessions (a baseline saved with detail, then a changed trader compared with it without
    thresholds), ``pytest-stress report`` of the detail and of a plain save; the live page rendered by
    Chromium at 1,400 px."""
    from pytest_stress.cli import main

    pytester.makeconftest(RISK_CONFTEST)
    pytester.makepyfile(test_risk=RISK_TESTS)
    common = ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly"]
    first = pytester.runpytest_subprocess(*common, "--stress-save=base.json", "--stress-save-detail")
    first.assert_outcomes(passed=2, failed=2)
    plain = pytester.runpytest_subprocess(*common, "-k", "single", "--stress-save=plain.json")
    plain.assert_outcomes(passed=2)
    monkeypatch.setenv("RISK_SIZE", "0.6")
    import importlib.util

    html_plugin = importlib.util.find_spec("pytest_html") is not None
    out = pytester.runpytest_subprocess(*common, "--stress-compare=base.json", "--stress-report=live.html",
                                        *(["--html=h.html", "--self-contained-html"] if html_plugin else []))
    out.assert_outcomes(passed=2, failed=2)
    if html_plugin:   # pytest-html's rows get the verdict and the comparison too
        h = (pytester.path / "h.html").read_text(encoding="utf-8")
        assert "stress verdict" in h and "vs baseline" in h
        assert "single seed 1163482350: one draw" in h and "FAIL: failed on" in h
        assert re.search(r"changed; max DD % [\d.]+ -&amp;gt; [\d.]+", h)   # its page holds rows as escaped JSON
    text = out.stdout.str()
    # 1. differences without thresholds: in the terminal...
    assert "stress differences from base.json" in text
    assert re.search(r"test_single\[black-swan-combo\]: max DD % [\d.]+ -> [\d.]+ \([+-][\d.]+, [+-][\d.]+%\)", text)
    assert "no --stress-compare-fail thresholds given" in text
    assert "compared case(s) moved against the baseline (listed under 'stress differences')" in text
    # 4. the property test is a case: in the summary table with its outcome
    assert re.search(r"test_prop \(property test: \d+ run\(s\)\) .*FAILED", text), text
    # 5. the failure section's numbers in their formats
    section = text[text.index("stress result: "):]
    assert re.search(r"final_equity\s+\d+\.\d\d\n", section) and not re.search(r"final_equity\s+\d+\.\d{5,}", section)
    saved = json.loads((pytester.path / "base.json").read_text())["results"]
    assert not any("test_prop" in t for t in saved)           # never saved: hypothesis's draws
    assert all("scenario_definition" in e for e in saved.values())
    page = (pytester.path / "live.html").read_text(encoding="utf-8")
    sections = _sections(page)
    swan = sections[case_anchor("test_risk.py::test_single[black-swan-combo]")]
    flip = sections[case_anchor("test_risk.py::test_coin_flip[btc-flash-crash-2021]")]
    prop = sections[case_anchor("test_risk.py::test_prop")]
    assert '<span class="fail">2 failed</span><span class="pass">2 passed</span>' in page   # 4: as pytest counts
    # 1. ...and in the report: the column, the table of baseline/now/change, each case's line
    assert ">vs baseline<" in page and 'id="baseline"' in page and ">changed<" in page
    assert "against base.json: max DD %" in swan
    # 2. the baseline's curve drawn from its detail entry
    assert ">baseline<" in swan
    # 3. signed exposure and positions; the unintended short named in the notes
    assert "net exposure" in swan and "position" in swan and ">short<" in swan
    assert re.search(r"unintended short: BTCUSDT -[\d.]+ from bar \d+ for \d+ bar\(s\)", swan)
    # 5. units, UTC, both kinds of window
    assert "true close (USDT)" in swan and "equity (USDT)" in swan and "time (UTC)" in swan
    assert "venue stress &gt;= 0.5" in swan and "scenario window" in swan
    # 6. the verdict's account: paths, failures, interval, worst failing seed and its rerun line, the distribution
    m = re.search(r"the assertion failed on <b>(\d+)</b> of <b>(\d+)</b> paths", flip)
    assert m and int(m.group(1)) > 0
    entry = saved["test_risk.py::test_coin_flip[btc-flash-crash-2021]"]
    assert f'class="worst-seed">{entry["worst_failing_seed"]}<' in flip
    assert "--stress-verdict=seed" in flip and f"--stress-seed={entry['worst_failing_seed']}" in flip
    assert 'id="' + case_anchor("test_risk.py::test_coin_flip[btc-flash-crash-2021]") + '-dist-final_equity-failed' \
        in flip and "initial_equity" in entry["asserted"]
    # 4. the property test's falsifying example, as Python
    assert "property test:" in prop and "Scenario(" in prop and "<svg" in prop
    assert len(page) < 5 * 120_000
    # 2. pytest-stress report: the detail save draws the market; a plain save says it has no charts
    assert main(["report", str(pytester.path / "base.json"), "-o", str(pytester.path / "saved.html")]) == 0
    saved_page = (pytester.path / "saved.html").read_text(encoding="utf-8")
    assert "true close (USDT)" in _sections(saved_page)[case_anchor("test_risk.py::test_single[black-swan-combo]")]
    assert "no charts" not in saved_page
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["report", str(pytester.path / "plain.json"), "-o", str(pytester.path / "plain.html")]) == 0
    assert "no charts: the file's entries hold figures only" in buf.getvalue()
    assert "no charts: the file" in (pytester.path / "plain.html").read_text(encoding="utf-8")
    if _chromium() is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium): the pages were checked as text")
    # 5. every column of the summary table within 1,400 px, liquidations included; no console errors
    cols, view, console, dom = _measure_columns(pytester.path / "live.html", tmp_path)
    assert console == []
    assert "liq" in cols and "vs baseline" in cols and len(cols) == 16
    assert max(cols.values()) <= view, (view, cols)
    assert dom.count("<section id=") == 4 and "scenario window" in dom


def test_seed_fragile_verdicts_are_named_on_the_page():
    """A verdict decided at the cap, or one that other paths would reverse often at its observed
    failure rate, is listed at the top of the page with why; a clear verdict is not."""
    from pytest_stress.result.verdicts import seed_fragility
    from pytest_stress.verdict import VerdictRule, rate_interval

    def case(fails, paths, verdict, at_cap=False):
        return {"scenario": "x", "seed": 1, "outcome": "passed" if verdict == "pass" else "failed",
                "paths_run": paths, "path_failures": fails, "verdict": verdict, "at_cap": at_cap,
                "failure_interval": list(rate_interval(fails, paths)), "rule": VerdictRule().as_dict(),
                "metrics": {"max_drawdown": 1.0}}

    clear, near, capped = case(0, 31, "pass"), case(10, 300, "pass"), case(15, 300, "fail", at_cap=True)
    assert seed_fragility(clear) is None
    assert "other paths would FAIL it 33% of the time" in seed_fragility(near)
    assert seed_fragility(capped).startswith("decided at the cap of 300 paths")
    page = build_report({"t[clear]": clear, "t[near]": near, "t[capped]": capped})
    top = page[page.index("seed-fragile verdicts"):page.index("<table")]
    assert "t[near]" in top and "t[capped]" in top and "t[clear]" not in top
    assert page.count('class="verdict fragile"') == 2
