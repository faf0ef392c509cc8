"""Small pure-ASGI guards: a request-body limit counted as the body streams in (a
``Content-Length`` check alone is bypassed by chunked bodies, and FastAPI reads the whole
body before validating it), a bearer token compared in constant time, the Host header
checked (IPv6 literals included), and a JSON content type required on POST and PUT (what a
page on another origin cannot send without the server's consent).
"""
from __future__ import annotations

import json
import secrets
from typing import Any, Awaitable, Callable

__all__ = ["BodyLimit", "BearerToken", "JsonOnly", "TrustedHost", "host_of"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _reply(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a request whose body exceeds ``limit`` bytes, by its Content-Length or as it streams
    (the body, at most ``limit`` bytes, is read here and handed on to the app)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        msg = (f"request body over this server's limit of {self.limit} bytes (start the server with a "
               "higher --max-body to allow more)")
        for k, v in scope.get("headers", ()):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                await _reply(send, 413, msg)
                return
        if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        chunks, seen = [], 0
        while True:   # read (at most the limit of) the body before the app sees any of it
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _reply(send, 413, msg)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class BearerToken:
    """401 unless ``Authorization: Bearer <token>`` matches (``secrets.compare_digest``)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = b""
        for k, v in scope.get("headers", ()):
            if k == b"authorization" and v[:7].lower() == b"bearer ":
                given = v[7:].strip()
        if not given:   # EventSource cannot send headers: the stream URL may carry ?token=
            from urllib.parse import parse_qs   # lazy: only for token-less requests

            given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0].encode()
        if scope["type"] == "http" and scope.get("path") == "/" and scope.get("method") == "GET":
            await self.app(scope, receive, send)   # the page itself holds no data; its calls carry the token
            return
        if not secrets.compare_digest(given, self.token):
            await _reply(send, 401, "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
                                    "(the token the server printed or was started with)",
                         [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v
    return None


class JsonOnly:
    """415 for a POST or PUT whose ``Content-Type`` is not JSON (``application/json`` or
    ``application/*+json``), body or no body. A page on another origin can make a browser send a
    POST without asking the server (a "simple" request: ``mode: "no-cors"``, a form) only as
    ``text/plain``, a form encoding, or with no body and no content type; anything else needs a
    CORS preflight, which this server never grants. So a cancel (a POST with no body) from such a
    page is refused here, before the app sees it. DELETE and PUT always need a preflight."""

    def __init__(self, app: Any, routed: Callable[[Scope], bool] = lambda scope: True) -> None:
        self.app, self.routed = app, routed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # only where a route takes the method: elsewhere the router's 404 or 405 says more than a 415
        if scope["type"] == "http" and scope.get("method") in ("POST", "PUT") and self.routed(scope):
            given = (_header(scope, b"content-type") or b"").decode("latin-1")
            kind = given.split(";")[0].strip().lower()
            if not (kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))):
                await _reply(send, 415, f"{scope['method']} needs 'Content-Type: application/json' (got "
                                        f"{given or 'none'!r}), with or without a body: a page on another origin "
                                        "can send the other types without asking (curl: -H 'content-type: "
                                        "application/json')")
                return
        await self.app(scope, receive, send)


def host_of(header: str) -> str:
    """The host of a ``Host`` header, without its port: ``[::1]:8000`` -> ``::1``, ``a.b:80`` -> ``a.b``."""
    header = header.strip().lower()
    if header.startswith("["):   # an IPv6 literal: [addr] or [addr]:port
        end = header.find("]")
        return header[1:end] if end > 0 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class TrustedHost:
    """400 unless the ``Host`` header names one of ``allowed`` (a name or address; ``*.example.com``
    for its subdomains; ``*`` for any). Starlette's ``TrustedHostMiddleware`` cuts the header at
    its first ':', so ``[::1]:8000`` became ``[`` and was refused although ``::1`` is allowed."""

    def __init__(self, app: Any, allowed: list[str]) -> None:
        self.app = app
        self.allowed = {h.strip("[]").lower() for h in allowed}

    def _ok(self, host: str) -> bool:
        if "*" in self.allowed or host in self.allowed:
            return True
        return any(a.startswith("*.") and host.endswith(a[1:]) for a in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = host_of((_header(scope, b"host") or b"").decode("latin-1"))
            if not self._ok(host):
                if scope["type"] == "http":
                    await _reply(send, 400, f"Host {host!r} is not one this server answers to (it answers to "
                                            f"{', '.join(sorted(self.allowed))}; start it with --allowed-host to "
                                            "add one)")
                return
        await self.app(scope, receive, send)
