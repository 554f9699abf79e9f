"""One module per resource."""

from __future__ import annotations

import orjson
from fastapi import Response
from fastapi.responses import JSONResponse

from commands.runner import Answer
from projections.timeline_entries import encode_cursor


def respond(answer: Answer, headers: dict[str, str] | None = None) -> Response:
    """The HTTP response for a command's answer; a replayed answer says so in a header."""
    headers = dict(headers or {})
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


def page(tweets: list[dict] | bytes, last_sort_key: int | None) -> Response:
    """A page of tweets with the opaque cursor of the next one (null at the end); `tweets`
    may come rendered already (the tweet objects' JSON, comma-separated)."""
    cursor = encode_cursor(last_sort_key) if last_sort_key is not None else None
    if isinstance(tweets, bytes):
        return Response(b'{"tweets":[' + tweets + b'],"next_cursor":' + orjson.dumps(cursor)
                        + b"}", media_type="application/json")
    return json_body({"tweets": tweets, "next_cursor": cursor})


def json_body(body: dict | list) -> Response:
    """A JSON response serialised by orjson as it is: read paths build bodies that already
    have the documented shape (tweet objects from the hydrator), so the per-field
    re-validation FastAPI would do for `response_model` is skipped on the hot path."""
    return Response(orjson.dumps(body), media_type="application/json")
