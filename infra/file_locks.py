"""Locks on files: taking one without waiting, and who holds one, the process to name when a
lock is busy (Linux, from /proc)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

PROC = Path("/proc")
# Enough of a command line to tell one program from another (a JVM's runs to kilobytes).
COMMAND_SHOWN = 200


class HeldLock:
    """An exclusive flock on a file, held until `release()` or until this process ends (the
    kernel drops it then, however the process died)."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the only descriptor drops the flock
            self._descriptor = None


def try_lock(path: Path) -> HeldLock | None:
    """The exclusive flock on `path` (created if missing) if no one holds it, else None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return HeldLock(descriptor)


def lock_holder(path: Path) -> int | None:
    """The PID of a process that holds a lock on `path` (flock, POSIX or open file
    description lock), or, failing that, of another process that has it open; None if none
    is found."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    # /proc/locks names a file as major:minor (hex) and inode, e.g.
    # "1: FLOCK  ADVISORY  WRITE 16508 fe:00:2155699 0 EOF"; a waiter's line has "->".
    where = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    for line in (PROC / "locks").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 6 and "->" not in fields and fields[5] == where:
            pid = int(fields[4])
            if pid > 0:  # an open file description lock shows -1, a holder unseen here 0
                return pid
    return _opened_by(path)


def _opened_by(path: Path) -> int | None:
    target = str(path.resolve())
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:  # gone meanwhile, or another user's
            continue
    return None


def describe_process(pid: int) -> str:
    """'process <pid> (<its command line>)' on one line, as far as /proc shows it."""
    try:
        words = (
            (PROC / str(pid) / "cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode(errors="replace")
            .split()
        )
    except OSError:
        words = []
    command = " ".join(words)
    if len(command) > COMMAND_SHOWN:
        command = command[: COMMAND_SHOWN - 1] + "…"
    return f"process {pid} ({command})" if command else f"process {pid}"
