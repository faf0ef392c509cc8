"""The FastAPI application: the seven original endpoints under ``/api/stress-testing``, plus
cancel, live progress (server-sent events), history with regression checks, the report of
a run, and the dashboard at ``/``.

This module imports FastAPI; the rest of the package does not (``pytest_stress.service``
imports it only when serving). Requests name library scenarios, scenario types, numbers
and preset names only: the trader is the one the server was started with.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import json
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator, Literal, Union

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import __version__, library
from ..errors import StressError, close_matches
from ..result.breaking import short_note
from ..result.jsonform import decode_metrics, encode
from ..claims import MAX_CLAUSES
from .apidocs import docs_page
from .dashboard import DASHBOARD_HTML
from .openapi import ACCOUNT_PATTERN, EXCHANGES, METRICS, SCENARIO_TYPES, THRESHOLD_PATTERN, enum, errors, refine
from .pool import WorkerPool
from .security import BearerToken, BodyLimit, JsonOnly, TrustedHost
from .settings import LOOPBACK, Settings
from .specs import (CUSTOM, SpecError, custom_id, differences, planned_bars, resolve, run_settings, scenario_id,
                    settings_of)
from .store import ACTIVE, STATES, TERMINAL, RunStore, TooManyActive

__all__ = ["create_app", "PREFIX"]

log = logging.getLogger("pytest_stress")

PREFIX = "/api/stress-testing"
#: Report pages kept in memory (each 0.1 to 1 MB), the least recently used dropped first.
REPORTS_KEPT = 32

Scalar = Union[bool, int, float, str]


# a history's query (module level: the routes' annotations are strings, resolved in this module)
Against = Annotated[Literal["previous", "baseline"], Query()]
Thresholds = Annotated[list[Annotated[str, Field(pattern=THRESHOLD_PATTERN)]] | None, Query(max_length=50)]
HistoryLimit = Annotated[int, Query(ge=1, le=1000)]


def _as_list(value: Any) -> Any:
    """One clause of a check may come without its list."""
    return [value] if isinstance(value, dict) else value


class CheckClause(BaseModel):
    """One clause of what must hold on each path of a breaking-point search (``claims.py``)."""

    model_config = ConfigDict(extra="forbid")
    metric: str = Field(..., max_length=64, description="a metric of the path's run (pytest-stress metrics lists them)",
                        json_schema_extra=enum(METRICS))
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float = Field(..., allow_inf_nan=False)


class RunRequest(BaseModel):
    """A library scenario (``scenario_name``) or a custom one (``type`` and the rest), with overrides;
    with ``breaking_point``, a reverse stress test of it (docs/service.md)."""

    model_config = ConfigDict(extra="forbid")
    # not nullable: exactly one of scenario_name and type is given (the schema's oneOf), so neither may be null
    scenario_name: str = Field(None, min_length=1, max_length=200,  # type: ignore[assignment]
                               description="a library scenario name or id (or give type, for a custom scenario)")
    name: str | None = Field(None, max_length=200, description="custom scenario: its name (default: its type)")
    type: str = Field(None, max_length=64, json_schema_extra=enum(SCENARIO_TYPES),  # type: ignore[assignment]
                      description="custom scenario: its type (pytest-stress types lists them)")
    parameters: dict[str, Scalar] | None = Field(None, description="custom scenario: its parameters")
    symbols: list[Annotated[str, Field(min_length=1, max_length=32)]] | None = Field(
        None, min_length=1, json_schema_extra={"uniqueItems": True}, description="custom scenario: its symbols")
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    bars: int | None = Field(None, ge=2)
    paths: int | None = Field(None, ge=1, description="Monte Carlo market paths (default 1)")
    exchange: str = Field(None, json_schema_extra=enum(EXCHANGES),  # type: ignore[assignment]
                          description="exchange preset (default calm)")
    account: str = Field(None, max_length=200, pattern=ACCOUNT_PATTERN,  # type: ignore[assignment]
                         description="account preset, e.g. margin or perpetual:leverage=10 (default margin)")
    breaking_point: bool | Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="search the mildest severity at which the check fails (true), or the mildest value of "
                          "this parameter (its name, e.g. drop_pct)")
    search_range: list[Annotated[float, Field(allow_inf_nan=False)]] | None = Field(
        None, min_length=2, max_length=2,
        description="[low, high]: severities (default [0, 4]) or the parameter's values")
    precision: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="the bracket's width at most (default 0.05, or 1% of the parameter's range)")
    max_runs: int | None = Field(None, ge=1, description="the search's budget of paths (default: the server's limit)")
    check: Annotated[list[CheckClause], BeforeValidator(_as_list)] | None = Field(
        None, min_length=1, max_length=MAX_CLAUSES,
        description='what must hold on each path: clauses such as {"metric": "liquidations", "op": "<=", "value": 0}, '
                    "all of which must hold (one clause may be given without the list)")


class BatchRequest(BaseModel):
    """Library scenarios run together (``POST /scenarios/batch``, which waits for them)."""

    model_config = ConfigDict(extra="forbid")
    scenario_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(..., min_length=1)
    parallel: bool = True
    max_workers: int | None = Field(None, ge=1)
    bars: int | None = Field(None, ge=2)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    exchange: str = Field(None, json_schema_extra=enum(EXCHANGES))  # type: ignore[assignment]
    account: str = Field(None, max_length=200, pattern=ACCOUNT_PATTERN)  # type: ignore[assignment]


class BatchSubmit(BaseModel):
    """A batch of library scenarios, run as the workers allow (``POST /batches``)."""

    model_config = ConfigDict(extra="forbid")
    scenario_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(..., min_length=1)
    bars: int | None = Field(None, ge=2)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    exchange: str = Field(None, json_schema_extra=enum(EXCHANGES))  # type: ignore[assignment]
    account: str = Field(None, max_length=200, pattern=ACCOUNT_PATTERN)  # type: ignore[assignment]


class BaselineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str = Field(..., min_length=1, max_length=64)


def _iso(t: float | None) -> str | None:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds") if t else None


#: An RFC 3339 date-time (OpenAPI's ``format: date-time``): the offset is required. (pydantic's own
#: datetime also took numbers, 0.5 as a Unix time, and dates alone: not what the schema says.)
DATE_TIME = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
DATE_TIME_SCHEMA: dict[str, Any] = {"format": "date-time"}


def _epoch(t: str | None) -> float | None:
    """Seconds since the epoch of a query's RFC 3339 time (matched by ``DATE_TIME``); ValueError for
    one that does not exist (a 13th month)."""
    if t is None:
        return None
    try:
        return _dt.datetime.fromisoformat(t.replace("z", "Z")).timestamp()
    except ValueError as exc:
        raise ValueError(f"{t!r} is not a date and time that exists: {exc}") from None


def _finite(value: Any) -> Any:
    """``value`` with each non-finite float as the text JSON would have had (``NaN``, ``Infinity``):
    a 422 that echoes the input ``{"seed": NaN}`` could not be written as JSON, and became a 500."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class _Kept:
    """The pages or charts last built for stored runs, by ETag (a stored result never changes):
    at most ``size``, the least recently used dropped first; shared by the request threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _error(status: int, detail: Any, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _spec_error(exc: SpecError) -> JSONResponse:
    if exc.status == 422:
        return _error(422, [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}])
    return _error(exc.status, exc.message, field=exc.field)


def present(row: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """A run as the API shows it (``full``: with the whole summary, curves included)."""
    rid = row["id"]
    summary = json.loads(row["summary"]) if row.get("summary") else None
    total = row["bars_total"]
    bar = row["bar"]
    out = {"run_id": rid, "scenario_name": row["scenario"], "scenario_id": row["slug"], "state": row["state"],
           "error": row["error"], "failure": row.get("failure"), "created_at": _iso(row["created"]),
           "started_at": _iso(row["started"]), "finished_at": _iso(row["finished"]),
           "duration_s": round(row["finished"] - row["started"], 3) if row["finished"] and row["started"] else None,
           "progress": {"bar": bar, "bars": total, "fraction": round(max(bar + 1, 0) / total, 4) if total else None,
                        "equity": row["equity"], "drawdown": row["drawdown"],
                        "max_drawdown": row.get("max_drawdown")},
           "spec": json.loads(row["spec"]),
           "metrics": (summary or {}).get("metrics"),
           "result_url": f"{PREFIX}/results/{rid}", "events_url": f"{PREFIX}/results/{rid}/events",
           "report_url": f"{PREFIX}/results/{rid}/report"}
    bp = (summary or {}).get("breaking_point")
    if bp:
        out["breaking_point_note"] = short_note(bp)
        if full:
            out["breaking_point"] = bp
    if full and summary is not None:
        out["summary"] = summary
    return out


def _filed_under(scenario: str, spec: dict[str, Any]) -> str:
    """The id a stored run belongs under (``specs.scenario_id``), from its stored name and request."""
    return library.slug(scenario) if spec.get("library") else custom_id(scenario)


def create_app(settings: Settings) -> FastAPI:
    """The application for ``settings`` (its worker pool starts with it and stops with it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = RunStore(settings.db, reconnect_s=settings.db_reconnect_s)
        moved = store.refile(_filed_under)
        if moved:
            log.warning("%d stored run(s) filed under another scenario's id moved to their own (issue 30)", moved)
        lost = store.fail_interrupted(f"the server stopped while this run was running (found at restart, "
                                      f"{_iso(time.time())}); submit it again")
        if lost:
            log.warning("%d run(s) were running when the server stopped; marked failed: %s", len(lost), lost)
        client = None
        if settings.dask_scheduler:
            from distributed import Client   # lazy: the optional 'dask' extra, only with --dask-scheduler

            client = await asyncio.to_thread(Client, settings.dask_scheduler, timeout=30)
        pool = WorkerPool(settings, store, client.get_executor(pure=False) if client is not None else None)
        pool.start()
        app.state.store, app.state.pool = store, pool
        try:
            yield
        finally:
            await pool.stop()
            if client is not None:
                await asyncio.to_thread(client.close)
            store.close()

    # no /docs nor /redoc of FastAPI's: their scripts come from a CDN, blank offline (apidocs.py serves /docs)
    app = FastAPI(title="pytest-stress service", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Background stress-scenario runs against the trader this server was started with.")
    limits = settings.limits
    api = PREFIX
    reports = _Kept(REPORTS_KEPT)        # report pages (0.7 to 1.1 s of charts each)
    charts = _Kept(4 * REPORTS_KEPT)     # a run's equity or breaking-point chart

    def finished_run(request: Request, name: str, what: str, kind: str,
                     if_none_match: str | None) -> tuple[dict[str, Any], str] | Response:
        """The stored run ``name`` and the ETag of its ``kind`` of view, or the answer instead: 404
        (no such run), 409 (no result yet to ``what``) or 304 (the client's copy is current)."""
        row = find(request, name)
        if row is None:
            return _not_found(request, name)
        if not row.get("summary"):
            return _error(409, f"run {row['id']} is {row['state']}: it has no result to {what}")
        etag = f'"{row["id"]}-{int((row["finished"] or 0) * 1000)}{kind}"'
        if if_none_match == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return row, etag

    def store(request: Request) -> RunStore:
        return request.app.state.store

    def pool(request: Request) -> WorkerPool:
        return request.app.state.pool

    def find(request: Request, name: str) -> dict[str, Any] | None:
        """A run by its id, or the latest run of a scenario (name or id)."""
        row = store(request).get(name)
        if row is None:
            row = store(request).latest_of(_slug_of(request, name))
        return row

    def _slug_of(request: Request, name: str) -> str:
        """The id of the scenario ``name`` names: a library scenario (name or id), a custom
        scenario's id (``custom.…``) with runs stored, or else a custom scenario's name. Library
        and custom scenarios never share an id (``specs.custom_id``)."""
        try:
            return library.slug(library.get(name).name)
        except StressError:
            pass
        if name.startswith(CUSTOM) and store(request).latest_of(name) is not None:
            return name
        return custom_id(name)

    def submit(request: Request, fields: dict[str, Any], idem: str | None) -> tuple[dict[str, Any], bool]:
        scenario, spec = resolve(fields, limits)
        spec["settings"] = run_settings(scenario, spec, settings.trader_label, settings.trader_version)
        body = json.dumps(fields, sort_keys=True)
        row, created = store(request).add(secrets.token_hex(8), scenario.name, scenario_id(spec, scenario), spec,
                                          planned_bars(scenario, spec), idem_key=idem, idem_body=body,
                                          max_active=limits.max_active)
        if created:
            pool(request).notify()
        return row, created

    def too_busy() -> JSONResponse:
        return JSONResponse(
            {"detail": f"too many runs queued or running (this server's limit is {limits.max_active}); "
                       f"retry in {limits.retry_after_s} s"},
            status_code=429, headers={"Retry-After": str(limits.retry_after_s)})

    replayed: dict[int | str, dict[str, Any]] = {
        200: {"description": "the Idempotency-Key was seen before with this body: the same one again"}}

    @app.post(f"{api}/scenarios/run", status_code=202, summary="Submit a run (answered at once)",
              responses={**replayed, **errors(404, 409, 413, 422, 429)})
    def run(request: Request, req: RunRequest,
            idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> Response:
        try:
            row, created = submit(request, req.model_dump(), idempotency_key)
        except SpecError as exc:
            return _spec_error(exc)
        except TooManyActive:
            return too_busy()
        except KeyError:
            return _error(409, f"Idempotency-Key {idempotency_key!r} was already used with a different request "
                               "body; use a new key for a new run")
        shown = present(row)
        body = {"status": "submitted", "scenario_name": row["scenario"],
                "message": (f"Scenario {row['scenario']!r} submitted; follow it at {shown['events_url']}, "
                            f"read it at {shown['result_url']}") if created else
                           f"Idempotency-Key seen before: this is run {row['id']} (state {row['state']})",
                "run_id": row["id"], "state": row["state"], "result_url": shown["result_url"],
                "events_url": shown["events_url"], "report_url": shown["report_url"]}
        return JSONResponse(body, status_code=202 if created else 200, headers={"Location": shown["result_url"]})

    @app.post(f"{api}/scenarios/batch", summary="Run several library scenarios and wait for them (POST /batches "
                                                 "answers at once)", responses=errors(404, 413, 422, 429))
    async def batch(request: Request, req: BatchRequest) -> Response:
        if len(req.scenario_names) > limits.max_batch:
            return _error(413, f"scenario_names has {len(req.scenario_names)} names: over this server's limit "
                               f"of {limits.max_batch} per batch", field="scenario_names")
        common = {"bars": req.bars, "seed": req.seed, "exchange": req.exchange, "account": req.account}
        try:   # check every name before running any
            for name in req.scenario_names:
                resolve({"scenario_name": name, **common}, limits)
        except SpecError as exc:
            return _spec_error(exc)
        st = store(request)
        counts = await asyncio.to_thread(st.counts)
        if counts["queued"] + counts["running"] + len(req.scenario_names) > limits.max_active:
            return too_busy()
        width = 1 if not req.parallel else (req.max_workers or len(req.scenario_names))
        gate = asyncio.Semaphore(width)

        async def one(name: str) -> str:
            async with gate:
                row, _ = await asyncio.to_thread(submit, request, {"scenario_name": name, **common}, None)
                done = pool(request).finished_event(row["id"])
                while (await asyncio.to_thread(st.get, row["id"]))["state"] in ACTIVE:
                    try:
                        await asyncio.wait_for(done.wait(), 1.0)
                    except asyncio.TimeoutError:
                        pass
                return row["id"]

        try:
            ids = await asyncio.gather(*(one(n) for n in req.scenario_names))
        except (SpecError, TooManyActive):
            return too_busy()
        rows = [await asyncio.to_thread(st.get, i) for i in ids]
        shown = [present(r) for r in rows if r is not None]
        figures = aggregate(shown)
        return JSONResponse({"status": "finished", **figures, "failed": len(shown) - figures["successful"],
                             "results": shown})

    def aggregate(shown: list[dict[str, Any]]) -> dict[str, Any]:
        """A batch's figures: how many finished, the mean win rate and the worst drawdown of those."""
        ok = [r for r in shown if r["state"] == "finished"]
        metrics = [decode_metrics(r["metrics"] or {}, f"run {r['run_id']}") for r in ok]
        wins = [m["winrate"] for m in metrics
                if isinstance(m.get("winrate"), (int, float)) and m["winrate"] == m["winrate"]]
        return {"total_scenarios": len(shown), "successful": len(ok),
                "avg_winrate": sum(wins) / len(wins) if wins else 0.0,
                "worst_drawdown": max((m.get("max_drawdown") or 0.0 for m in metrics), default=0.0)}

    def batch_view(batch_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        shown = [present(r) for r in rows]
        states = [r["state"] for r in shown]
        state = ("queued" if all(x == "queued" for x in states) else
                 "running" if any(x in ACTIVE for x in states) else "finished")
        counts = {k: states.count(k) for k in STATES}
        return {"batch_id": batch_id, "state": state, **aggregate(shown), "failed": counts["failed"],
                "cancelled": counts["cancelled"], "queued": counts["queued"], "running": counts["running"],
                "created_at": _iso(min(r["created"] for r in rows)),
                "finished_at": _iso(max(r["finished"] or 0 for r in rows)) if state == "finished" else None,
                "batch_url": f"{api}/batches/{batch_id}", "results": shown}

    @app.post(f"{api}/batches", status_code=202,
              summary="Submit a batch of library scenarios (answered at once; GET /batches/{id} follows it)",
              responses={**replayed, **errors(404, 409, 413, 422, 429)})
    def submit_batch(request: Request, req: BatchSubmit,
                     idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> Response:
        if len(req.scenario_names) > limits.max_batch:
            return _error(413, f"scenario_names has {len(req.scenario_names)} names: over this server's limit "
                               f"of {limits.max_batch} per batch", field="scenario_names")
        common = {"bars": req.bars, "seed": req.seed, "exchange": req.exchange, "account": req.account}
        items = []
        try:   # every name checked before any is queued
            for name in req.scenario_names:
                scenario, spec = resolve({"scenario_name": name, **common}, limits)
                spec["settings"] = run_settings(scenario, spec, settings.trader_label, settings.trader_version)
                items.append((secrets.token_hex(8), scenario.name, scenario_id(spec, scenario), spec,
                              planned_bars(scenario, spec)))
        except SpecError as exc:
            return _spec_error(exc)
        st = store(request)
        try:
            batch_id, created = st.add_batch(secrets.token_hex(8), items, idem_key=idempotency_key,
                                             idem_body=json.dumps(req.model_dump(), sort_keys=True),
                                             max_active=limits.max_active)
        except TooManyActive:
            return too_busy()
        except KeyError:
            return _error(409, f"Idempotency-Key {idempotency_key!r} was already used with a different request "
                               "body; use a new key for a new batch")
        if created:
            pool(request).notify()
        view = batch_view(batch_id, st.batch_runs(batch_id))
        return JSONResponse(view, status_code=202 if created else 200, headers={"Location": view["batch_url"]})

    @app.get(f"{api}/batches/{{batch_id}}", summary="A batch: its state, figures and runs", responses=errors(404))
    def get_batch(request: Request, batch_id: str) -> Response:
        rows = store(request).batch_runs(batch_id)
        if not rows:
            return _error(404, f"no batch {batch_id!r} (POST {api}/batches makes one)")
        return JSONResponse(batch_view(batch_id, rows))

    @app.post(f"{api}/batches/{{batch_id}}/cancel", status_code=202, summary="Cancel a batch's queued and running runs",
              responses=errors(404, 409))
    def cancel_batch(request: Request, batch_id: str) -> Response:
        st = store(request)
        rows = st.batch_runs(batch_id)
        if not rows:
            return _error(404, f"no batch {batch_id!r} (POST {api}/batches makes one)")
        active = [r["id"] for r in rows if r["state"] in ACTIVE]
        if not active:
            return _error(409, f"batch {batch_id} has no queued or running run")
        for rid in active:
            st.request_cancel(rid)
        return JSONResponse(batch_view(batch_id, st.batch_runs(batch_id)), status_code=202)

    @app.get(f"{api}/scenarios/library", summary="The scenario library")
    def scenario_library() -> dict[str, Any]:
        out = [{"name": s.name, "id": library.slug(s.name), "type": s.type.value, "symbols": list(s.symbols),
                "bars": s.length()[0], "timeframe": s.length()[1], "seed": s.seed, "description": s.description,
                "parameters": {k: v for k, v in s.own_parameters().items()
                               if isinstance(v, (bool, int, float, str))}}
               for s in library.all()]
        return {"scenarios": out, "total": len(out)}

    @app.get(f"{api}/results", summary="Stored runs, newest first, paginated", responses=errors(422))
    def results(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
                state: Annotated[str, Query(json_schema_extra=enum(STATES))] = None,  # type: ignore[assignment]
                scenario: Annotated[str | None, Query(max_length=200)] = None,
                since: Annotated[str | None, Query(pattern=DATE_TIME, json_schema_extra=DATE_TIME_SCHEMA,
                                                   description="submitted at or after, e.g. 2026-12-07T10:00:00Z "
                                                               "(RFC 3339)")] = None,
                until: Annotated[str | None, Query(pattern=DATE_TIME, json_schema_extra=DATE_TIME_SCHEMA,
                                                   description="submitted before (RFC 3339)")] = None,
                ) -> Response:
        if state is not None and state not in STATES:
            return _error(422, [{"loc": ["query", "state"], "msg": f"state = {state!r}; expected one of "
                                 f"{', '.join(STATES)}", "type": "value_error"}])
        times = []
        for field, t in (("since", since), ("until", until)):
            try:
                times.append(_epoch(t))
            except ValueError as exc:
                return _error(422, [{"loc": ["query", field], "msg": f"{field}: {exc}", "type": "value_error"}])
        rows, total = store(request).page(limit, offset, state, _slug_of(request, scenario) if scenario else None,
                                          *times)
        return JSONResponse({"results": [present(r) for r in rows], "total": total, "limit": limit, "offset": offset})

    @app.get(f"{api}/results/{{name}}", summary="One run: by run id, or the latest run of a scenario",
             responses=errors(404))
    def result(request: Request, name: str) -> Response:
        row = find(request, name)
        if row is None:
            return _not_found(request, name)
        return JSONResponse(present(row, full=True))

    def _not_found(request: Request, name: str) -> JSONResponse:
        hints = close_matches(name, [s.name for s in library.all()])
        return _error(404, f"no run or scenario result named {name!r}"
                           + (f"; did you mean {' or '.join(map(repr, hints))}?" if hints else "")
                           + " (GET /results lists the stored runs)")

    @app.delete(f"{api}/results/{{name}}", status_code=204, summary="Delete a run, or every stored run of a scenario",
                responses=errors(404, 409))
    def delete(request: Request, name: str) -> Response:
        st = store(request)
        row = st.get(name)
        rows = [row] if row is not None else st.history(_slug_of(request, name), limit=1_000_000)
        if not rows:
            return _not_found(request, name)
        active = [r["id"] for r in rows if r["state"] in ACTIVE]
        if active:
            return _error(409, f"run(s) {', '.join(active)} still queued or running: cancel them first "
                               f"(POST {api}/results/ID/cancel)")
        st.delete([r["id"] for r in rows])
        return Response(status_code=204)

    @app.post(f"{api}/results/{{run_id}}/cancel", status_code=202, summary="Cancel a queued or running run",
              responses=errors(404, 409))
    def cancel(request: Request, run_id: str) -> Response:
        moved = store(request).request_cancel(run_id)
        if moved is None:
            return _not_found(request, run_id)
        before, state = moved
        if before in TERMINAL:
            return _error(409, f"run {run_id} is already {before}")
        return JSONResponse({"run_id": run_id, "state": state,
                             "message": "cancelled" if state == "cancelled" else
                             "cancel requested: the run stops at its next progress check"}, status_code=202)

    def existing_run(request: Request, run_id: str) -> str:
        """The path's run id, checked before a stream starts (a 404, not an empty stream)."""
        if store(request).get(run_id) is None:
            raise HTTPException(404, f"no run {run_id!r} (GET {api}/results lists the stored runs)")
        return run_id

    @app.get(f"{api}/results/{{run_id}}/events", response_class=EventSourceResponse,
             summary="Live progress as server-sent events (text/event-stream; resumable with Last-Event-ID)",
             responses=errors(404))
    async def events(request: Request, last_event_id: Annotated[str | None, Header()] = None,
                     after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                     run_id: str = Depends(existing_run)) -> AsyncIterator[ServerSentEvent]:
        st = store(request)
        seq = after or 0
        if last_event_id and last_event_id.isdigit() and len(last_event_id) < 18:
            seq = int(last_event_id)
        state = None
        idle_since = last_ping = time.monotonic()
        while True:
            row = await asyncio.to_thread(st.get, run_id)   # a thread: the loop never waits on the database
            if row is None:
                yield ServerSentEvent(event="end", data={"run_id": run_id, "state": "deleted"})
                return
            # progress first, then the state: the state read before the progress, so a run's
            # last progress row (written before its state moves) comes before its final state
            for p in await asyncio.to_thread(st.progress_after, run_id, seq):
                seq = p["seq"]
                idle_since = last_ping = time.monotonic()
                yield ServerSentEvent(event="progress", id=str(seq),
                                      data={"run_id": run_id, "bar": p["bar"], "bars": row["bars_total"],
                                            "equity": p["equity"], "drawdown": p["drawdown"],
                                            "max_drawdown": p["max_drawdown"], "state": row["state"]})
            if row["state"] != state:
                state = row["state"]
                idle_since = time.monotonic()
                yield ServerSentEvent(event="state", data={"run_id": run_id, "state": state})
            if state in TERMINAL:
                yield ServerSentEvent(event="end", data={"run_id": run_id, "state": state, "error": row["error"],
                                                         "metrics": present(row)["metrics"]})
                return
            now = time.monotonic()
            if now - idle_since > settings.sse_idle_timeout_s:
                yield ServerSentEvent(event="timeout", data={"run_id": run_id, "state": state,
                                                             "detail": "no progress for "
                                                                       f"{settings.sse_idle_timeout_s:g} s"})
                return
            if now - last_ping >= settings.keepalive_s:
                last_ping = now
                yield ServerSentEvent(comment="keep-alive")
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.1)

    @app.get(f"{api}/events", response_class=EventSourceResponse,
             summary="Live progress of every queued or running run, in one stream (text/event-stream)")
    async def all_events(request: Request) -> AsyncIterator[ServerSentEvent]:
        """One stream for a page that follows many runs (a browser opens at most 6 connections to a
        host: one stream per run froze the dashboard with 6 runs active). Each poll reads the runs
        queued or running and those it follows, in one query, and sends, per run: ``state`` when
        first seen or when its state changes, ``progress`` (its latest: bar, equity, drawdown,
        max_drawdown) when it moved, and ``end`` when it ended. No resume: a reconnecting client is
        sent the runs as they are now."""
        st = store(request)
        known: dict[str, tuple[str, int]] = {}   # run id -> (state, bar) as last sent
        idle_since = last_ping = time.monotonic()
        while True:
            rows = await asyncio.to_thread(st.live, list(known))
            for row in rows:
                rid, state, bar = row["id"], row["state"], row["bar"]
                before = known.get(rid)
                if before is not None and before[1] != bar and bar >= 0:   # moved: progress, then its state
                    yield ServerSentEvent(event="progress", data={
                        "run_id": rid, "bar": bar, "bars": row["bars_total"], "equity": row["equity"],
                        "drawdown": row["drawdown"], "max_drawdown": row.get("max_drawdown"), "state": state})
                if before is None or before[0] != state:
                    yield ServerSentEvent(event="state", data={
                        "run_id": rid, "state": state, "scenario_name": row["scenario"], "bar": bar,
                        "bars": row["bars_total"], "equity": row["equity"], "drawdown": row["drawdown"],
                        "max_drawdown": row.get("max_drawdown")})
                if before is None or before != (state, bar):
                    idle_since = last_ping = time.monotonic()
                if state in TERMINAL:
                    if before is not None:
                        shown = present(row)
                        yield ServerSentEvent(event="end", data={"run_id": rid, "state": state, "error": row["error"],
                                                                 "failure": row.get("failure"),
                                                                 "metrics": shown["metrics"]})
                    known.pop(rid, None)
                else:
                    known[rid] = (state, bar)
            for rid in set(known) - {r["id"] for r in rows}:   # deleted meanwhile
                known.pop(rid)
                yield ServerSentEvent(event="end", data={"run_id": rid, "state": "deleted"})
            now = time.monotonic()
            if not known and now - idle_since > settings.sse_idle_timeout_s:
                yield ServerSentEvent(event="timeout", data={"detail": "no run active for "
                                                                       f"{settings.sse_idle_timeout_s:g} s"})
                return
            if now - last_ping >= settings.keepalive_s:
                last_ping = now
                yield ServerSentEvent(comment="keep-alive")
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    @app.get(f"{api}/results/{{name}}/report", response_class=HTMLResponse, summary="The HTML report of a run",
             responses=errors(304, 404, 409, 501))
    def report(request: Request, name: str,
               if_none_match: Annotated[str | None, Header(max_length=200)] = None) -> Response:
        found = finished_run(request, name, "report", "", if_none_match)
        if isinstance(found, Response):
            return found
        row, etag = found
        page = reports.get(etag)
        if page is None:
            try:
                from ..report.html import build_report   # lazy: matplotlib only when a report is asked for
            except ImportError as exc:
                return _error(501, f"the HTML report is not available on this server: {exc}")
            summary = json.loads(row["summary"])
            spec = json.loads(row["spec"])
            shown = {k: v for k, v in spec.items() if k != "settings"}
            try:
                page = build_report({f"run[{row['slug']}][{row['id']}]": summary},
                                    options={"trader": settings.trader_label,
                                             "trader_version": (spec.get("settings") or {}).get("trader_version"),
                                             **shown},
                                    title=f"pytest-stress: {row['scenario']} (run {row['id']})")
            except StressError as exc:   # matplotlib missing, say
                return _error(501, f"the HTML report is not available on this server: {exc}")
            reports.put(etag, page)
        return HTMLResponse(page, headers={"ETag": etag, "Cache-Control": "private, no-cache"})

    @app.get(f"{api}/results/{{name}}/chart", response_class=Response,
             summary="The chart of a run (SVG): its equity and drawdown, or its breaking-point search's levels",
             responses={200: {"content": {"image/svg+xml": {}}, "description": "the chart"},
                        **errors(304, 404, 409, 501)})
    def run_chart(request: Request, name: str, of: Annotated[Literal["equity", "breaking"], Query()] = "equity",
                  if_none_match: Annotated[str | None, Header(max_length=200)] = None) -> Response:
        found = finished_run(request, name, "draw", f"-{of}", if_none_match)
        if isinstance(found, Response):
            return found
        row, etag = found
        svg = charts.get(etag)
        if svg is None:
            summary = json.loads(row["summary"])
            title = f"{row['scenario']} (run {row['id']})"
            try:
                if of == "breaking":
                    if not summary.get("breaking_point"):
                        return _error(409, f"run {row['id']} is not a breaking-point search (of=equity draws it)")
                    from ..report.breaking_chart import breaking_svg   # lazy: matplotlib only for a chart

                    bp = summary["breaking_point"]
                    svg = breaking_svg(bp, f"{title}: along {bp.get('axis', 'severity')}", gid=f"bp-{row['id']}")
                else:
                    if not summary.get("report"):
                        return _error(409, f"run {row['id']} has no chart data")
                    from ..report.charts import equity_svg   # lazy: matplotlib only for a chart

                    svg = equity_svg(summary["report"], title)
            except (ImportError, StressError) as exc:   # matplotlib missing
                return _error(501, f"the chart is not available on this server: {exc}")
            charts.put(etag, svg)
        return Response(svg, media_type="image/svg+xml",
                        headers={"ETag": etag, "Cache-Control": "private, no-cache"})

    @app.get(f"{api}/status", summary="Is the service up, and how busy")
    def status(request: Request) -> dict[str, Any]:
        st, p = store(request), pool(request)
        counts = st.counts()
        last = st.last_finished()
        return {"available": True, "executor_initialized": p.initialized, "workers": settings.workers,
                "running_tests": counts["running"], "queued_tests": counts["queued"],
                "completed_tests": counts["finished"], "failed_tests": counts["failed"],
                "cancelled_tests": counts["cancelled"],
                "last_run": None if last is None else {"run_id": last["id"], "scenario_name": last["scenario"],
                                                       "state": last["state"], "finished_at": _iso(last["finished"])},
                "trader": settings.trader_label, "version": __version__}

    @app.get(f"{api}/scenarios/{{name}}/history", summary="A scenario's runs and a regression check of the latest",
             responses=errors(404, 422))
    def history(request: Request, name: str, against: Against = "previous", threshold: Thresholds = None,
                limit: HistoryLimit = 50) -> Response:
        out = history_view(request, name, against, threshold, limit)
        return out if isinstance(out, Response) else JSONResponse(encode(out))

    @app.get(f"{api}/scenarios/{{name}}/history/chart", response_class=Response,
             summary="A scenario's key metrics run after run, its regressions marked (SVG)",
             responses={200: {"content": {"image/svg+xml": {}}, "description": "the chart"},
                        **errors(404, 422, 501)})
    def history_chart(request: Request, name: str, against: Against = "previous", threshold: Thresholds = None,
                      limit: HistoryLimit = 50) -> Response:
        out = history_view(request, name, against, threshold, limit)
        if isinstance(out, Response):
            return out
        try:
            from ..report.history_chart import history_svg   # lazy: matplotlib only when a chart is asked for
            from ..result.metrics import metric   # lazy: as above

            check_out = out["regression"]
            comparable = set(check_out["comparable_run_ids"]) | {check_out["latest_run_id"],
                                                                 check_out["against_run_id"]}
            runs = [{"run_id": r["run_id"], "comparable": r["run_id"] in comparable,
                     "label": (r["created_at"] or "")[5:16].replace("T", " "),
                     "metrics": decode_metrics(r["metrics"] or {}, f"run {r['run_id']}")}
                    for r in reversed(out["runs"])]
            names = list(dict.fromkeys([*(t.split(":")[0] for t in check_out["thresholds"]),
                                        "max_drawdown", "total_pnl", "sharpe_ratio"]))[:4]
            svg = history_svg(runs, [(n, metric(n).header) for n in names], latest=check_out["latest_run_id"],
                              against=check_out["against_run_id"],
                              regressed={r["metric"] for r in check_out["regressions"]}, passed=check_out["passed"],
                              title=f"{out['scenario_id']}: {len(runs)} runs")
        except (ImportError, StressError) as exc:   # matplotlib missing
            return _error(501, f"the chart is not available on this server: {exc}")
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, no-cache"})

    def history_view(request: Request, name: str, against: str, threshold: list[str] | None,
                     limit: int) -> dict[str, Any] | Response:
        """A scenario's runs and the regression check of its latest (``GET /scenarios/{name}/history``)."""
        from ..plugin.compare import check, parse_threshold   # lazy: the plugin's thresholds, only for history

        try:
            thresholds = [parse_threshold(t) for t in (threshold or settings.compare_fail)]
        except StressError as exc:
            return _error(422, [{"loc": ["query", "threshold"], "msg": str(exc), "type": "value_error"}])
        slug = _slug_of(request, name)
        st = store(request)
        rows = st.history(slug, limit)
        if not rows:
            return _not_found(request, name)
        # a breaking-point run's figures are one path at another severity: not compared with plain runs
        def spec_of(r: dict[str, Any]) -> dict[str, Any]:
            return json.loads(r["spec"])

        done = [r for r in rows if r["state"] == "finished" and r["summary"] and not spec_of(r).get("breaking_point")]
        pinned = st.pinned(slug)
        out: dict[str, Any] = {"scenario_id": slug, "runs": [present(r) for r in rows], "baseline_run_id": pinned}
        latest: dict[str, Any] | None = None
        ref: dict[str, Any] | None = None
        anchor: dict[str, Any] | None = None
        if against == "baseline":
            ref = st.get(pinned) if pinned else None
            if ref is None:
                return _error(404, f"no baseline pinned for {name!r}: PUT {api}/scenarios/{name}/baseline "
                                   '{"run_id": ...} pins one')
            anchor = ref   # the newest later run made as the baseline was
            base_key = settings_of(spec_of(ref))
            latest = next((r for r in done if r["n"] > anchor["n"]
                           and not differences(settings_of(spec_of(r)), base_key)), None)
            why = "the pinned baseline"
        else:
            anchor = latest = done[0] if done else None
            if latest is not None:   # the newest earlier run made under the same settings
                latest_key = settings_of(spec_of(latest))
                ref = next((r for r in done[1:] if not differences(settings_of(spec_of(r)), latest_key)), None)
            why = "the newest earlier finished run made under the same settings"
        key = settings_of(spec_of(anchor)) if anchor is not None else None
        comparable, unlike = [], []
        for r in rows:   # the rest of the history, each comparable with the anchor or why not
            if anchor is None or r["id"] == anchor["id"]:
                continue
            if spec_of(r).get("breaking_point"):
                unlike.append({"run_id": r["id"], "why": "a breaking-point search (one path at another severity)"})
            elif r["state"] != "finished" or not r["summary"]:
                unlike.append({"run_id": r["id"], "why": f"{r['state']}: no result"})
            else:
                diff = differences(settings_of(spec_of(r)), key or {})
                if diff:
                    unlike.append({"run_id": r["id"], "differs": diff,
                                   "why": "made under other settings: " + "; ".join(
                                       f"{k} {json.dumps(v[0])} (not {json.dumps(v[1])})" for k, v in diff.items())})
                else:
                    comparable.append(r["id"])
        check_out: dict[str, Any] = {"against": against, "thresholds": [str(t) for t in thresholds],
                                     "latest_run_id": latest and latest["id"], "against_run_id": ref and ref["id"],
                                     "settings": key, "comparable_run_ids": comparable, "not_comparable": unlike}
        if ref is not None:
            check_out["baseline"] = {"run_id": ref["id"], "why": why, "finished_at": _iso(ref["finished"]),
                                     "trader_version": settings_of(spec_of(ref)).get("trader_version")}
        if latest is not None:
            check_out["latest_trader_version"] = settings_of(spec_of(latest)).get("trader_version")
        if latest is None or ref is None or latest["id"] == ref["id"]:
            check_out.update(checked=False, passed=None, regressions=[], detail=(
                "nothing to compare: no finished run since the baseline was made under its settings "
                "(see not_comparable)" if against == "baseline" else
                "nothing to compare: needs two finished runs made under the same settings (scenario definition, "
                "paths, exchange, account, trader; see not_comparable)"))
        else:
            now_m = decode_metrics(json.loads(latest["summary"])["metrics"], f"run {latest['id']}")
            ref_m = decode_metrics(json.loads(ref["summary"])["metrics"], f"run {ref['id']}")
            found = [r for r in (check(slug, ref_m, now_m, t) for t in thresholds) if r is not None]
            check_out.update(checked=True, passed=not found,
                             detail=f"run {latest['id']} against {ref['id']}, {why}",
                             regressions=[{"metric": r.metric, "baseline": r.baseline, "now": r.now,
                                           "describe": r.describe()} for r in found])
        out["regression"] = check_out
        return out

    @app.put(f"{api}/scenarios/{{name}}/baseline", summary="Pin a finished run as the scenario's baseline",
             responses=errors(404, 409, 422))
    def pin(request: Request, name: str, req: BaselineRequest) -> Response:
        st = store(request)
        row = st.get(req.run_id)
        slug = _slug_of(request, name)
        if row is None or row["slug"] != slug:
            return _error(404, f"no run {req.run_id!r} of scenario {name!r}")
        if row["state"] != "finished":
            return _error(409, f"run {req.run_id} is {row['state']}: only a finished run can be a baseline")
        if json.loads(row["spec"]).get("breaking_point"):
            return _error(409, f"run {req.run_id} is a breaking-point search: its figures are one path at another "
                               "severity, not a baseline for the scenario's runs")
        st.pin(slug, req.run_id)
        return JSONResponse({"scenario_id": slug, "baseline_run_id": req.run_id})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:   # pages without an icon link (the report) ask for it: no icon, no 404
        return Response(status_code=204)

    page_headers = {"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src "
                                               "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
                    "X-Frame-Options": "DENY"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> Response:
        return HTMLResponse(DASHBOARD_HTML, headers=page_headers)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> Response:   # the API reference, rendered here from the schema: no CDN (apidocs.py)
        return HTMLResponse(docs_page(app.openapi()), headers=page_headers)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:   # FastAPI's ReDoc page is not served (a CDN's script): the reference is /docs
        return RedirectResponse("/docs", status_code=307)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:   # every method the path takes (Starlette's names only its first route's)
            methods = sorted({m for r in app.router.routes if r.matches(request.scope)[0] != Match.NONE
                              for m in (getattr(r, "methods", None) or ())})
            headers["Allow"] = ", ".join(methods)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": _finite(jsonable_encoder(exc.errors()))}, status_code=422)

    async def store_unreachable(request: Request, exc: Exception) -> Response:
        log.warning("%s %s: the run store is unreachable: %s: %s", request.method, request.url.path,
                    type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return JSONResponse({"detail": f"the run store is unreachable for now ({type(exc).__name__}); retry in "
                                       f"{limits.retry_after_s} s"},
                            status_code=503, headers={"Retry-After": str(limits.retry_after_s)})

    import sqlite3   # lazy: the store's driver errors, to answer 503 while the database is unreachable

    app.add_exception_handler(sqlite3.Error, store_unreachable)
    try:
        import psycopg   # lazy: as above, when installed
    except ImportError:
        pass
    else:
        app.add_exception_handler(psycopg.Error, store_unreachable)

    schema_of = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's schema with what it cannot know (``openapi.refine``), made once."""
        if not getattr(app.state, "schema_refined", False):
            refine(schema_of(), limits, token=bool(settings.token), prefix=api)
            app.state.schema_refined = True
        return schema_of()

    app.openapi = openapi   # type: ignore[method-assign]
    def routed(scope: dict[str, Any]) -> bool:
        """Whether a route takes this method at this path (a PUT to a GET-only path is then the router's 405)."""
        return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)

    app.add_middleware(JsonOnly, routed=routed)
    if settings.token:
        app.add_middleware(BearerToken, token=settings.token)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    hosts = list(dict.fromkeys([*LOOPBACK, *settings.allowed_hosts,
                                *([settings.host] if settings.host not in ("0.0.0.0", "::") else [])]))
    app.add_middleware(TrustedHost, allowed=hosts)
    return app
