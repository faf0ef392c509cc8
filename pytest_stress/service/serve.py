"""``pytest-stress serve``: its options, and running the app under uvicorn."""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Callable

from .database import describe, is_url
from .settings import LOOPBACK, Limits, Settings
from .store import RunStore

__all__ = ["add_arguments", "serve"]

log = logging.getLogger("pytest_stress")


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v}: expected a whole number >= 1")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``serve`` sub-command's options."""
    d = Limits()
    p.add_argument("--trader", required=True, metavar="MODULE:FACTORY",
                   help="the trader every run uses, fixed for the server's life (no request can name code)")
    p.add_argument("--trader-version", default=None, metavar="VERSION",
                   help="the trader's version, recorded with each run and shown beside a regression check "
                        "(default: the __version__ of the factory's module or its package, if it has one)")
    p.add_argument("--db", default="pytest-stress.db", metavar="FILE|URL",
                   help="where runs and results are kept: a SQLite file (default pytest-stress.db), or a "
                        "PostgreSQL URL such as postgresql://user@host:5432/stress (the README's \"The service\")")
    p.add_argument("--db-reconnect", type=float, default=5.0, metavar="SECONDS",
                   help="how long a call to a PostgreSQL --db that dropped the connection keeps trying to reach it "
                        "(default 5 s); a run's outcome that still cannot be written is kept and written when the "
                        "database is back")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs a token)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=_positive, default=2, metavar="N", help="worker processes (default 2)")
    p.add_argument("--token", default=os.environ.get("PYTEST_STRESS_TOKEN"), metavar="TOKEN",
                   help="bearer token required on every API call (default: $PYTEST_STRESS_TOKEN; generated and "
                        "written beside --db when binding to a non-loopback address)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="HOST",
                   help="another Host header value to accept (the bound host and localhost always are)")
    p.add_argument("--max-body", type=_positive, default=d.max_body_bytes, metavar="BYTES")
    p.add_argument("--max-bars", type=_positive, default=d.max_bars, metavar="N")
    p.add_argument("--max-paths", type=_positive, default=d.max_paths, metavar="N")
    p.add_argument("--max-symbols", type=_positive, default=d.max_symbols, metavar="N")
    p.add_argument("--max-search-paths", type=_positive, default=d.max_search_paths, metavar="N",
                   help="paths one breaking-point search may run in all (its max_runs; default %(default)s)")
    p.add_argument("--max-active", type=_positive, default=d.max_active, metavar="N",
                   help="queued + running runs before new ones get 429")
    p.add_argument("--compare-fail", action="append", default=None, metavar="METRIC:THRESHOLD",
                   help="regression thresholds of GET /scenarios/NAME/history (default max_drawdown:2, total_pnl:10%%)")
    p.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="send runs to this dask.distributed scheduler (e.g. tcp://10.0.0.5:8786) instead of "
                        "local worker processes; its workers need the trader's module and the --db file")
    p.add_argument("--sse-keepalive", type=float, default=15.0, metavar="SECONDS",
                   help="keep-alive comment on an idle event stream (default 15 s)")
    p.add_argument("--sse-idle-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="end an event stream whose run shows no change for this long (default 600 s)")
    p.add_argument("--progress-every", type=float, default=0.2, metavar="SECONDS",
                   help="how often a running run reports progress (default 0.2 s)")


def _token_file(db: str, token: str) -> Path:
    path = Path("pytest-stress.token") if is_url(db) else Path(db).with_suffix(".token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return path


def trader_version(factory: Callable[[], Any]) -> str | None:
    """The ``__version__`` of the factory's module, or of its top-level package, or that package's
    installed version; None if none is known."""
    import importlib.metadata   # lazy: once, at start
    import sys   # lazy: as above

    module = getattr(factory, "__module__", None) or ""
    for name in dict.fromkeys([module, module.partition(".")[0]]):
        version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str) and version:
            return version
    top = module.partition(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []) if top else []:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def settings_from(args: argparse.Namespace, factory: Callable[[], Any]) -> Settings:
    """The server's settings from its command line (a token made up when binding beyond loopback)."""
    token = args.token
    if args.host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(32)
        print(f"binding to {args.host}: every API call needs 'Authorization: Bearer <token>'; "
              f"the token is in {_token_file(args.db, token)} (mode 0600)", flush=True)
    limits = Limits(max_body_bytes=args.max_body, max_bars=args.max_bars, max_paths=args.max_paths,
                    max_symbols=args.max_symbols, max_active=args.max_active,
                    max_search_paths=args.max_search_paths)
    version = getattr(args, "trader_version", None) or trader_version(factory)
    return Settings(trader_factory=factory, trader_label=args.trader, trader_version=version, db=args.db,
                    db_reconnect_s=args.db_reconnect,
                    workers=args.workers, host=args.host, allowed_hosts=tuple(args.allowed_host), token=token,
                    limits=limits,
                    progress_every_s=args.progress_every, dask_scheduler=args.dask_scheduler,
                    keepalive_s=args.sse_keepalive, sse_idle_timeout_s=args.sse_idle_timeout,
                    compare_fail=tuple(args.compare_fail or Settings.compare_fail))


def serve(args: argparse.Namespace, factory: Callable[[], Any]) -> int:
    """Run the server until interrupted (uvicorn, one process; runs go to the worker pool)."""
    try:
        import uvicorn   # lazy: the optional 'server' extra, only when serving

        from .app import create_app   # lazy: FastAPI, only when serving
    except ImportError as exc:
        raise SystemExit(f"pytest-stress serve needs the 'server' extra: "
                         f"pip install 'pytest-stress-trading[server]' ({exc})") from None
    try:   # a --db that cannot be opened (bad URL, database server down): one line, before serving
        RunStore(args.db).close()
    except ValueError as exc:
        raise SystemExit(f"pytest-stress serve: {exc}") from None
    settings = settings_from(args, factory)
    app = create_app(settings)
    print(f"pytest-stress service on http://{args.host}:{args.port}/ (API under /api/stress-testing, "
          f"{settings.workers} workers, results in {describe(settings.db)})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=3)
    return 0


def run_command(parser: argparse.ArgumentParser, args: argparse.Namespace,
                load_factory: Callable[[str], Callable[[], Any]]) -> int:
    """``pytest-stress serve``: load the trader factory once (errors name it), then serve."""
    try:
        factory = load_factory(args.trader)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        factory()   # build one now: a factory that cannot build fails here, not in every run
    except Exception as exc:   # the user's factory: report what it raised, in one line
        parser.error(f"--trader {args.trader!r}: calling it to build a trader raised {type(exc).__name__}: {exc}")
    if args.compare_fail:
        from ..errors import StressError   # lazy: only to name a bad threshold

        from ..plugin.compare import parse_threshold   # lazy: checked at start, used per request

        for t in args.compare_fail:
            try:
                parse_threshold(t)
            except StressError as exc:
                parser.error(f"--compare-fail: {exc}")
    return serve(args, factory)
