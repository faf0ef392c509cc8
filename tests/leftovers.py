"""A pytest plugin for this suite: no test may leave a process behind (issue 28).

Each pytest process (the controller and every xdist worker) makes itself a child subreaper
(Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): a process orphaned below it (a pytester session's
path worker whose session ended, a server a test forgot) is re-parented to it instead of to
init, so it stays in view. At the end of the session every live process below it is listed
(from ``/proc``), after up to ``GRACE`` seconds for those already on their way out; any left
fails the session, named with its command line. An xdist worker reports its own to the
controller, which fails the session for them. The interpreter's own helpers (multiprocessing's
fork server and resource tracker, which end with it) are not counted. Elsewhere than Linux
nothing is checked.
"""
from __future__ import annotations

import ctypes
import os
import sys
import time

import pytest

#: Seconds a process below the session may take to end after the last test (env LEFTOVER_GRACE).
GRACE = float(os.environ.get("LEFTOVER_GRACE", "10"))
#: Command-line fragments of the interpreter's own helpers, which end with it.
_HELPERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker", "multiprocessing.semaphore_tracker")
_PR_SET_CHILD_SUBREAPER = 36
_KEY = "leftover_processes"


def _linux() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc")


def _table() -> dict[int, list[tuple[int, str]]]:
    """ppid -> [(pid, state)] of every process."""
    out: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out.setdefault(int(fields[1]), []).append((int(entry), fields[0]))
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "?"


def _reap() -> None:
    """Collect the exit status of ended children (orphans re-parented here become our zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def live_descendants(root: int, skip: tuple[int, ...] = ()) -> list[tuple[int, str]]:
    """``(pid, command line)`` of every live (not zombie) process below ``root``, the interpreter's
    helpers and the subtrees of ``skip`` left out."""
    table, out, todo = _table(), [], [root]
    while todo:
        for pid, state in table.get(todo.pop(), []):
            if pid in skip:
                continue
            todo.append(pid)
            cmd = _cmdline(pid)
            if state != "Z" and not any(h in cmd for h in _HELPERS):
                out.append((pid, cmd))
    return out


def _leftovers() -> list[tuple[int, str]]:
    deadline = time.monotonic() + GRACE
    while True:
        _reap()
        left = live_descendants(os.getpid())
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STASH] = []
    if _linux():
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


_STASH = pytest.StashKey[list]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist, on the controller: what a worker found below itself."""
    left = getattr(node, "workeroutput", {}).get(_KEY) or []
    node.config.stash[_STASH].extend((pid, f"{node.gateway.id}: pid {pid}: {cmd}") for pid, cmd in left)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _linux():
        return
    config = session.config
    workers = getattr(config, "workerinput", None)
    left = _leftovers()
    if workers is not None:                       # an xdist worker: the controller says it
        config.workeroutput[_KEY] = left
        return
    reported = config.stash[_STASH]               # a worker's orphans come here when it ends: said once
    seen = {pid for pid, _ in reported}
    found = [line for _, line in reported] + [f"pid {pid}: {cmd}" for pid, cmd in left if pid not in seen]
    if found:
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_sep("=", f"{len(found)} process(es) left behind by the tests", red=True)
            for line in found:
                tr.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
