"""One module per resource."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from api.commands import Answer
from projections.timeline_entries import encode_cursor


def respond(answer: Answer, headers: dict[str, str] | None = None) -> Response:
    """The HTTP response for a command's answer; a replayed answer says so in a header."""
    headers = dict(headers or {})
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


def page(tweets: list[dict], last_sort_key: int | None) -> dict:
    """A page of tweets with the opaque cursor of the next one (null at the end)."""
    return {"tweets": tweets,
            "next_cursor": encode_cursor(last_sort_key) if last_sort_key is not None else None}
