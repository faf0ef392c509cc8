"""``@stress(..., breaking_point=...)`` in real pytest sessions: the body is the check, then it
asserts a safety margin on ``stress_result.breaking_point``; summary, save and -n 2."""
from __future__ import annotations

import json
from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = f'''
import sys

import pytest

sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from traders import LeveredLong   # a long of 4.9x its equity opened on the first bar and held


@pytest.fixture(scope="session")
def trader_factory():
    return LeveredLong
'''

TESTS = '''
from pytest_stress import Account, Scenario, stress

CRASH = Scenario("levered crash", "flash_crash", {"drop_pct": 0.3, "duration_bars": 6, "front": 1.0,
                 "noise_mult": 1.0, "recovery_pct": 0.0, "start": 0.5, "base_vol": 0.05}, bars=60, seed=7)
KW = dict(account=Account.perpetual(leverage=5), exchange="frictionless")


@stress(CRASH, breaking_point="drop_pct", precision=0.01, **KW)
def test_margin_holds(stress_result):
    assert stress_result.liquidations == 0
    assert stress_result.breaking_point.value >= 0.15


@stress(CRASH, breaking_point="drop_pct", precision=0.01, **KW)
def test_margin_too_thin(stress_result):
    assert stress_result.liquidations == 0
    assert stress_result.breaking_point.value >= 0.25, "we promised to survive a 25% crash"


@stress(CRASH, breaking_point=True, search_range=(0, 2), precision=0.1, **KW)
def test_no_margin_asserted(stress_result):
    assert stress_result.liquidations == 0
'''


def _run(pytester, *args):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_bp=TESTS)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_breaking_point_cases_assert_a_margin_and_are_saved(pytester):
    result = _run(pytester, "-n", "2", "--stress-save=bp.json")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    # the margin's assertion shows the answer; the body without one fails as the verdict would
    # (each on its own: under -n 2 the two failures are reported in either order)
    result.stdout.fnmatch_lines(["*AssertionError: we promised to survive a 25% crash*"])
    result.stdout.fnmatch_lines(
        ["*'levered crash' as defined is at or past its breaking point: breaks at severity 0.5* of 'levered crash'*"])
    assert "test_margin_holds[levered-crash] (breaks at drop_pct 0.1779 (holds at 0.1702))" in out
    saved = json.loads((pytester.path / "bp.json").read_text())
    entry = next(v for k, v in saved["results"].items() if "test_margin_holds" in k)
    bp = entry["breaking_point"]
    assert bp["status"] == "found" and bp["parameter"] == "drop_pct"
    assert bp["bracket"][1] - bp["bracket"][0] <= 0.01 and bp["evaluations"]["paths"] <= 330   # 318: tests/test_breaking.py says why
    assert bp["scenario_repr"].startswith("Scenario('levered crash @ drop_pct=0.177891'")
    assert [lv["verdict"] for lv in bp["levels"]][:3] == ["fail", "fail", "pass"]


def test_the_same_answer_without_xdist_and_a_bad_parameter_is_a_collection_error(pytester):
    result = _run(pytester, "-k", "margin_holds")
    result.assert_outcomes(passed=1)
    assert "breaks at drop_pct 0.1779 (holds at 0.1702)" in result.stdout.str()
    pytester.makepyfile(test_bad='''
from pytest_stress import stress

@stress("Black Swan Combo", breaking_point="drop_pct")
def test_x(stress_result):
    pass
''')
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_bad.py")
    bad.stdout.fnmatch_lines(["*parameter 'drop_pct' is ambiguous: 'flash_crash_drop_pct' or 'liquidity_drop_pct'*"])
    assert "Traceback" not in bad.stdout.str()


MOVED = '''
import functools

import pytest
from pytest_stress import Account, Scenario, stress
from traders import LeveredLong


@pytest.fixture(scope="session")
def trader_factory():
    return functools.partial(LeveredLong, 3.9)     # within a 4x account's limit

CRASH = Scenario("levered crash", "flash_crash", {"drop_pct": 0.3, "duration_bars": 6, "front": 1.0,
                 "noise_mult": 1.0, "recovery_pct": 0.0, "start": 0.5, "base_vol": 0.05}, bars=60, seed=7)


@stress(CRASH, breaking_point="drop_pct", search_range=(0.05, 0.5), precision=0.02,
        account=Account.perpetual(leverage=LEVERAGE), exchange="frictionless")
def test_margin(stress_result):
    assert stress_result.liquidations == 0
    assert stress_result.breaking_point.value >= 0.1
'''


def test_a_breaking_point_that_moved_below_the_baselines_is_a_regression(pytester):
    """More leverage (4x -> 5x isolated) liquidates at a shallower crash: this run fails where the
    baseline held. Its one path's metrics are not compared (they are one draw at one level)."""
    pytester.makeconftest(CONFTEST)
    args = ("-p", "no:cacheprovider", "-p", "no:randomly")
    pytester.makepyfile(test_moved=MOVED.replace("LEVERAGE", "4"))
    pytester.runpytest_subprocess(*args, "--stress-save=base.json").assert_outcomes(passed=1)
    pytester.makepyfile(test_moved=MOVED.replace("LEVERAGE", "5"))
    warned = pytester.runpytest_subprocess(*args, "--stress-compare=base.json")
    warned.assert_outcomes(passed=1)
    assert warned.ret == 0
    warned.stdout.fnmatch_lines(["*test_margin*: breaking point (drop_pct) moved: baseline breaks at drop_pct 0.2*, "
                                 "now breaks at drop_pct 0.1* it fails where the baseline held (fails the session "
                                 "with --stress-compare-fail)"])
    gated = pytester.runpytest_subprocess(*args, "--stress-compare=base.json", "--stress-compare-fail=max_drawdown:5")
    assert gated.ret == 1
    gated.stdout.fnmatch_lines(["*stress regressions against base.json*", "*test_margin*",
                                "*breaking point (drop_pct) moved*"])
    assert "max_drawdown" not in gated.stdout.str().split("stress regressions against")[1].split("If the change")[0]
    # the same system against itself: nothing moved
    pytester.makepyfile(test_moved=MOVED.replace("LEVERAGE", "4"))
    same = pytester.runpytest_subprocess(*args, "--stress-compare=base.json", "--stress-compare-fail=max_drawdown:0")
    assert same.ret == 0 and "breaking point (drop_pct) moved" not in same.stdout.str()
