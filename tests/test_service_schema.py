"""A property-based test of the whole service API against its own OpenAPI schema
(schemathesis, driven by hypothesis): no request the schema allows, or nearly allows,
makes the server fail (5xx)."""
from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")
from hypothesis import HealthCheck, given, settings   # noqa: E402
from schemathesis.checks import not_a_server_error   # noqa: E402

from test_service import API, Server   # noqa: E402  (the same real server as the API tests)


def test_the_api_holds_to_its_schema(tmp_path):
    srv = Server(tmp_path, tmp_path / "s.db", "--max-bars", "300", "--max-paths", "2", "--max-active", "4").start()
    try:
        schema = schemathesis.openapi.from_url(srv.base + "/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        assert {op.path for op in operations} >= {API + p for p in (
            "/scenarios/run", "/scenarios/batch", "/scenarios/library", "/results", "/results/{name}",
            "/status", "/results/{run_id}/events")}
        calls = 0
        for op in operations:
            @given(case=op.as_strategy())
            @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case):
                nonlocal calls
                case.call_and_validate(timeout=15, checks=[not_a_server_error])
                calls += 1
            check()
        assert calls >= 4 * len(operations)
    finally:
        srv.stop()
