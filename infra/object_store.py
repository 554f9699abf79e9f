"""The object store port: where uploaded media and their renditions are kept, reached by
clients through presigned URLs. Two adapters: a directory served by the API process
(infra/embedded_object_store.py, the default) and S3 (infra/s3_object_store.py).

A key names one object: lowercase letters, digits and `._-` in `/`-separated segments, none
of them `.` or `..` (`media/123/original`). Anything else is refused before it reaches a
path or a bucket, so an id in a URL can never step outside the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

_SEGMENT = r"[a-z0-9][a-z0-9._-]{0,99}"
_KEY = re.compile(rf"^{_SEGMENT}(/{_SEGMENT}){{0,7}}$")


# Objects under this prefix are served to anyone without a signature, and never change: what
# clients are shown of an upload (commands/media_keys.py). On S3 the bucket policy (or a CDN)
# makes them readable (docs/media.md).
PUBLIC_PREFIX = "public/"


def is_public(key: str) -> bool:
    return key.startswith(PUBLIC_PREFIX)


class BadObjectKey(ValueError):
    """A key that could name something outside the store (`..`, an absolute path, ...)."""


def checked_key(key: str) -> str:
    """`key` if it is a valid object key; BadObjectKey otherwise."""
    if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
        raise BadObjectKey(f"not an object key: {key[:120]!r}")
    return key


@dataclass(frozen=True)
class PresignedRequest:
    """A request a client may make without a token until `expires_at` (Unix seconds): this
    method on this URL, with these headers."""

    method: str
    url: str
    expires_at: int
    headers: dict[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    """Objects by key; clients move the bytes themselves through presigned requests."""

    async def setup(self) -> None:
        """Make the bucket or directory if it is not there."""

    async def presign_upload(
        self, key: str, content_type: str, byte_size: int, expires_in: int
    ) -> PresignedRequest:
        """A PUT of at most `byte_size` bytes to `key`, for `expires_in` seconds."""

    async def presign_download(self, key: str, expires_in: int) -> PresignedRequest:
        """A GET of `key`, for `expires_in` seconds."""

    async def read(self, key: str, max_bytes: int) -> bytes | None:
        """The object's first `max_bytes` bytes (None if there is no such object)."""

    async def size(self, key: str) -> int | None:
        """The object's size in bytes (None if there is no such object)."""

    async def write(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there."""

    async def delete(self, keys: list[str]) -> None:
        """Remove these objects; a key with no object is no error."""
