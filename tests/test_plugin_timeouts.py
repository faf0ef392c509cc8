"""The per-case time limit in real pytest sessions: a hung trader fails its case, naming the
scenario and the bar, and the session goes on (plain and under xdist)."""
import re
import textwrap
import time

import pytest

from test_plugin import run

pytest.importorskip("pytest_timeout")

pytest_plugins = ["pytester"]

HANGS = textwrap.dedent('''
    import time
    import pytest

    class Hangs:
        """Sleeps for eleven days at bar `at` (never, if at < 0)."""
        def __init__(self, at):
            self.at = at
        def on_bar(self, ctx):
            if ctx.t == self.at:
                time.sleep(10**6)

    @pytest.fixture
    def trader_under_test(stress_scenario):
        return Hangs(17 if stress_scenario.name == "ETH Liquidity Collapse" else -1)
''')

THREE = "@stress('BTC Flash Crash 2021', 'ETH Liquidity Collapse', 'Black Swan Combo'{extra})\n"


@pytest.fixture
def hangs(pytester):
    pytester.makeconftest(HANGS)
    return pytester


def _test_file(extra=""):
    return ("from pytest_stress import stress\n" + THREE.format(extra=extra)
            + "def test_x(stress_result):\n    pass\n")


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["plain", "n2"])
def test_a_hung_trader_fails_its_case_naming_the_scenario_and_bar(hangs, mode):
    hangs.makepyfile(test_a=_test_file())
    started = time.monotonic()
    res = run(hangs, "--stress-timeout=1.5", "-rf", *mode)
    assert time.monotonic() - started < 60
    res.assert_outcomes(passed=2, failed=1)   # a FAILED test, not an ERROR in a fixture
    out = res.stdout.str()
    assert ("Timeout (>1.5s) from pytest-timeout. pytest-stress: ran past its time limit of 1.5 s in scenario "
            "'ETH Liquidity Collapse' (seed 1268758881) at bar 17 of 1000 (") in out
    assert "(the limit is --stress-timeout / ini stress_timeout; set it with --stress-timeout" in out
    assert "time limit 1.5 s per case" in out
    res.stdout.fnmatch_lines(["FAILED test_a.py::test_x?eth-liquidity-collapse? - Failed: Timeout (>1.5s)*"])
    table = out[out.index("stress summary"):]
    assert re.search(r"test_x\[eth-liquidity-collapse\] +FAILED +FAILED: TimeLimitExceeded: ran past its time limit "
                     r"of 1\.5 s", table)
    assert "test_x[black-swan-combo]" in table and "test_x[btc-flash-crash-2021]" in table


def test_marker_and_ini_set_the_limit_and_the_default_applies(hangs):
    hangs.makepyfile(test_a=_test_file(extra=", timeout=1"), test_b=textwrap.dedent('''
        from pytest_stress import stress

        @stress("Black Swan Combo", bars=200)
        def test_default(stress_result, request):
            assert request.node.get_closest_marker("timeout").args == (300.0,)
    '''))
    res = run(hangs, "-p", "no:randomly")
    res.assert_outcomes(passed=3, failed=1)
    res.stdout.fnmatch_lines(["*ran past its time limit of 1 s in scenario 'ETH Liquidity Collapse'*at bar 17*"])
    hangs.makepyfile(test_a=_test_file())
    hangs.makeini("[pytest]\nstress_timeout = 1\n")
    res = run(hangs, "test_a.py")
    res.assert_outcomes(passed=2, failed=1)
    res.stdout.fnmatch_lines(["*ran past its time limit of 1 s in scenario 'ETH Liquidity Collapse'*"])


def test_pytest_timeouts_own_limit_is_named_as_the_one_that_applied(hangs):
    """With pytest-timeout's --timeout and no stress limit, the hint names --timeout, not --stress-timeout."""
    hangs.makepyfile(test_a="from pytest_stress import stress\n@stress('ETH Liquidity Collapse')\n"
                            "def test_x(stress_result):\n    pass\n")
    res = run(hangs, "--timeout=1")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*Timeout (>1.0s) from pytest-timeout. pytest-stress: ran past its time limit in "
                              "scenario 'ETH Liquidity Collapse'*at bar 17*(the limit is pytest-timeout's --timeout "
                              "(or its timeout ini option, or PYTEST_TIMEOUT); a stress case's own: --stress-timeout "
                              "or @stress(..., timeout=SECONDS))*"])


def test_without_pytest_timeout_an_explicit_limit_is_a_usage_error(hangs):
    hangs.makepyfile(test_a="from pytest_stress import stress\n@stress('Black Swan Combo', bars=200)\n"
                            "def test_x(stress_result):\n    pass\n")
    res = run(hangs, "-p", "no:timeout")
    res.assert_outcomes(passed=1)
    assert "no time limit per case (pytest-timeout is not installed)" in res.stdout.str()
    res = run(hangs, "-p", "no:timeout", "--stress-timeout=5")
    res.stderr.fnmatch_lines(["*--stress-timeout needs pytest-timeout to enforce it: pip install pytest-timeout*"])
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res = run(hangs, "--stress-timeout=soon")
    res.stderr.fnmatch_lines(["*--stress-timeout = 'soon': expected seconds, such as 300 or 2.5*"])
