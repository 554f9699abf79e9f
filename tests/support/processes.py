"""Finding processes by what they were started with, to prove none was left behind."""

from __future__ import annotations

from pathlib import Path


def processes_mentioning(*needles: str) -> list[str]:
    """Command lines of live processes that contain any of `needles`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in (entry / "status").read_text().splitlines()
                         if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if "zombie" in state:
            continue
        if any(needle in cmdline for needle in needles):
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found
