"""Live updates of the home timeline, as Server-Sent Events (docs/streaming.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from api.consistency import wait_for_own_writes
from api.deps import ServicesDep, bearer
from api.problems import ProblemError
from api.routes import problem_responses
from api.security import Principal, unauthorized
from api.streaming import Interests, Session
from projections.redis_live import ENTRY_ID

router = APIRouter(prefix="/api/v1/streaming", tags=["streaming"])


async def stream_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    access_token: Annotated[
        str | None,
        Query(
            max_length=4096,
            description="the access token, for clients that cannot send headers (a "
            "browser's EventSource); never logged. Prefer the Authorization header.",
        ),
    ] = None,
) -> Principal:
    """The signed-in caller, by the Authorization header or, on this route only, the
    `access_token` query parameter."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return services.tokens.verify(credentials.credentials)
    if access_token:
        return services.tokens.verify(access_token)
    raise unauthorized("send 'Authorization: Bearer <access_token>' or ?access_token=")


async def last_event_id(
    value: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="the id of the last event received: what came after it is sent first",
        ),
    ] = None,
) -> str | None:
    if value is not None and not ENTRY_ID.match(value.strip()):
        raise ProblemError(
            400,
            "bad-last-event-id",
            "Bad Last-Event-ID",
            "Last-Event-ID is the id of an event this stream sent, like 1712345678901-0",
        )
    return value.strip() if value is not None else None


class EventStreamResponse(StreamingResponse):
    """A session's events; the session is closed however the response ends (a client gone
    before the first byte included)."""

    media_type = "text/event-stream"

    def __init__(self, session: Session, last_event_id: str | None, status_code: int = 200) -> None:
        # no-cache and no proxy buffering: each event goes out as it comes
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(session.messages(last_event_id), status_code, headers)
        self.session = session

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.session.close()


# One event of the stream (OpenAPI 3.1 has no itemSchema: tools such as schemathesis read the
# `schema` of text/event-stream as each event's; comments, the heartbeats, are not events).
_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {
            "type": "string",
            "enum": ["ready", "reset", "tweet", "delete", "counts", "notification", "dropped"],
        },
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


@router.get(
    "/home",
    response_class=EventStreamResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": _EVENT_SCHEMA}}},
        **problem_responses(400, 401, 503),
    },
)
async def home_stream(
    user: Annotated[Principal, Depends(stream_user)],
    services: ServicesDep,
    resume: Annotated[str | None, Depends(last_event_id)],
):
    """Live updates for your home timeline, as Server-Sent Events: `tweet` (a post or retweet
    entered it), `delete`, `counts` and `notification`, each with an `id` to resume from
    (`Last-Event-ID`), and a heartbeat comment every 15 s. docs/streaming.md has the
    protocol."""
    reader = user.user_id
    # The reader's own follows, blocks and mutes are in the interests read at connect.
    await wait_for_own_writes(
        services.models.progress, reader, services.settings.read_your_writes_timeout_ms / 1000
    )

    async def interests() -> Interests:
        hidden, following, muted = await services.timelines.hydrator.relations(reader)
        return Interests(following, hidden, muted)

    session = await services.live.connect(reader, interests, resume)
    return EventStreamResponse(session, resume)
