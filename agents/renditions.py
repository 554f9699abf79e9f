"""The renditions of an image, made from its pixels alone: every one is encoded afresh, so
no EXIF (location, camera), XMP, ICC profile or comment of the upload survives in it."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

# (name, bound in px, square crop): Twitter's thumb, small and large sizes.
SIZES = (("thumb", 150, True), ("small", 680, False), ("large", 2048, False))
# WebP at 80 keeps photos indistinguishable at a third of JPEG 90's bytes.
WEBP_QUALITY = 80
WEBP = "image/webp"


@dataclass(frozen=True)
class Made:
    name: str
    media_type: str
    width: int | None
    height: int | None
    data: bytes


def renditions(data: bytes) -> list[Made]:
    """thumb (150 px square), small (680 px) and large (2,048 px) WebP stills of the image in
    `data` (an animation's first frame: its poster), never larger than it, upright as its
    EXIF orientation said; and for an animated GIF its animation as WebP."""
    with Image.open(io.BytesIO(data)) as image:
        animated = getattr(image, "n_frames", 1) > 1
        image.seek(0)
        still = _pixels(ImageOps.exif_transpose(image) or image)
        made = [_still(name, still, bound, square) for name, bound, square in SIZES]
        if animated:
            made.append(_animation(image))
    return made


def _pixels(image: Image.Image) -> Image.Image:
    """The image's pixels in a fresh image: nothing of the file's info comes along."""
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
    return image.convert(mode)


def _still(name: str, image: Image.Image, bound: int, square: bool) -> Made:
    if square:
        side = min(bound, *image.size)
        sized = ImageOps.fit(image, (side, side), Image.Resampling.LANCZOS)
    else:
        sized = image.copy()
        sized.thumbnail((bound, bound), Image.Resampling.LANCZOS)  # never enlarges
    out = io.BytesIO()
    sized.save(out, "WEBP", quality=WEBP_QUALITY)
    return Made(name, WEBP, sized.width, sized.height, out.getvalue())


def _animation(image: Image.Image) -> Made:
    frames, durations = [], []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(_pixels(image))
        durations.append(image.info.get("duration", 100))
    out = io.BytesIO()
    frames[0].save(
        out,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        quality=WEBP_QUALITY,
    )
    return Made("animation", WEBP, frames[0].width, frames[0].height, out.getvalue())
