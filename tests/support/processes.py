"""Finding processes by what they were started with, to prove none was left behind."""

from __future__ import annotations

from pathlib import Path


def _live_processes():
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            # /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may contain spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, process_group = fields[0], int(fields[2])
        if state != "Z":
            yield entry.name, cmdline.strip(), process_group


def processes_in_groups(groups: list[int]) -> list[str]:
    """Live processes that belong to any of the process groups `groups`."""
    wanted = set(groups)
    return [f"{pid}: {cmdline}" for pid, cmdline, group in _live_processes() if group in wanted]


def processes_mentioning(*needles: str) -> list[str]:
    """Command lines of live processes that contain any of `needles`."""
    return [f"{pid}: {cmdline}" for pid, cmdline, _ in _live_processes()
            if any(needle in cmdline for needle in needles)]
