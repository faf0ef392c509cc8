"""Worker processes die with their parent: a caller (or an xdist worker) killed by SIGKILL or the
OOM killer leaves no worker behind to hold its pipes open (issue 28, item 1).

Real processes and real signals, Linux only (the processes are found through /proc). Every test
kills what it started in a ``finally``."""
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes through /proc")

WT = str(Path(__file__).resolve().parents[1])   # the checkout under test, ahead of any installed copy

#: A caller of ``run_paths`` or ``run_batch`` with 2 workers whose trader sleeps 50 ms a bar
#: (ten seconds a path): the workers are busy when the caller is killed.
CALLER = textwrap.dedent('''
    import sys, time
    from pytest_stress import library, run_batch, run_paths

    class Slow:
        def on_bar(self, ctx):
            time.sleep(0.05)

    if sys.argv[1] == "run_paths":
        run_paths(library.get("BTC Flash Crash 2021", bars=200), Slow, 8, "calm", workers=2)
    else:
        run_batch(library.all()[:4], Slow, "calm", max_workers=2)
''')


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([WT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()   # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's zombie waits for whatever adopted it to reap it)."""
    s = _stat(pid)
    return s is not None and s[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = _stat(int(d))
            if s is not None and s[1] == pid and s[0] not in ("Z", "X"):
                out.append(int(d))
    return out


def _wait_for(what, timeout: float, step: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(step)
    return what()


def _kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _eof_within(fd: int, timeout: float) -> bool:
    """Whether the pipe ``fd`` reads to its end within ``timeout`` s (every writer closed it)."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready and not os.read(fd, 65536):
            return True
    return False


@pytest.mark.parametrize("call", ["run_paths", "run_batch"])
def test_workers_die_with_a_caller_killed_by_sigkill(call, tmp_path):
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    proc = subprocess.Popen([sys.executable, str(script), call], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    workers: list[int] = []
    try:
        workers = _wait_for(lambda: len(_children(proc.pid)) >= 2 and _children(proc.pid), 60) or []
        assert len(workers) == 2, f"{call}: 2 worker processes expected, found {workers or 'none'}"
        time.sleep(0.3)                               # the workers are inside their traders
        proc.kill()
        proc.wait(10)
        gone = _wait_for(lambda: not any(_alive(p) for p in workers), 5)
        assert gone, f"{call}: workers {[p for p in workers if _alive(p)]} outlived their parent by 5 s"
        # and nothing holds the caller's output pipes open: whoever reads them sees their end
        assert _eof_within(proc.stdout.fileno(), 5), f"{call}: the killed caller's stdout is still held open"
        assert _eof_within(proc.stderr.fileno(), 5), f"{call}: the killed caller's stderr is still held open"
    finally:
        proc.kill()
        proc.wait(10)
        _kill_all(workers)
        proc.stdout.close()
        proc.stderr.close()


SESSION_CONFTEST = textwrap.dedent('''
    import os, time
    import pytest

    class Slow:
        def on_bar(self, ctx):
            time.sleep(0.05)

    @pytest.fixture(scope="session")
    def trader_factory():
        with open(os.environ["XDIST_WORKER_PID"], "w") as f:   # the xdist worker running the case
            f.write(str(os.getpid()))
        return Slow
''')

SESSION_TEST = textwrap.dedent('''
    from pytest_stress import stress

    @stress("BTC Flash Crash 2021", paths=8, bars=200)
    def test_slow_paths(stress_result):
        assert stress_result.success
''')


def test_an_xdist_session_ends_when_a_worker_running_path_workers_is_killed(tmp_path):
    """SIGKILL of the xdist worker while its case's paths run on 2 path workers: the session ends
    (it used to wait forever for the orphans to let go of the worker's channel), naming the case."""
    (tmp_path / "conftest.py").write_text(SESSION_CONFTEST)
    (tmp_path / "test_mc.py").write_text(SESSION_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\nstress_path_workers = 2\n")
    pid_file = tmp_path / "xdist_worker.pid"
    session = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-n", "2",
                                "--stress-path-workers=2", "test_mc.py"], cwd=tmp_path,
                               env=_env(XDIST_WORKER_PID=str(pid_file)), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    workers: list[int] = []
    try:
        xdist_worker = int(_wait_for(lambda: pid_file.exists() and pid_file.read_text(), 60) or 0)
        assert xdist_worker, "the case never started on an xdist worker"
        workers = _wait_for(lambda: len(_children(xdist_worker)) >= 2 and _children(xdist_worker), 60) or []
        assert len(workers) == 2, f"2 path workers expected under the xdist worker, found {workers or 'none'}"
        time.sleep(0.3)                               # the path workers are inside their traders
        os.kill(xdist_worker, signal.SIGKILL)
        try:
            out, _ = session.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the session did not end within 60 s of its xdist worker's SIGKILL; path workers still "
                        f"alive: {[p for p in workers if _alive(p)]}")
        text = out.decode(errors="replace")
        assert session.returncode == 1, text
        assert re.search(r"worker 'gw\d+' crashed while running 'test_mc.py::test_slow_paths\[btc-flash-crash-2021\]'",
                         text), text
        assert "1 failed" in text, text
        assert not any(_alive(p) for p in workers)
    finally:
        try:
            os.killpg(session.pid, signal.SIGKILL)    # the session and its xdist workers
        except ProcessLookupError:
            pass
        session.wait(10)
        _kill_all(workers)
        session.stdout.close()
