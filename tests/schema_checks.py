"""schemathesis hooks for ``test_service_schema.py`` (loaded by ``st run`` through $SCHEMATHESIS_HOOKS).

One check replaces schemathesis's ``positive_data_acceptance``: a request the schema allows must be
accepted (2xx, 3xx), or answered as the schema says a valid request may be: 401, 403, 404 (an
unknown name), 409 (a state that forbids it), 413 (over a limit of this server the schema cannot
state, such as bars x symbols x paths), 429 (too many runs active); or 422 naming only fields
listed in the operation's ``x-server-checks`` (the rules a JSON schema cannot state, each given in
words there). Anything else a schema-valid request gets is a failure, as with the built-in check.
"""
from __future__ import annotations

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

ACCEPTED = {401, 403, 404, 409, 413, 429}


def _fields(response) -> list[str]:
    try:
        detail = response.json().get("detail")
    except Exception:   # not JSON: no fields named
        return []
    if not isinstance(detail, list):
        return []
    return [str(e["loc"][1]) if len(e.get("loc", ())) > 1 and e["loc"][0] == "body" else "" for e in detail]


@schemathesis.check
def positive_data_accepted_or_server_checked(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    status = response.status_code
    if 200 <= status < 400 or status in ACCEPTED:
        return None
    if status == 422:
        listed = case.operation.definition.raw.get("x-server-checks") or {}
        fields = _fields(response)
        if fields and all(f in listed for f in fields):
            return None
    raise AssertionError(f"a request the schema allows was refused with {status}: {response.text[:500]}")
