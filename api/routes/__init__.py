"""One module per resource."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from commands.runner import Answer
from projections.timeline_entries import encode_cursor
from schemas.api import Problem


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's error statuses for OpenAPI, each answered with a problem detail."""
    return {code: {"model": Problem} for code in codes}


def respond(answer: Answer, headers: dict[str, str] | None = None) -> Response:
    """The HTTP response for a command's answer; a replayed answer says so in a header."""
    headers = dict(headers or {})
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    if answer.quota is not None:
        headers.update(answer.quota.headers())
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


def page(
    request: Request,
    tweets: list[dict] | bytes,
    last_sort_key: int | None,
    *,
    first_sort_key: int | None = None,
    since: int | None = None,
    newer: bool = False,
) -> Response:
    """A page of tweets with the opaque cursor of the next one (null at the end); `tweets`
    may come rendered already (the tweet objects' JSON, comma-separated). `newer`: a
    timeline, which also gets `prev_cursor` (what is newer than this page: its newest entry,
    or `since` on an empty page). Both cursors also go in a `Link` header (RFC 8288)."""
    cursor = _cursor(last_sort_key)
    headers = {}
    fields = b'"next_cursor":' + orjson.dumps(cursor)
    previous = None
    if newer:
        previous = _cursor(first_sort_key if first_sort_key is not None else since)
        fields += b',"prev_cursor":' + orjson.dumps(previous)
    if link := links(request, cursor, previous):
        headers["Link"] = link
    body = tweets if isinstance(tweets, bytes) else b",".join(orjson.dumps(t) for t in tweets)
    return Response(
        b'{"tweets":[' + body + b"]," + fields + b"}",
        headers=headers,
        media_type="application/json",
    )


def links(request: Request, next_cursor: str | None, prev_cursor: str | None = None) -> str:
    """The `Link` header of a page: rel="next" (the next older page, with `cursor`) and
    rel="prev" (what is newer, with `since`), each the request's URL with that parameter."""
    parts = []
    if next_cursor is not None:
        parts.append(f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"')
    if prev_cursor is not None:
        url = request.url.remove_query_params("cursor").include_query_params(since=prev_cursor)
        parts.append(f'<{url}>; rel="prev"')
    return ", ".join(parts)


def _cursor(sort_key: int | None) -> str | None:
    return encode_cursor(sort_key) if sort_key is not None else None


def json_body(body: dict | list, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised by orjson as it is: read paths build bodies that already
    have the documented shape (tweet objects from the hydrator), so the per-field
    re-validation FastAPI would do for `response_model` is skipped on the hot path."""
    return Response(orjson.dumps(body), headers=headers, media_type="application/json")


async def hydrated_user_page(
    request: Request, services, ids: list[int], limit: int, viewer: int | None = None
) -> Response:
    """The users `ids` (a page of at most `limit`, by id) as summaries, with the next page's
    cursor if the page is full; with a `viewer`, but those a block stands between the
    viewer and."""
    hydrator = services.timelines.hydrator
    users = await (hydrator.users(ids) if viewer is None else hydrator.listed(ids, viewer))
    next_cursor = encode_cursor(ids[-1]) if len(ids) == limit else None
    return user_page(request, ids, users, next_cursor)


def user_page(
    request: Request, ids: list[int], users: dict[int, dict], next_cursor: str | None
) -> Response:
    """A page of user summaries in the order of `ids` (those without a summary left out), with
    the next page's cursor, also in a `Link` header."""
    link = links(request, next_cursor)
    return json_body(
        {"users": [users[i] for i in ids if i in users], "next_cursor": next_cursor},
        {"Link": link} if link else None,
    )
