"""The embedded object store's presigned URLs (infra/embedded_object_store.py): uploads and
downloads without a token, each allowed by its URL's signature alone."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from api.deps import ServicesDep
from api.problems import ProblemError, not_found
from api.routes import problem_responses
from infra.embedded_object_store import OBJECTS_PATH, EmbeddedObjectStore, UrlRefused
from infra.object_store import BadObjectKey, checked_key, is_public

router = APIRouter(prefix=OBJECTS_PATH.rstrip("/"), tags=["media"], include_in_schema=False)
_ERRORS = problem_responses(400, 403, 404, 413)

# Renditions are WebP (videos MP4) whatever the machine's MIME table says; originals are
# never served.
_RENDITION_TYPES = {".webp": "image/webp", ".mp4": "video/mp4"}
Expires = Annotated[int, Query(alias="expires", ge=0, le=2**40)]
Signature = Annotated[str, Query(alias="signature", max_length=100)]


def _store(services) -> EmbeddedObjectStore:
    if not isinstance(services.objects, EmbeddedObjectStore):
        raise not_found("this object store's URLs")  # S3 serves its own
    return services.objects


def _key(key: str) -> str:
    try:
        return checked_key(key)
    except BadObjectKey as error:
        raise ProblemError(400, "bad-object-key", "Bad Object Key", str(error)) from None


def _refused(error: UrlRefused) -> ProblemError:
    return ProblemError(403, "url-refused", "URL Refused", error.reason)


@router.put("/{key:path}", status_code=204, responses=_ERRORS)
async def upload(
    key: str,
    request: Request,
    services: ServicesDep,
    expires: Expires,
    signature: Signature,
    # Absent from a download URL: a PUT to one fails its signature (403), as on S3.
    max_bytes: Annotated[int, Query(ge=0, le=2**40)] = 0,
):
    """Store the body under `key`, as the presigned upload URL allows."""
    store, key = _store(services), _key(key)
    content_type = request.headers.get("content-type", "")
    try:
        store.signer.check(
            "PUT", key, expires, signature, max_bytes=max_bytes, content_type=content_type
        )
    except UrlRefused as error:
        raise _refused(error) from None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ProblemError(
                413, "payload-too-large", "Payload Too Large", f"this URL takes {max_bytes} bytes"
            )
    await store.write(key, bytes(body), content_type)


@router.get("/{key:path}", responses=_ERRORS)
async def download(
    key: str,
    services: ServicesDep,
    expires: Expires | None = None,
    signature: Signature | None = None,
):
    """The object under `key`: a public one (renditions, commands/media_keys.py) to anyone,
    for good; any other as its presigned download URL allows."""
    store, key = _store(services), _key(key)
    public = is_public(key) and expires is None and signature is None
    if not public:
        try:
            store.signer.check("GET", key, expires or 0, signature or "")
        except UrlRefused as error:
            raise _refused(error) from None
    path = store.path(key)
    if not path.is_file():
        raise not_found("the object")
    media_type = (
        _RENDITION_TYPES.get(path.suffix)
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )
    # Never sniffed into HTML by a browser: uploads are served from the API's own origin.
    headers = {"X-Content-Type-Options": "nosniff"}
    if public:  # a public key's bytes never change: cached for good, by anyone
        headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return FileResponse(path, media_type=media_type, headers=headers)
