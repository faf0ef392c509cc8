"""Saved baselines in real pytest sessions: merging, write failures, broken files, options
that differ, cases missing, the closing line, and saving curves and trades; and the comparison's
judgement of a change against the paths' noise (path values), unit by unit."""
import json
import math
import os
import stat
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from pytest_stress.errors import StressError
from pytest_stress.plugin.compare import check, decode_path_values, parse_threshold
from pytest_stress.plugin.options import StressOptions
from pytest_stress.plugin.session import StressSession
from pytest_stress.plugin.storage import SCHEMA_VERSION
from pytest_stress.result.jsonform import encode
from pytest_stress.result.models import ScenarioResult
from test_plugin import CONFTEST, run

pytest_plugins = ["pytester"]

THREE = textwrap.dedent('''
    from pytest_stress import stress

    @stress("BTC Flash Crash 2021", "ETH Liquidity Collapse", "Black Swan Combo", bars=200)
    def test_x(stress_result):
        pass
''')

# A full disk, for real: files may not grow past 2,000 bytes in the pytest process (writes
# beyond fail with EFBIG instead of killing it with SIGXFSZ).
DISK_FULL = textwrap.dedent('''
    import os, resource, signal
    if os.environ.get("STRESS_TEST_DISK_FULL"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
''')

MODES = {"plain": [], "n2": ["-n", "2"]}


@pytest.fixture
def project(pytester):
    pytester.makeconftest(CONFTEST + DISK_FULL)
    pytester.makepyfile(test_a=THREE)
    return pytester


def _entries(path):
    return json.loads(path.read_text())["results"]


def _leftovers(directory):
    return sorted(p.name for p in directory.rglob("*.tmp"))


@pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))
def test_saving_one_case_merges_into_the_baseline(project, tmp_path, mode):
    base = tmp_path / "baseline.json"
    run(project, f"--stress-save={base}", *mode).assert_outcomes(passed=3)
    before = _entries(base)
    assert len(before) == 3
    res = run(project, f"--stress-save={base}", "-k", "black", *mode)
    res.assert_outcomes(passed=1, deselected=0 if mode else 2)
    res.stdout.fnmatch_lines(["stress results saved to *baseline.json (1 case(s) merged into what it held)"])
    after = _entries(base)
    assert sorted(after) == sorted(before)
    assert {k: v["metrics"] for k, v in after.items()} == {k: v["metrics"] for k, v in before.items()}
    if mode:
        return      # the rest does not depend on xdist
    run(project, f"--stress-save={base}", "--stress-scenario=eth-liquidity-collapse", *mode).assert_outcomes(passed=1)
    assert len(_entries(base)) == 3
    res = run(project, f"--stress-save={base}", "--stress-save-fresh", "-k", "black", *mode)
    res.stdout.fnmatch_lines(["stress results saved to *baseline.json (1 case(s) written afresh)"])
    assert list(_entries(base)) == ["test_a.py::test_x[black-swan-combo]"]
    assert _leftovers(tmp_path) == []


def test_a_version_1_baseline_is_read_and_upgraded_when_saved_into(project, tmp_path):
    base = tmp_path / "baseline.json"
    run(project, f"--stress-save={base}").assert_outcomes(passed=3)
    doc = json.loads(base.read_text())
    v1 = {"schema_version": 1, "pytest_stress_version": "0.1.0", "created": doc["created"],
          "options": {"exchange": "calm", "bars": None, "seed": None, "scenarios": []},
          "results": {k: {f: v[f] for f in ("scenario", "scenario_type", "seed", "success", "error", "metrics")}
                      for k, v in doc["results"].items()}}
    base.write_text(json.dumps(v1))
    res = run(project, f"--stress-compare={base}", "--stress-compare-fail=max_drawdown:0")
    assert res.ret == 0
    res.stdout.fnmatch_lines(["compared 3 case(s) with *baseline.json; thresholds: max_drawdown:0"])
    run(project, f"--stress-save={base}", "-k", "black").assert_outcomes(passed=1)
    doc = json.loads(base.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION == 2 and len(doc["results"]) == 3
    old = doc["results"]["test_a.py::test_x[eth-liquidity-collapse]"]
    assert old["options"] == {"exchange": "calm", "bars": None, "seed": None}   # the v1 file's, kept per entry
    new = doc["results"]["test_a.py::test_x[black-swan-combo]"]
    assert new["options"]["exchange"] == "calm" and "saved" in new


@pytest.mark.parametrize("case", ["parent is a file", "a directory", "disk full"])
def test_a_failed_write_is_a_clear_error_and_leaves_nothing_behind(project, tmp_path, monkeypatch, case):
    if case == "parent is a file":
        (tmp_path / "plain").write_text("not a directory")
        target = tmp_path / "plain" / "baseline.json"
    elif case == "a directory":
        target = tmp_path / "baselines"
        target.mkdir()
    else:
        target = tmp_path / "baseline.json"
        run(project, f"--stress-save={target}", "-k", "black").assert_outcomes(passed=1)
        monkeypatch.setenv("STRESS_TEST_DISK_FULL", "1")
    before = target.read_bytes() if target.is_file() else None
    res = run(project, f"--stress-save={target}")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    out = res.stdout.str() + res.stderr.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    # a path that cannot be a file is refused at start-up, before any case runs; a write that
    # fails anyway (a full disk) is said after the run, with the summary
    expected = {"parent is a file": f"--stress-save '{target}': '{target.parent}' is a file, not a folder",
                "a directory": f"--stress-save '{target}': is a directory; give a file path such as "
                               f"'{target / 'baseline.json'}'",
                "disk full": f"--stress-save: could not write '{target}' (OSError: File too large); "
                             "the existing file is unchanged"}[case]
    assert expected in out
    if case == "disk full":
        assert "stress summary (worst drawdown first)" in out and "test_x[black-swan-combo]" in out
    else:
        assert "test_x[black-swan-combo]" not in out and "passed" not in out
    if before is not None:
        assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_a_saved_file_follows_the_umask(project, tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    base = tmp_path / "baseline.json"
    run(project, f"--stress-save={base}", "-k", "black").assert_outcomes(passed=1)
    assert stat.S_IMODE(base.stat().st_mode) == 0o666 & ~umask


BROKEN = {
    "not UTF-8": (b'{"schema_version": 2, "results": {"caf\xe9": {}}}',
                  "is not UTF-8 text (byte 0xe9 at offset 38)"),
    "an entry that is a string": (json.dumps({"schema_version": 2, "results": {"test_a.py::t": "fast"}}).encode(),
                                  "entry 'test_a.py::t' is a str ('fast'); expected a mapping with 'metrics'"),
    "metrics a list": (json.dumps({"schema_version": 2, "results": {"test_a.py::t": {"metrics": [1, 2]}}}).encode(),
                       "entry 'test_a.py::t': 'metrics' is a list; expected a mapping of metric -> number"),
    "a metric 'abc'": (json.dumps({"schema_version": 1, "results": {"test_a.py::t": {"metrics": {
        "max_drawdown": "abc"}}}}).encode(),
        "entry 'test_a.py::t': metric 'max_drawdown' = 'abc'; expected a number"),
    # issue 28, item 7: these three disabled the regression gate in silence ("compared 1 case(s)", exit 0)
    "an entry without metrics": (json.dumps({"schema_version": 2, "results": {"test_a.py::t": {"seed": 1}}}).encode(),
                                 "entry 'test_a.py::t' has no 'metrics'; every entry --stress-save writes has them"),
    "empty metrics": (json.dumps({"schema_version": 2, "results": {"test_a.py::t": {"metrics": {}}}}).encode(),
                      "entry 'test_a.py::t' has empty 'metrics'"),
    "a metric 1e999": (b'{"schema_version": 2, "results": {"test_a.py::t": {"metrics": {"max_drawdown": 1e999}}}}',
                       "entry 'test_a.py::t': metric 'max_drawdown' is the JSON number inf (a number out of range "
                       "such as 1e999"),
}


def test_a_null_metric_in_the_baseline_is_an_error_not_a_pass(project, tmp_path):
    """A baseline entry whose judged metric is null (it is always a number) used to find no regression,
    whatever the run did; now the session fails with exit code 4 naming the file, entry and metric."""
    base = tmp_path / "baseline.json"
    run(project, f"--stress-save={base}", "-k", "black").assert_outcomes(passed=1)
    doc = json.loads(base.read_text())
    entry = doc["results"]["test_a.py::test_x[black-swan-combo]"]
    entry["metrics"]["max_drawdown"] = None
    entry.pop("path_values", None)
    base.write_text(json.dumps(doc))
    res = run(project, f"--stress-compare={base}", "--stress-compare-fail=max_drawdown:1", "-k", "black")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    out = res.stdout.str()
    assert (f"--stress-compare: '{base}', entry 'test_a.py::test_x[black-swan-combo]': metric 'max_drawdown' is null, "
            "but it is always a number (this run: ") in out
    assert "--stress-compare-fail max_drawdown:1 cannot judge it; the file is damaged: re-save this case" in out


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_baseline_names_the_file_and_the_entry(project, tmp_path, case):
    content, message = BROKEN[case]
    base = tmp_path / "baseline.json"
    base.write_bytes(content)
    res = run(project, f"--stress-compare={base}", "-k", "black")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    out = res.stdout.str()
    assert f"--stress-compare: '{base}'" in out and message in out
    assert "Traceback" not in out and "stress summary (worst drawdown first)" in out
    res = run(project, f"--stress-save={base}", "-k", "black")     # not merged into, not overwritten
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stdout.fnmatch_lines(["*not merging into a file that cannot be read; fix or remove it, or start afresh "
                              "with --stress-save-fresh*"])
    assert base.read_bytes() == content
    run(project, f"--stress-save={base}", "--stress-save-fresh", "-k", "black").assert_outcomes(passed=1)
    assert len(_entries(base)) == 1


def test_other_options_and_missing_cases_are_said(project, tmp_path):
    base = tmp_path / "baseline.json"
    run(project, f"--stress-save={base}", "-k", "not black").assert_outcomes(passed=2)
    res = run(project, f"--stress-compare={base}", "--stress-exchange=stressed")
    assert res.ret == 0
    res.stdout.fnmatch_lines([
        "*stress baseline warnings*",
        '2 case(s) of *baseline.json were saved under other options than this run\'s: exchange "calm" in the '
        'baseline, "stressed" now; compared anyway (--stress-compare-strict makes this an error):',
        "    test_a.py::test_x[btc-flash-crash-2021]",
        "    test_a.py::test_x[eth-liquidity-collapse]",
        "1 case(s) not in *baseline.json (not compared; add them with --stress-save=*baseline.json):",
        "    test_a.py::test_x[black-swan-combo]",
    ])
    res = run(project, f"--stress-compare={base}", "--stress-exchange=stressed", "--stress-compare-strict")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stdout.fnmatch_lines(['*--stress-compare-strict: *baseline.json was made under other options than this run '
                              'for 2 case(s) (exchange "calm" in the baseline, "stressed" now)*',
                              "*stress summary (worst drawdown first)*"])
    assert "compared 0 case(s)" in res.stdout.str()
    res = run(project, f"--stress-compare={base}", "--stress-compare-strict", "-k", "not black")
    assert res.ret == 0 and "stress baseline warnings" not in res.stdout.str()


def test_a_session_failed_by_regressions_alone_says_so_in_its_closing_line(project, tmp_path, monkeypatch):
    base = tmp_path / "baseline.json"
    run(project, f"--stress-save={base}", "-k", "eth").assert_outcomes(passed=1)
    monkeypatch.setenv("STRESS_TEST_WORSE", "1")
    for mode in MODES.values():
        res = run(project, f"--stress-compare={base}", "--stress-compare-fail=max_drawdown:0", "-k", "eth", *mode)
        assert res.ret == pytest.ExitCode.TESTS_FAILED
        res.assert_outcomes(passed=1)
        assert res.outlines[-1].startswith("===") and "1 passed" in res.outlines[-1]
        assert ", 1 regressed (--stress-compare-fail)" in res.outlines[-1]


@pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))
def test_save_detail_keeps_curves_and_trades(project, tmp_path, mode):
    project.makepyfile(test_b=textwrap.dedent('''
        from pytest_stress import stress

        @stress("ETH Liquidity Collapse", paths=2, bars=200)
        def test_mc(stress_result):
            pass
    '''))
    base = tmp_path / "detail.json"
    run(project, f"--stress-save={base}", "--stress-save-detail", *mode).assert_outcomes(passed=4)
    entries = _entries(base)
    one = entries["test_a.py::test_x[eth-liquidity-collapse]"]
    assert len(one["detail"]) == 1
    result = ScenarioResult.from_dict(one["detail"][0])
    assert len(result.equity_curve) == len(result.timestamps) == 200
    assert result.total_trades > 0 and len(result.trades) > 0
    assert result.final_equity == pytest.approx(one["metrics"]["final_equity"], rel=1e-12)
    mc = entries["test_b.py::test_mc[eth-liquidity-collapse]"]   # the worst path's run and the fan of both paths
    assert len(mc["detail"]) == 1 and mc["detail"][0]["seed"] == mc["worst_seed"] and mc["fan"]["sample"] == 2
    run(project, f"--stress-save={base}", "-k", "black", *mode).assert_outcomes(passed=1)
    entries = _entries(base)
    assert "detail" not in entries["test_a.py::test_x[black-swan-combo]"]
    assert "detail" in entries["test_a.py::test_x[eth-liquidity-collapse]"]     # merged, kept


# -- judging a change against the paths' noise (path_values) --------------------------------------

def _paths(seed, n=40, scale=1.0, shift=0.0):
    """Drawdown-like values per path (median ~11.5, p95 ~19, as the Monte Carlo example's)."""
    return list(np.random.default_rng(seed).gamma(8, 1.5, n) * scale + shift)


def _check(base_paths, now_paths, threshold="max_drawdown:2", metric="max_drawdown"):
    base, now = {metric: float(np.median(base_paths))}, {metric: float(np.median(now_paths))}
    return check("t", base, now, parse_threshold(threshold), baseline_paths={metric: base_paths},
                 now_paths={metric: now_paths})


def test_an_unchanged_system_is_never_a_regression_and_noise_rarely():
    same = _paths(1)
    for threshold in ("max_drawdown:0", "max_drawdown:2", "max_drawdown:0%"):
        assert _check(same, list(same), threshold) is None
    # another draw of the same system: its median moves by a point or more, which the point check flags
    flagged_by_paths = flagged_by_point = 0
    for seed in range(100):
        a, b = _paths(seed), _paths(1000 + seed)
        flagged_by_paths += _check(a, b, "max_drawdown:0") is not None
        flagged_by_point += check("t", {"max_drawdown": np.median(a)}, {"max_drawdown": np.median(b)},
                                  parse_threshold("max_drawdown:0")) is not None
    assert flagged_by_paths <= 6          # the one-sided error of a 95% interval: 2.5%, and noise
    assert flagged_by_point > 35          # about half


def test_a_doubling_is_always_a_regression_and_says_how_it_was_decided():
    for seed in range(30):
        reg = _check(_paths(seed, 30), _paths(500 + seed, 30, scale=2.0))
        assert reg is not None and reg.shift is not None and reg.shift.low > 2 and reg.point is None
    text = reg.describe()
    assert text.startswith(f"max_drawdown: median {reg.baseline:.1f} -> {reg.now:.1f} (30 -> 30 paths), shift +")
    assert "[95% CI +" in text and "] beyond allowed 2 (higher is worse; " in text
    assert "Hodges-Lehmann, Mann-Whitney" in text


def test_directions_percent_and_no_direction():
    base = _paths(3)
    # lower is worse: a fall of the return beyond 3 points is flagged, a rise is not
    ret = [-v for v in base]
    assert _check(ret, [v - 10 for v in ret], "total_return_pct:3", "total_return_pct") is not None
    assert _check(ret, [v + 10 for v in ret], "total_return_pct:3", "total_return_pct") is None
    # percent of the baseline's median (~11.5): 100% allows ~11.5 points
    assert _check(base, [v + 8 for v in base], "max_drawdown:100%") is None
    assert _check(base, [v + 8 for v in base], "max_drawdown:10%") is not None
    # no direction: either way, beyond the threshold
    assert _check(base, [v + 10 for v in base], "emergency_stops:2", "emergency_stops") is not None
    assert _check(base, [v - 10 for v in base], "emergency_stops:2", "emergency_stops") is not None
    assert "beyond allowed +-2" in _check(base, [v - 10 for v in base], "emergency_stops:2",
                                          "emergency_stops").describe()
    # a small real worsening is not beyond a threshold its interval straddles
    assert _check(base, [v + 1.5 for v in base], "max_drawdown:2") is None
    assert _check(base, [v + 4 for v in base], "max_drawdown:0") is not None


def test_without_path_values_the_point_comparison_says_why():
    b, n = {"max_drawdown": 6.5}, {"max_drawdown": 14.8}
    t = parse_threshold("max_drawdown:2")
    old = check("t", b, n, t, now_paths={"max_drawdown": _paths(1)})
    assert old.shift is None and old.describe() == (
        "max_drawdown: baseline 6.5, now 14.8, change +8.3 (+127.7%; one number per side: the baseline has no path "
        "values: it was saved before they were kept) (higher is worse; allowed max_drawdown:2)")
    assert "this run has no path values" in check("t", b, n, t, baseline_paths={"max_drawdown": _paths(1)}).point
    assert check("t", b, n, t).point == "the baseline and this run have no path values"
    few = check("t", b, n, t, baseline_paths={"max_drawdown": [6.0, 7.0, 6.5]},
                now_paths={"max_drawdown": [14.0, 15.0, 14.8, math.nan]})
    assert few.point == ("3 and 3 paths with a value are too few for a 95% interval of the change, which takes 4 "
                         "on each side")
    inf = check("t", {"profit_factor": 2.0}, {"profit_factor": 1.0}, parse_threshold("profit_factor:0.5"),
                baseline_paths={"profit_factor": [math.inf] * 10 + [2.0] * 30},
                now_paths={"profit_factor": [1.0] * 40})
    assert inf.point == "the paths hold infinite values, which have no shift"
    assert check("t", b, b, t, baseline_paths={}, now_paths={}) is None      # the metric missing: as before


def test_path_values_are_read_and_checked():
    assert decode_path_values(None, "x") is None
    got = decode_path_values({"max_drawdown": [1, 2.5, "inf", None, "nan"]}, "x")
    assert got["max_drawdown"][:3] == [1.0, 2.5, math.inf] and all(math.isnan(v) for v in got["max_drawdown"][3:])
    for raw, words in [([1, 2], "b.json: t: 'path_values' is a list; expected a mapping of metric -> list"),
                       ({"max_drawdown": 3}, "path_values['max_drawdown'] is a int; expected a list of numbers"),
                       ({"max_drawdown": [1, "abc"]}, "path_values['max_drawdown'][1] = 'abc'; expected a number")]:
        with pytest.raises(StressError) as info:
            decode_path_values(raw, "b.json: t")
        assert words in str(info.value)


def test_the_session_compares_path_values_where_both_sides_have_them():
    opts = StressOptions(compare="b.json", compare_fail=[parse_threshold("max_drawdown:2")])
    session = StressSession(SimpleNamespace(), opts)
    a, doubled = _paths(1), _paths(2, scale=2.0)

    def case(values, paths=True):
        out = {"metrics": encode({"max_drawdown": float(np.median(values))}), "outcome": "passed"}
        if paths:
            out["path_values"] = encode({"max_drawdown": values + [None]})     # a failed path: left out
        return out

    session.results = {"t::same": case(a), "t::worse": case(doubled), "t::old": case(doubled)}
    session._compare({"t::same": case(list(a)), "t::worse": case(a), "t::old": case(a, paths=False)})
    assert session.compared == 3
    by_test = {r.test: r for r in session.regressions}
    assert sorted(by_test) == ["t::old", "t::worse"]
    assert by_test["t::worse"].shift.sizes == (40, 40) and by_test["t::old"].shift is None
    assert "the baseline has no path values" in by_test["t::old"].describe()
