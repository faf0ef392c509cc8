"""Two small pure-ASGI guards: a request-body limit counted as the body streams in (a
``Content-Length`` check alone is bypassed by chunked bodies, and FastAPI reads the whole
body before validating it), and a bearer token compared in constant time.
"""
from __future__ import annotations

import json
import secrets
from typing import Any, Awaitable, Callable

__all__ = ["BodyLimit", "BearerToken"]

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
