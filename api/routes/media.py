"""Media uploads: reserve an id and a presigned upload URL, then complete the upload once the
bytes are there (docs/media.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api.deps import CurrentUser, MediaIdPath, RunCommandDep, ServicesDep
from api.media import complete_upload
from api.routes import problem_responses, respond
from commands.media_keys import original_key
from commands.model import (
    DescribeMedia,
    MediaAccepted,
    MediaDescribedResult,
    StartUpload,
    UploadStarted,
)
from commands.runner import Answer
from schemas.api import (
    MediaCreate,
    MediaDescribedPublic,
    MediaDescription,
    MediaPublic,
    MediaUploadTicket,
)

router = APIRouter(prefix="/api/v1/media", tags=["media"])
_ERRORS = problem_responses(400, 401, 403, 404, 413, 415, 422, 503)


@router.post("", status_code=201, response_model=MediaUploadTicket, responses=_ERRORS)
async def start_upload(
    body: MediaCreate, user: CurrentUser, run: RunCommandDep, services: ServicesDep
):
    """Reserve a media id: PUT the bytes to `upload_url` (with `upload_headers`, no token)
    before `expires_at`, then POST `/media/{media_id}/complete`."""
    answer = await run(StartUpload(user.user_id, body.content_type, body.byte_size), _started)
    media_id = int(answer.body["media_id"])
    upload = await services.objects.presign_upload(
        original_key(media_id),
        body.content_type,
        body.byte_size,
        services.settings.media_upload_url_seconds,
    )
    ticket = MediaUploadTicket(
        media_id=media_id,
        upload_url=upload.url,
        upload_headers=upload.headers,
        expires_at=datetime.fromtimestamp(upload.expires_at, UTC),
    )
    return respond(Answer(201, ticket.model_dump(mode="json")))


def _started(result: UploadStarted) -> Answer:
    return Answer(201, {"media_id": str(result.media_id)})


@router.post("/{media_id}/complete", response_model=MediaPublic, responses=_ERRORS)
async def complete(media_id: MediaIdPath, user: CurrentUser, run: RunCommandDep, s: ServicesDep):
    """Check the uploaded bytes (their real type, size, pixel size, that they decode) and
    accept them; refused bytes are deleted. Completing again answers the same."""
    answer = await complete_upload(s.write_model, s.objects, run, user.user_id, media_id, _done)
    return respond(answer)


def _done(result: MediaAccepted) -> Answer:
    body = MediaPublic(
        media_id=result.media_id,
        media_type=result.media_type,
        byte_size=result.byte_size,
        width=result.width,
        height=result.height,
    )
    return Answer(200, body.model_dump(mode="json"))


@router.patch("/{media_id}", response_model=MediaDescribedPublic, responses=_ERRORS)
async def describe(
    media_id: MediaIdPath, body: MediaDescription, user: CurrentUser, run: RunCommandDep
):
    """Set the alt text of one of your uploads (up to 1,000 characters; "" removes it).
    Tweets showing it show the new text once the agents applied it."""
    return respond(await run(DescribeMedia(user.user_id, media_id, body.alt_text), _described))


def _described(result: MediaDescribedResult) -> Answer:
    body = MediaDescribedPublic(media_id=result.media_id, alt_text=result.alt_text)
    return Answer(200, body.model_dump(mode="json"))
