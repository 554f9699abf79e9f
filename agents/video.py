"""A video's poster frame and a copy of it without metadata, made by ffmpeg from pip
(imageio-ffmpeg, the `media` extra) where it is installed; without it a video is served as
uploaded (docs/media.md).

ffmpeg reads untrusted bytes here, so it is held short: the input is a file of this process,
read as MP4 only (`-f mp4`) with the `file` protocol alone (no playlist or network reference
in a crafted file can make it fetch anything), with no stdin and a time limit. The copy keeps
the video and audio streams as they are (no transcoding) and drops every other stream (a
camera's GPS track is a data stream), the container's and streams' metadata and chapters.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# One remux and one frame of a 64 MiB video take well under this on two cores.
FFMPEG_SECONDS = 60
# Video and audio as they are; no other stream, no metadata, no chapters, no encoder tag.
_CLEAN_COPY = ["-map", "0:v", "-map", "0:a?", "-c", "copy", "-map_metadata", "-1",
               "-map_metadata:s:v", "-1", "-map_metadata:s:a", "-1", "-map_chapters", "-1",
               "-fflags", "+bitexact", "-movflags", "+faststart", "-f", "mp4"]  # fmt: skip


@dataclass(frozen=True)
class VideoFiles:
    clean: bytes  # the video remuxed without metadata, streams unchanged
    poster: bytes  # its first frame, as PNG


def ffmpeg() -> str | None:
    """The ffmpeg executable imageio-ffmpeg brings, or None where it is not installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def video_files(data: bytes, executable: str) -> VideoFiles:
    """The clean copy and poster of the MP4 in `data`; CalledProcessError (or a timeout) if
    ffmpeg cannot read it."""
    with tempfile.TemporaryDirectory(prefix="chirp-video-") as work:
        source, clean, poster = (Path(work) / name for name in ("in.mp4", "clean.mp4", "p.png"))
        source.write_bytes(data)
        reading = [executable, "-nostdin", "-hide_banner", "-loglevel", "error",
                   "-protocol_whitelist", "file", "-f", "mp4", "-i", str(source)]  # fmt: skip
        _run([*reading, *_CLEAN_COPY, str(clean)])
        _run([*reading, "-frames:v", "1", "-f", "image2", "-c:v", "png", str(poster)])
        return VideoFiles(clean.read_bytes(), poster.read_bytes())


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=FFMPEG_SECONDS)
