"""Where an upload's files live in the object store (docs/media.md).

The original, as it arrived, is private (`media/<id>/original`): it keeps the upload's
metadata and is never served. What clients are shown lives under `public/`, served without a
signature and cached for good, at keys no one can guess from a media id: a token derived
from the deployment's secret sits in the path, so renditions of an upload never attached
to a tweet cannot be found by counting ids.
"""

from __future__ import annotations

import hashlib
import hmac

# Every file a rendition may be (agents/renditions.py), and a video served as uploaded.
RENDITION_FILES = ("thumb.webp", "small.webp", "large.webp", "animation.webp", "video.mp4")


def original_key(media_id: int) -> str:
    """The object store key of an upload's bytes as they arrived."""
    return f"media/{media_id}/original"


class MediaKeys:
    def __init__(self, secret: str) -> None:
        # Derived: these tokens can never serve as another secret's (a token's, a URL's).
        self._key = hmac.new(secret.encode(), b"chirp public media keys", hashlib.sha256).digest()

    def public(self, media_id: int, file: str) -> str:
        """The key of a public file of an upload (`file`: one of RENDITION_FILES)."""
        token = hmac.new(self._key, str(media_id).encode(), hashlib.sha256).hexdigest()[:24]
        return f"public/media/{media_id}/{token}/{file}"

    def all(self, media_id: int) -> list[str]:
        """Every key an upload's files may have: what deleting it removes."""
        return [original_key(media_id)] + [self.public(media_id, f) for f in RENDITION_FILES]
