"""The service's settings: where results go, how many workers, and its limits (each configurable)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Limits", "Settings", "LOOPBACK"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Limits:
    """What one server accepts. Over a limit: 413 (body, bars, paths, symbols) or 429 (active runs)."""

    max_body_bytes: int = 64 * 1024      #: request body, counted as it streams in
    max_bars: int = 200_000
    max_paths: int = 200
    max_symbols: int = 20
    max_work: int = 5_000_000            #: bars x symbols x paths of one run
    max_active: int = 64                 #: queued + running runs
    retry_after_s: int = 5               #: the Retry-After of a 429
    max_batch: int = 50                  #: scenarios in one batch
    max_search_paths: int = 5000         #: paths of one breaking-point search, in all (its max_runs)


@dataclass
class Settings:
    """Everything ``create_app`` needs. ``trader_factory`` is fixed here: no request names code."""

    trader_factory: Callable[[], Any]
    trader_label: str = "trader"
    trader_version: str | None = None    #: recorded with each run (--trader-version, or the module's __version__)
    db: str = "pytest-stress.db"
    db_reconnect_s: float = 5.0          #: how long the server's store calls keep trying a dropped database
    workers: int = 2
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    token: str | None = None             #: required as ``Authorization: Bearer`` when set
    limits: Limits = field(default_factory=Limits)
    progress_every_s: float = 0.2        #: progress throttle in the worker (seconds)
    progress_every_bars: int = 0         #: also every N bars (0: time only)
    keepalive_s: float = 15.0            #: SSE keep-alive comment when idle
    sse_idle_timeout_s: float = 600.0    #: end a stream whose run shows no change for this long
    cancel_grace_s: float = 5.0          #: then a running run that ignores its cancel flag is killed
    compare_fail: tuple[str, ...] = ("max_drawdown:2", "total_pnl:10%")
    mp_context: str = "forkserver"
    dask_scheduler: str | None = None    #: run on this dask.distributed scheduler instead of local processes
