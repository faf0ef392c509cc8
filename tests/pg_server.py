"""A real PostgreSQL server for the service's tests, started and stopped by them.

``PgServer.start()`` runs ``initdb`` into a fresh temporary directory and ``pg_ctl start``
with ``listen_addresses=127.0.0.1`` on a free port, the unix socket in that directory, trust
authentication, and durability off (``fsync``: a test database lives for one session).
PostgreSQL refuses to run as root: as root the server runs as the unprivileged ``postgres``
user that Debian's package creates (``runuser -u postgres``), its directory owned by it.
``PgServer.find_bin()`` is None where no PostgreSQL binaries are installed; the tests then
skip, saying so (``.ci/run`` installs Debian's ``postgresql``, so they run in CI).
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SKIP_REASON = ("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin; "
               "install Debian's 'postgresql' package (.ci/run does) to run the PostgreSQL store tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One throw-away PostgreSQL cluster on 127.0.0.1; ``new_database()`` gives each test its own."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        root = os.geteuid() == 0   # postgres will not run as root: then it runs as an unprivileged user,
        # in a directory under /tmp that the user can reach ($TMPDIR may be root's own)
        self.dir = Path(tempfile.mkdtemp(prefix="pytest-stress-pg-", dir="/tmp" if root else None))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user: str | None = None
        if root:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pw = pwd.getpwnam("nobody")
            self.user = pw.pw_name
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    @staticmethod
    def find_bin() -> Path | None:
        """The directory holding initdb and pg_ctl, or None."""
        found = shutil.which("initdb")
        if found and (Path(found).resolve().parent / "pg_ctl").exists():
            return Path(found).resolve().parent
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                          key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
        return Path(versions[-1]).parent if versions else None

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        full = [str(self.bindir / cmd[0]), *cmd[1:]]
        if self.user is not None:
            full = ["runuser", "-u", self.user, "--", *full]
        out = subprocess.run(full, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(full)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}\n"
                               + (self.log_text() if cmd[0] == "pg_ctl" else ""))
        return out

    def log_text(self) -> str:
        try:
            return (self.dir / "server.log").read_text()
        except OSError:
            return ""

    def start(self) -> "PgServer":
        t0 = time.monotonic()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        for attempt in range(3):   # the free port may be taken by someone else meanwhile: try another
            try:
                self._start()
                break
            except RuntimeError:
                if attempt == 2 or "already in use" not in self.log_text():
                    raise
                self.port = _free_port()
        self.started_s = time.monotonic() - t0
        return self

    def _start(self) -> None:
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                "-c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", opts, "-w",
                  "-t", "60", "start", timeout=90)

    def restart(self, down_s: float = 0.0) -> float:
        """Stop the server (fast shutdown: every connection is closed), stay down ``down_s``
        seconds, start it again on the same port; how long it was unreachable, in seconds."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        t0 = time.monotonic()
        time.sleep(down_s)
        self._start()
        return time.monotonic() - t0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        import psycopg   # lazy: only where a PostgreSQL server runs

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


BACKENDS = ("sqlite", "postgresql")   #: the run store's two databases


def database(request, backend: str, path: Path) -> str:
    """``--db`` for ``backend``: the SQLite file ``path``, or a fresh database on the session's
    PostgreSQL server (the ``postgres`` fixture, requested only for that backend)."""
    return str(path) if backend == "sqlite" else request.getfixturevalue("postgres").new_database()


_SHARED: dict[str, object] = {"server": None, "users": 0}


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server (one per test process, shared by the modules that import
    this fixture); skipped where PostgreSQL is not installed, failed in CI ($CI set), which installs it."""
    bindir = PgServer.find_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(SKIP_REASON + " (CI is set: .ci/run should have installed it)")
        pytest.skip(SKIP_REASON)
    if _SHARED["server"] is None:
        _SHARED["server"] = PgServer(bindir).start()
    _SHARED["users"] += 1
    try:
        yield _SHARED["server"]
    finally:
        _SHARED["users"] -= 1
        if _SHARED["users"] == 0:
            server, _SHARED["server"] = _SHARED["server"], None
            server.stop()
