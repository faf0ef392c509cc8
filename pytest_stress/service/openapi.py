"""The service's OpenAPI schema, made to tell the truth (issue 30 item 8): every status each
operation can answer, the enums and patterns of its fields, this server's own limits as maxima,
and, in words, the rules a JSON schema cannot state (``x-server-checks``).

FastAPI derives the schema from the request models and the route signatures; what it cannot
know is added here: the statuses the routes return themselves (``errors``), those the
middleware answers before any route (``refine``: 400, 401, 413, 415), and the limits, which are
the server's settings, not the models'. A schema-valid request that breaks a rule listed in an
operation's ``x-server-checks`` is a 422 naming that field; any other schema-valid request is
accepted (2xx), or answered 404 (an unknown name), 409 (a state that forbids it), 413 (over a
limit the schema cannot state) or 429 (too many runs active).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from ..account.rules import ACCOUNT_PRESETS
from ..exchange.config import PRESETS as EXCHANGE_PRESETS
from ..result.metrics import METRIC_FIELDS
from ..parameters import Param
from ..scenario.kinds import KINDS, params_for
from .settings import Limits

__all__ = ["ErrorBody", "enum", "errors", "refine", "SCENARIO_TYPES", "EXCHANGES", "ACCOUNT_PATTERN",
           "THRESHOLD_PATTERN", "METRICS", "RUN_CHECKS", "BATCH_CHECKS"]

#: Custom scenario types a request may name (not those that replay given data: no file paths).
SCENARIO_TYPES = [t.value for t, k in KINDS.items() if not k.needs_data]
EXCHANGES = list(EXCHANGE_PRESETS)
METRICS = list(METRIC_FIELDS)
#: An account preset, optionally with its options (``perpetual:leverage=10,mode=cross``).
ACCOUNT_PATTERN = "^(" + "|".join(ACCOUNT_PRESETS) + r")(:.*)?$"
#: A regression threshold: ``METRIC:NUMBER`` or ``METRIC:NUMBER%`` (``plugin.compare.parse_threshold``).
THRESHOLD_PATTERN = "^(" + "|".join(METRICS) + r"):[0-9]{1,12}(\.[0-9]{1,12})?%?$"

#: The rules of ``POST /scenarios/run`` beyond its schema, each a 422 naming the field (``specs.resolve``).
RUN_CHECKS = {
    "parameters": "garch_alpha + garch_beta < 1; each stress window (start, duration) fits in bars (the "
                  "names and ranges of each type's parameters are in the schema)",
    "symbols": "as many symbols as the type needs (correlation_breakdown, and a mixed_custom scenario "
               "with correlation_ parameters: 2)",
    "account": "an account preset's options are key=value pairs of that preset's keys, with valid values",
    "bars": "a library scenario's stress windows fit in the bars asked for",
    "breaking_point": "a parameter that scales with severity, of the scenario's type; true needs a scenario "
                      "with stress to scale (not synthetic)",
    "check": "required with breaking_point",
    "search_range": "with breaking_point only; low != high; a severity range is 0 <= low < high",
    "precision": "with breaking_point only",
    "max_runs": "with breaking_point only",
    "paths": "1 (or none) with breaking_point: a search decides each level over as many paths as it needs",
}
#: The rules of the batch operations beyond their schema (each a 422 naming the field).
BATCH_CHECKS = {k: RUN_CHECKS[k] for k in ("account", "bars")}


def enum(values: Iterable[str]) -> dict[str, Any]:
    """A field's ``json_schema_extra``: its values (the server checks them, a 422 naming the field)."""
    return {"enum": list(values)}


class ErrorBody(BaseModel):
    """An error: ``detail`` says what is wrong and what would be valid (a 422 lists the fields, each with
    its ``loc``); ``field`` names the request field when there is one."""

    detail: Any
    field: str | None = None


_WHY = {
    304: "not modified (If-None-Match matched the ETag)",
    400: "a body that is not JSON, or a Host header this server does not answer to",
    401: "missing or wrong bearer token (a server started with a token)",
    404: "no such run, batch or scenario (the detail names close matches)",
    409: "the run or batch is in a state that forbids it, or an Idempotency-Key reused with another body",
    413: "a request body, or a field (bars, paths, symbols, max_runs, scenario_names), over this server's limit",
    415: "a POST or PUT without Content-Type: application/json",
    422: "a field that is not valid (loc names it)",
    429: "too many runs queued or running: retry after Retry-After seconds",
    501: "the HTML report cannot be built on this server (matplotlib missing)",
    503: "the run store is unreachable for now: retry after Retry-After seconds",
}


_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with why, as an ``ErrorBody`` in JSON (also on a route whose
    own answer is HTML or an event stream: FastAPI would give a ``model`` the route's media type)."""
    return {s: ({"description": _WHY[s]} if s == 304 else {"description": _WHY[s], "content": _ERROR_CONTENT})
            for s in statuses}


def _error_response(status: int) -> dict[str, Any]:
    return {"description": _WHY[status], "content": _ERROR_CONTENT}


#: the largest seed (pydantic's schema writes 2**63 - 1 as the float 9.223372036854776e+18, which allows
#: seeds above it)
SEED_MAX = 2**63 - 1


def _param(p: Param) -> dict[str, Any]:
    """One scenario parameter's schema, as ``Param.validate`` takes it from a request (a scalar)."""
    if p.kind == "bool":   # true or false, or 0 or 1
        return {"anyOf": [{"type": "boolean"}, {"enum": [0, 1]}], "description": p.doc}
    if p.kind in ("choice", "choices"):   # a request's parameters are scalars: one choice
        return {"type": "string", "enum": list(p.choices), "description": p.doc}
    out: dict[str, Any] = {"type": "integer" if p.kind == "int" else "number", "description": p.doc}
    if p.low is not None:
        out["minimum" if p.low_inclusive else "exclusiveMinimum"] = p.low
    if p.high is not None:
        out["maximum"] = p.high
    return out


def _run_forms() -> list[dict[str, Any]]:
    """``RunRequest``'s ``oneOf``: a library scenario (``scenario_name``), or one branch per custom type with
    that type's parameters, their names and ranges (``scenario.kinds.params_for``)."""
    # each form forbids the other's key (a false schema): else a request with both keys whose custom part
    # failed its branch would still match the library branch alone
    forms: list[dict[str, Any]] = [{"title": "a library scenario", "required": ["scenario_name"],
                                    "properties": {"type": False}}]
    for t in SCENARIO_TYPES:
        params = {name: _param(p) for name, p in params_for(t).items()}
        forms.append({"title": f"a custom {t} scenario", "required": ["type"],
                      "properties": {"type": {"const": t}, "scenario_name": False,
                                     "parameters": {"anyOf": [{"type": "object", "properties": params,
                                                               "additionalProperties": False}, {"type": "null"}]}}})
    return forms


def _limit(props: dict[str, Any], name: str, **bounds: int) -> None:
    """Set ``bounds`` (maximum, maxItems) on a property, nullable (anyOf) or not."""
    prop = props.get(name)
    if prop is None:
        return
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") in ("integer", "array"):
            branch.update(bounds)


def refine(schema: dict[str, Any], limits: Limits, *, token: bool, prefix: str) -> dict[str, Any]:
    """``schema`` (FastAPI's, for this server) with the middleware's statuses, the limits and the rules."""
    comps = schema.setdefault("components", {}).setdefault("schemas", {})
    comps["ErrorBody"] = ErrorBody.model_json_schema()
    if "RunRequest" in comps:   # a library scenario or a custom one of a type: exactly one
        comps["RunRequest"]["oneOf"] = _run_forms()
    for name in ("RunRequest", "BatchRequest", "BatchSubmit"):
        props = comps.get(name, {}).get("properties", {})
        _limit(props, "seed", maximum=SEED_MAX)
        _limit(props, "bars", maximum=limits.max_bars)
        _limit(props, "paths", maximum=limits.max_paths)
        _limit(props, "symbols", maxItems=limits.max_symbols)
        _limit(props, "max_runs", maximum=limits.max_search_paths)
        _limit(props, "scenario_names", maxItems=limits.max_batch)
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            if method in ("post", "put"):
                # JSON is required with or without a body (security.JsonOnly): an operation that reads none
                # takes any JSON (or none, with the content type), and ignores it
                op.setdefault("requestBody", {"required": True, "description": "any JSON, ignored ({} will do): what "
                                              "is required is the header Content-Type: application/json (a body "
                                              "may be left out with it)",
                                              "content": {"application/json": {"schema": {}}}})
                for status in (400, 413, 415):
                    responses.setdefault(str(status), _error_response(status))
            if path.startswith(prefix) and path != prefix + "/scenarios/library":
                responses.setdefault("503", _error_response(503))
            if token:
                responses.setdefault("401", _error_response(401))
            checks = RUN_CHECKS if path == prefix + "/scenarios/run" else BATCH_CHECKS if path in (
                prefix + "/scenarios/batch", prefix + "/batches") else None
            if checks and method == "post":
                op["x-server-checks"] = checks
                op["description"] = ((op.get("description") or "") + "\n\nChecked by the server beyond this schema "
                                     "(each a 422 naming the field): "
                                     + "; ".join(f"{k}: {v}" for k, v in checks.items()) + ".").strip()
    if token:
        schema["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
        schema["security"] = [{"bearer": []}]
    return schema
