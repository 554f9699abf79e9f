"""Requests' shape, checked before any route runs: bodies are JSON and never more than the
configured number of bytes; a query parameter comes at most once."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

import orjson

from api.problems import PROBLEM_JSON

_BODY_METHODS = {b"POST", b"PUT", b"PATCH", "POST", "PUT", "PATCH"}


class BodyLimitMiddleware:
    """Rejects oversized bodies (413) and non-JSON bodies (415) before any route runs.

    A body is read whole, up to the limit, before the app sees it: a chunked upload that
    declares no length is cut off at the limit instead of being buffered without bound.
    """

    def __init__(self, app, max_bytes: int, exempt_prefix: str | None = None) -> None:
        """`exempt_prefix`: paths whose routes bound their bodies themselves (the embedded
        object store's uploads, bounded by their signed URLs)."""
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefix = exempt_prefix

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or (self.exempt_prefix and scope["path"].startswith(self.exempt_prefix))
        ):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await _reject(
                send,
                413,
                "payload-too-large",
                "Payload Too Large",
                f"request bodies are limited to {self.max_bytes} bytes",
            )
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await _reject(
                    send,
                    413,
                    "payload-too-large",
                    "Payload Too Large",
                    f"request bodies are limited to {self.max_bytes} bytes",
                )
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and not (content_type == b"application/json" or content_type.endswith(b"+json")):
            return await _reject(
                send,
                415,
                "unsupported-media-type",
                "Unsupported Media Type",
                "send the request body as application/json",
            )

        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class SingleQueryValuesMiddleware:
    """Refuses (422) a query string that repeats a parameter: every parameter of this API
    takes one value, and the web framework would silently keep the last of several."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("query_string"):
            names = Counter(
                name
                for name, _ in parse_qsl(
                    scope["query_string"].decode("latin-1"), keep_blank_values=True
                )
            )
            repeated = sorted(name for name, count in names.items() if count > 1)
            if repeated:
                return await _reject(
                    send,
                    422,
                    "repeated-query-parameter",
                    "Repeated Query Parameter",
                    f"each query parameter may be given once: {', '.join(repeated)[:200]}",
                )
        return await self.app(scope, receive, send)


async def _reject(send, status: int, slug: str, title: str, detail: str) -> None:
    body = orjson.dumps(
        {"type": f"urn:chirp:problem:{slug}", "title": title, "status": status, "detail": detail}
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
