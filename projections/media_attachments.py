"""Uploads as the API shows them in a tweet (schemas.api.MediaAttachment): one rendering for
the agents, which cache it with the tweet, and for readers, which fill it on a miss."""

from __future__ import annotations

from dataclasses import dataclass

_TYPES = {"image/gif": "animated_gif", "video/mp4": "video"}


@dataclass(frozen=True)
class StoredMedia:
    """An upload's row in the media read model (projections/postgres_media.py)."""

    media_id: int
    media_type: str
    width: int | None
    height: int | None
    alt_text: str
    renditions: dict | None  # name -> {key, width, height, ...}; None: not processed yet


def attachment(media: StoredMedia, base_url: str) -> dict:
    """The API's attachment object; `base_url` + a key is where a public file is served."""
    files = media.renditions or {}

    def url(*names: str) -> str | None:
        for name in names:
            if name in files:
                return base_url + files[name]["key"]
        return None

    kind = _TYPES.get(media.media_type, "image")
    if kind == "animated_gif" and "animation" not in files and media.renditions is not None:
        kind = "image"  # a GIF of one frame is a still
    large = files.get("large") or files.get("video")
    width, height = (large["width"], large["height"]) if large else (media.width, media.height)
    return {
        "media_id": str(media.media_id),
        "type": kind,
        "width": width,
        "height": height,
        "alt_text": media.alt_text,
        "processing": media.renditions is None,
        "url": url("animation", "large", "video"),
        "preview_url": url("small"),
        "thumb_url": url("thumb"),
    }
