"""The embedded object store: a directory under the data dir, whose presigned URLs the API
process serves itself (`/api/v1/objects/{key}`), so clients upload and download exactly as
they would with S3.

A URL carries its expiry and an HMAC-SHA256 signature over the method, the key, the expiry
and (for an upload) the size bound and content type: changing any of them, or using a GET URL
to PUT, breaks the signature. The signing key is derived from the deployment's secret.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from infra.object_store import PresignedRequest, checked_key

# Where the API serves the store's objects; the route lives in api/routes/objects.py.
OBJECTS_PATH = "/api/v1/objects/"


class UrlRefused(Exception):
    """A presigned URL that does not allow this request: `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UrlSigner:
    """Signs and checks the embedded store's URLs."""

    def __init__(self, secret: str) -> None:
        # Derived, so a media URL's signature can never serve as anything else's (a token's).
        self._key = hmac.new(secret.encode(), b"chirp object store urls", hashlib.sha256).digest()

    def signature(
        self, method: str, key: str, expires_at: int, max_bytes: int = 0, content_type: str = ""
    ) -> str:
        message = f"{method}\n{key}\n{expires_at}\n{max_bytes}\n{content_type}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def check(
        self,
        method: str,
        key: str,
        expires_at: int,
        signature: str,
        *,
        max_bytes: int = 0,
        content_type: str = "",
        now: float | None = None,
    ) -> None:
        """Return if the URL allows this request; UrlRefused otherwise."""
        expected = self.signature(method, key, expires_at, max_bytes, content_type)
        if not hmac.compare_digest(expected, signature):
            raise UrlRefused("the URL's signature does not match this request")
        if (time.time() if now is None else now) >= expires_at:
            raise UrlRefused("the URL has expired")


class EmbeddedObjectStore:
    """ObjectStore in a directory; `public_url` is the API's base URL as clients reach it."""

    def __init__(self, root: Path, public_url: str, secret: str) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")
        self.signer = UrlSigner(secret)

    async def setup(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def presign_upload(
        self, key: str, content_type: str, byte_size: int, expires_in: int
    ) -> PresignedRequest:
        expires_at = int(time.time()) + expires_in
        signature = self.signer.signature("PUT", key, expires_at, byte_size, content_type)
        query = {"expires": expires_at, "max_bytes": byte_size, "signature": signature}
        return PresignedRequest(
            "PUT", self._url(key, query), expires_at, {"Content-Type": content_type}
        )

    async def presign_download(self, key: str, expires_in: int) -> PresignedRequest:
        expires_at = int(time.time()) + expires_in
        signature = self.signer.signature("GET", key, expires_at)
        return PresignedRequest(
            "GET", self._url(key, {"expires": expires_at, "signature": signature}), expires_at
        )

    def _url(self, key: str, query: dict) -> str:
        return f"{self.public_url}{OBJECTS_PATH}{quote(checked_key(key))}?{urlencode(query)}"

    def path(self, key: str) -> Path:
        """The file of `key`, never outside the root (BadObjectKey for a key that would be)."""
        return self.root / checked_key(key)

    async def read(self, key: str, max_bytes: int) -> bytes | None:
        return await asyncio.to_thread(_read, self.path(key), max_bytes)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def write(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(_write, self.path(key), data)

    async def delete(self, keys: list[str]) -> None:
        await asyncio.to_thread(_unlink, [self.path(key) for key in keys])


def _read(path: Path, max_bytes: int) -> bytes | None:
    try:
        with path.open("rb") as file:
            return file.read(max_bytes)
    except FileNotFoundError:
        return None


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> None:
    # Written beside and renamed: a reader sees the old object or the new one, never half.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
