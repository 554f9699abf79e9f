"""What an upload is, told by its bytes, and the limits it must keep (docs/media.md).

`inspect` reads the bytes (magic numbers, then the image's header, then a decode), never
decoding an image whose header promises more pixels than the limit: a decompression bomb is
a small file whose header says 100,000 x 100,000. `arrival_refusal` is the rule: a pure
function of what `inspect` found.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from commands.errors import DomainError, Refusal

MIB = 1024 * 1024
# Twitter's published limits: 5 MB for an image, 15 MB for a GIF; videos are kept as
# uploaded, bounded by what one request may carry here (schemas.api.MAX_MEDIA_BYTES).
MAX_BYTES = {
    "image/jpeg": 5 * MIB,
    "image/png": 5 * MIB,
    "image/webp": 5 * MIB,
    "image/gif": 15 * MIB,
    "video/mp4": 64 * MIB,
}
# A side of 8,192 px is Twitter's bound too; 40 Mpx bounds one decode at ~160 MB of RGBA.
MAX_SIDE = 8192
MAX_PIXELS = 40_000_000
# An animation is decoded frame by frame: its frames together are bounded too.
MAX_ANIMATION_PIXELS = 400_000_000

_PILLOW_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


@dataclass(frozen=True)
class Arrived:
    """What an upload's bytes are: `media_type` None if no type Chirp takes; `decodable` None
    if no decode was tried (not an image, or too many pixels to try)."""

    byte_size: int
    media_type: str | None
    width: int | None = None
    height: int | None = None
    frames: int = 1
    decodable: bool | None = None
    # The header claims more pixels than even Pillow opens (twice its MAX_IMAGE_PIXELS).
    beyond_pillow: bool = False


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file name (magic numbers), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def inspect(data: bytes) -> Arrived:
    """What `data` is: its type by its bytes, its pixel size, and whether it decodes."""
    media_type = sniff(data[:16])
    if media_type is None or not media_type.startswith("image/"):
        return Arrived(len(data), media_type)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError:
        return Arrived(len(data), media_type, beyond_pillow=True)
    except (OSError, ValueError, SyntaxError):
        return Arrived(len(data), media_type, decodable=False)
    if _PILLOW_FORMATS.get(image.format or "") != media_type:
        return Arrived(len(data), media_type, width, height, frames, decodable=False)
    arrived = Arrived(len(data), media_type, width, height, frames)
    if too_many_pixels(arrived):
        return arrived  # never decoded
    try:
        image.load()  # a truncated or corrupt file fails here
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return Arrived(len(data), media_type, width, height, frames, decodable=False)
    return Arrived(len(data), media_type, width, height, frames, decodable=True)


def too_many_pixels(arrived: Arrived) -> bool:
    if arrived.beyond_pillow:
        return True
    if arrived.width is None or arrived.height is None:
        return False
    pixels = arrived.width * arrived.height
    return (
        max(arrived.width, arrived.height) > MAX_SIDE
        or pixels > MAX_PIXELS
        or pixels * arrived.frames > MAX_ANIMATION_PIXELS
    )


def arrival_refusal(arrived: Arrived | None, declared_bytes: int) -> DomainError | None:
    """Why the upload that arrived (None: nothing did) cannot become media; None if it can."""
    if arrived is None or arrived.byte_size == 0:
        return _invalid("media-not-uploaded", "Nothing Uploaded", "no bytes arrived at the URL")
    if arrived.media_type is None:
        return _invalid(
            "unsupported-media-type",
            "Unsupported Media Type",
            "the bytes are not JPEG, PNG, GIF, WebP or MP4",
        )
    limit = min(MAX_BYTES[arrived.media_type], declared_bytes)
    if arrived.byte_size > limit:
        return _invalid(
            "media-too-large",
            "Media Too Large",
            f"{arrived.byte_size} bytes arrived; at most {limit} may for this upload",
        )
    if too_many_pixels(arrived):
        return _invalid(
            "media-too-many-pixels",
            "Too Many Pixels",
            f"{_pixels(arrived)}: at most {MAX_SIDE} px a side and {MAX_PIXELS:,} px a frame",
        )
    if arrived.media_type.startswith("image/") and not arrived.decodable:
        return _invalid("media-undecodable", "Undecodable Image", "the image does not decode")
    return None


def _pixels(arrived: Arrived) -> str:
    if arrived.beyond_pillow:
        return "the header claims over 178 million pixels"
    return f"{arrived.width}x{arrived.height} px in {arrived.frames} frame(s)"


def declared_refusal(content_type: str, byte_size: int) -> DomainError | None:
    """Why an upload cannot even start as declared; None if it can."""
    if byte_size > MAX_BYTES[content_type]:
        return _invalid(
            "media-too-large",
            "Media Too Large",
            f"{content_type} uploads are limited to {MAX_BYTES[content_type]} bytes",
        )
    return None


def _invalid(code: str, title: str, detail: str) -> DomainError:
    return DomainError(Refusal.INVALID, code, title, detail)
