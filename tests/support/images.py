"""Real image files for the media tests, made with Pillow (and one crafted by hand)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

# Where the photo was taken: what stripping the metadata must remove.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
}


def _picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A gradient (not a flat colour: encoders squeeze those to nothing)."""
    image = Image.linear_gradient("L").resize((width, height))
    return image.convert(mode)


def jpeg(width: int = 640, height: int = 480, *, gps: bool = True) -> bytes:
    """A JPEG photo; with `gps`, EXIF that says where it was taken and with what camera."""
    exif = Image.Exif()
    if gps:
        exif[ExifTags.Base.Make] = "Chirp Test Camera"
        exif[ExifTags.Base.GPSInfo] = GPS
    out = io.BytesIO()
    _picture(width, height).save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def png(width: int = 320, height: int = 200) -> bytes:
    out = io.BytesIO()
    _picture(width, height).save(out, "PNG")
    return out.getvalue()


def gif(width: int = 120, height: int = 80, frames: int = 3) -> bytes:
    """An animated GIF whose frames differ."""
    pictures = [_picture(width, height).rotate(120 * i) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A decompression bomb: a PNG of a few dozen bytes whose header claims `width` x
    `height` pixels (its data would inflate to gigabytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    pixels = zlib.compress(b"\x00" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def mp4(width: int = 320, height: int = 240) -> bytes:
    """A one-second MP4 whose container says where it was shot and with what (as a phone's
    does), made by the ffmpeg that imageio-ffmpeg brings."""
    import subprocess
    import tempfile
    from pathlib import Path

    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "clip.mp4"
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi",
             "-i", f"testsrc=size={width}x{height}:rate=10", "-t", "1", "-pix_fmt", "yuv420p",
             "-metadata", f"location={VIDEO_LOCATION}", "-metadata", "title=Chirp Test Camera",
             "-movflags", "use_metadata_tags", str(out)],
            check=True,
            timeout=60,
        )  # fmt: skip
        return out.read_bytes()


VIDEO_LOCATION = "+52.5200+013.4050/"
