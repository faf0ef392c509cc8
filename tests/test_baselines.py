"""Saved baselines in real pytest sessions: merging, write failures, broken files, options
that differ, cases missing, the closing line, and saving curves and trades."""
import json
import os
import stat
import textwrap

import pytest

from pytest_stress.plugin.storage import SCHEMA_VERSION
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
    out = res.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    expected = {"parent is a file": f"--stress-save: could not write '{target}' (FileExistsError: File exists); "
                                    "nothing was written",
                "a directory": f"--stress-save: '{target}' is a directory; give a file path such as "
                               f"'{target / 'baseline.json'}'",
                "disk full": f"--stress-save: could not write '{target}' (OSError: File too large); "
                             "the existing file is unchanged"}[case]
    assert expected in out
    assert "stress summary (worst drawdown first)" in out and "test_x[black-swan-combo]" in out
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
}


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
