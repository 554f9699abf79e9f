"""What every request leaves behind: its latency per route template (Prometheus), a line in the
access log, and a request id on its response and on every log record made while serving it;
and the `/metrics` endpoint. The access log has the path without its query string, so a
token sent as `?access_token=` (the streaming route's, for EventSource) is never written."""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from infra.logs import REQUEST_ID
from infra.metrics import REQUEST_SECONDS, api_registry

access_log = logging.getLogger("chirp.api.access")
REQUEST_ID_HEADER = b"x-request-id"
# A caller's (or a load balancer's) own id is kept if it is a plain token, so a request can be
# followed across services; anything else is replaced rather than written into the logs.
_CALLER_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
# Live-update streams last as long as their clients stay: their durations would swamp the
# request latencies (they have metrics of their own, api/streaming.py).
_STREAMS = "/api/v1/streaming/"


class ObservabilityMiddleware:
    """Times every HTTP request, labelled by its route template (`/api/v1/tweets/{tweet_id}`,
    never the raw path: ids would make a label per tweet) and status; logs it; tags it."""

    def __init__(self, app, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log
        self.registry = api_registry()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == "/metrics":
            return await _metrics(send, self.registry)
        started, status = time.perf_counter(), 500
        request_id = _request_id(scope)
        # Each request runs in its own task, so this id is seen by that request's records only
        # (including the error handler's, which runs outside this middleware).
        REQUEST_ID.set(request_id)

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if not route.startswith(_STREAMS):
                REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
            if self.access_log:
                access_log.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    seconds * 1000,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                    },
                )


def _request_id(scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _CALLER_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex


async def _metrics(send, registry) -> None:
    body = generate_latest(registry)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", CONTENT_TYPE_LATEST.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
