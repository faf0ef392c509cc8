"""Time limits stop the user's code, never the plugin's bookkeeping, and a case that does not stop
when interrupted costs at most itself (issue 28, items 2 and 3).

Real pytest sessions in subprocesses, real SIGALRM, real processes ended by the second stage."""
import json
import re
import textwrap
import time

import pytest

pytest.importorskip("pytest_timeout")

pytest_plugins = ["pytester"]


#: Only the plugins these sessions use: a pytest process (a session, each xdist worker) then starts
#: on 0.7 s of CPU, not 4 (README, "Start-up").
PLUGINS = ("--disable-plugin-autoload", "-p", "stress", "-p", "timeout", "-p", "xdist")


def run(pytester, *args):
    """tests/test_plugin.py's run(), with a time limit of its own (on code without the second stage
    these sessions hang) and only the plugins it uses."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *PLUGINS, "--stress-verdict=seed", *args,
                                         timeout=90)

THREE = textwrap.dedent('''
    from pytest_stress import stress

    @stress('BTC Flash Crash 2021', 'ETH Liquidity Collapse', 'Black Swan Combo', bars=200)
    def test_x(stress_result):
        pass
''')

#: The ETH case's trader catches the interruption at bar 17: once ("swallow", then it returns) or
#: in a loop that never ends ("forever"). The other two cases do nothing.
STUBBORN = textwrap.dedent('''
    import time
    import pytest

    class Stubborn:
        def __init__(self, mode):
            self.mode = mode
        def on_bar(self, ctx):
            if ctx.t != 17 or self.mode is None:
                return None
            while True:
                try:
                    time.sleep(10**6)
                except BaseException:
                    pass
                if self.mode == "swallow":
                    return None

    MODE = {mode!r}

    @pytest.fixture
    def trader_under_test(stress_scenario):
        return Stubborn(MODE if stress_scenario.name == "ETH Liquidity Collapse" else None)
''')


def _saved(pytester) -> list[str]:
    return sorted(json.loads((pytester.path / "out.json").read_text())["results"])


def test_a_time_limit_never_interrupts_the_plugins_bookkeeping(pytester):
    """The plugin's report hook (encoding a case's result) made slower than the limit: with
    pytest-timeout's own timer, which spans the whole test protocol, the limit fired inside that
    hook and pytest ended the session with INTERNALERROR (exit 3, nothing saved). The limit counts
    the case's own setup, call and teardown only."""
    pytester.makeconftest(textwrap.dedent('''
        import time
        import pytest
        import pytest_stress.plugin.hooks as hooks

        class Quiet:
            def on_bar(self, ctx):
                return None

        @pytest.fixture(scope="session")
        def trader_factory():
            return Quiet

        _summarize = hooks.summarize

        def slow_summarize(*args, **kwargs):   # the plugin's real bookkeeping, slower than the limit
            time.sleep(1.0)
            return _summarize(*args, **kwargs)

        hooks.summarize = slow_summarize
    '''))
    pytester.makepyfile(test_a=THREE)
    res = run(pytester, "--stress-timeout=0.5", "--stress-save=out.json")
    assert "INTERNALERROR" not in res.stdout.str() + res.stderr.str()
    res.assert_outcomes(passed=3)
    assert len(_saved(pytester)) == 3


def test_a_trader_that_swallows_the_interruption_is_stopped_at_its_next_bar(pytester):
    """`except BaseException: pass` around a sleep at bar 17: before, the case went on from bar 18 and
    passed, past its limit (a trader sleeping again on each later bar hung the session); now the run
    stops before its next bar and the case fails, naming the bar."""
    pytester.makeconftest(STUBBORN.format(mode="swallow"))
    pytester.makepyfile(test_a=THREE)
    started = time.monotonic()
    res = run(pytester, "--stress-timeout=1", "--stress-save=out.json", "-rE")
    assert time.monotonic() - started < 30    # not the second stage: the run stopped itself
    res.assert_outcomes(passed=2, failed=1)
    out = res.stdout.str()
    assert ("pytest-stress: ran past its time limit of 1 s; the trader caught the interruption and went on, so its "
            "run was stopped before its next bar, in scenario 'ETH Liquidity Collapse' (seed 1268758881) at bar 17 of "
            "200") in out
    assert re.search(r"test_x\[eth-liquidity-collapse\] +FAILED +FAILED: TimeLimitExceeded: ran past its time limit "
                     r"of 1 s, caught the interruption", out)
    assert _saved(pytester) == ["test_a.py::test_x[black-swan-combo]", "test_a.py::test_x[btc-flash-crash-2021]"]


def test_under_xdist_a_case_that_never_stops_costs_only_itself(pytester):
    """A trader that catches every interruption, forever: before, the session hung with the worker
    stuck; now its worker is ended grace seconds after the limit, pytest-xdist names the case as
    crashed, and the other cases pass and are saved."""
    pytester.makeconftest(STUBBORN.format(mode="forever"))
    pytester.makepyfile(test_a=THREE)
    started = time.monotonic()
    res = run(pytester, "-n", "2", "--stress-timeout=1", "--stress-timeout-grace=1", "--stress-save=out.json")
    assert time.monotonic() - started < 60
    res.assert_outcomes(passed=2, failed=1)
    assert re.search(r"worker 'gw\d' crashed while running 'test_a.py::test_x\[eth-liquidity-collapse\]'",
                     res.stdout.str())
    assert "so this xdist worker ends here" in res.stdout.str() + res.stderr.str()
    assert _saved(pytester) == ["test_a.py::test_x[black-swan-combo]", "test_a.py::test_x[btc-flash-crash-2021]"]


def test_without_xdist_a_case_that_never_stops_ends_the_session_saying_so(pytester):
    """Without xdist nothing can stop that case in its process: the session ends (exit code 1)
    naming the case and where it was, after saving the case that finished before it."""
    pytester.makeconftest(STUBBORN.format(mode="forever"))
    pytester.makepyfile(test_a=THREE)
    started = time.monotonic()
    res = run(pytester, "--stress-timeout=1", "--stress-timeout-grace=1", "--stress-save=out.json")
    assert time.monotonic() - started < 30
    assert res.ret == 1
    err = res.stdout.str() + res.stderr.str()
    assert ("pytest-stress: test_a.py::test_x[eth-liquidity-collapse] (setup) ran past its time limit of 1 s and was "
            "interrupted at its limit and did not stop within 1 s") in err
    assert "in on_bar" in err and "time.sleep(10**6)" in err
    assert "the session ends here (exit code 1); the cases after it did not run. The 1 finished case(s) were saved " \
           "to out.json" in err
    assert _saved(pytester) == ["test_a.py::test_x[btc-flash-crash-2021]"]


def test_a_c_loop_that_holds_the_gil_is_ended_by_the_backstop(pytester):
    """`sum(range(10**12))` never returns to Python: neither the alarm's handler nor the watchdog
    thread can run (it holds the GIL). Before, it ran on far past the limit; now faulthandler ends
    the process one grace period after the limit, with every thread's stack."""
    pytester.makeconftest(textwrap.dedent('''
        import pytest

        class CLoop:
            def __init__(self, here):
                self.here = here
            def on_bar(self, ctx):
                if self.here and ctx.t == 17:
                    sum(range(10**12))   # a C loop: no signal handler runs until it returns

        @pytest.fixture
        def trader_under_test(stress_scenario):
            return CLoop(stress_scenario.name == "ETH Liquidity Collapse")
    '''))
    pytester.makepyfile(test_a=THREE)
    started = time.monotonic()
    res = run(pytester, "--stress-timeout=1", "--stress-timeout-grace=1")
    assert time.monotonic() - started < 30
    assert res.ret == 1
    err = res.stderr.str()
    assert "Timeout (0:00:02)!" in err and "in on_bar" in err
