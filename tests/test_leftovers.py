"""The suite's own check that no test leaves a process behind (tests/leftovers.py), in real sessions:
a test that orphans a process fails the session naming it, with and without xdist."""
import os
import signal
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ORPHAN = '''
import os, subprocess, sys

def test_orphans_a_sleeper():
    # a child that starts a sleeper and exits at once: the sleeper is an orphan
    subprocess.run([sys.executable, "-c", "import subprocess, sys; "
                    "p = subprocess.Popen(['sleep', '30'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, "
                    "stderr=subprocess.DEVNULL); open('sleeper.pid', 'w').write(str(p.pid))"], check=True)

def test_clean():
    subprocess.run(["true"], check=True)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check reads /proc")
@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["n0", "n2"])
def test_a_process_left_behind_fails_the_session_and_is_named(pytester, monkeypatch, xdist):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("LEFTOVER_GRACE", "1")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")     # only the plugins this needs: a quick start
    pytester.makepyfile(test_o=ORPHAN)
    try:
        res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "leftovers", "-p", "xdist", *xdist,
                                            "-o", "addopts=", "-W", "ignore")
        res.assert_outcomes(passed=2)
        assert res.ret == pytest.ExitCode.TESTS_FAILED
        res.stdout.fnmatch_lines(["*1 process(es) left behind by the tests*", "*pid *: sleep 30*"])
    finally:
        pid = int((pytester.path / "sleeper.pid").read_text())
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
