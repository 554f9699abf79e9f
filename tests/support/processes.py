"""Finding processes by what they were started with, to prove none was left behind."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int | str) -> tuple[str, int, int, int]:
    """State, parent PID, process group and start time (clock ticks after boot) of `pid`."""
    # /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may contain spaces.
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def _command(pid: int | str) -> str:
    return (
        (PROC / str(pid) / "cmdline")
        .read_bytes()
        .replace(b"\0", b" ")
        .decode(errors="replace")
        .strip()
    )


def _live_processes():
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = _command(entry.name)
            state, _, process_group, _ = _stat(entry.name)
        except OSError:
            continue
        if state != "Z":
            yield entry.name, cmdline, process_group


def processes_in_groups(groups: list[int]) -> list[str]:
    """Live processes that belong to any of the process groups `groups`."""
    wanted = set(groups)
    return [f"{pid}: {cmdline}" for pid, cmdline, group in _live_processes() if group in wanted]


def processes_mentioning(*needles: str) -> list[str]:
    """Command lines of live processes that contain any of `needles`."""
    return [
        f"{pid}: {cmdline}"
        for pid, cmdline, _ in _live_processes()
        if any(needle in cmdline for needle in needles)
    ]


def process_tree(root: int) -> dict[int, tuple[int, str]]:
    """`root` and every live process descended from it: PID -> (start time, command line).
    The start time tells a process from a later one that is given the same PID."""
    parents: dict[int, int] = {}
    started: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                state, parent, _, start = _stat(entry.name)
            except OSError:
                continue
            if state != "Z":
                parents[int(entry.name)], started[int(entry.name)] = parent, start
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    found = {}
    for pid in tree & started.keys():
        try:
            found[pid] = (started[pid], _command(pid))
        except OSError:
            continue
    return found


def still_running(processes: dict[int, tuple[int, str]]) -> list[str]:
    """Those of `processes` (from process_tree) that have not ended."""
    left = []
    for pid, (start, cmdline) in processes.items():
        try:
            state, _, _, now_start = _stat(pid)
        except OSError:
            continue
        if state != "Z" and now_start == start:
            left.append(f"{pid}: {cmdline}")
    return left


def listening_sockets(
    pids: Iterable[int],
) -> list[tuple[int, ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """(PID, address, port) of every TCP socket that one of `pids` listens on, from
    /proc/net/tcp and tcp6 (state 0A) and the socket inodes in each process's descriptors."""
    owners: dict[int, int] = {}
    for pid in pids:
        try:
            descriptors = list((PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(descriptor)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[int(target[len("socket:[") : -1])] = pid
    found = []
    for table in ("tcp", "tcp6"):
        for line in (PROC / "net" / table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and inode in owners:
                address, port = local.split(":")
                found.append((owners[inode], _address(address), int(port, 16)))
    return found


def _address(hexadecimal: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/tcp* writes it: 32-bit words, each in the host's byte order
    (little-endian here)."""
    words = [bytes.fromhex(hexadecimal[at : at + 8])[::-1] for at in range(0, len(hexadecimal), 8)]
    return ipaddress.ip_address(b"".join(words))


def on_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """127.0.0.0/8, ::1, or ::ffff:127.x.y.z (a Java server bound to 127.0.0.1)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


@contextmanager
def holding(script: str, **environment: str):
    """A Python process that runs `script` until the block ends; yields its PID once the
    script has printed "holding" (and then waits for its stdin to close)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | environment,
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        yield holder.pid
    finally:
        holder.stdin.close()
        holder.wait(30)


# Opens the index in INDEX for writing, as a worker left running does, and holds it.
_HOLD_SEARCH_INDEX = """
import asyncio, os, sys
from projections.tantivy_search import TantivySearchIndex
index = TantivySearchIndex(os.environ["INDEX"], writable=True)
asyncio.run(index.setup())
print("holding", flush=True)
sys.stdin.read()
"""


def holding_search_index(directory: Path):
    """A process that holds the writer lock of the search index in `directory`."""
    return holding(_HOLD_SEARCH_INDEX, INDEX=str(directory))
