"""Child processes that the stack starts, tracks by PID and always stops."""

from __future__ import annotations

import ctypes
import functools
import os
import pwd
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
# Loaded here, not in a child between fork and exec, where the dynamic loader's lock may be
# held by a thread that the fork left behind.
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(sig: int, parent_pid: int) -> None:
    """Have the kernel send `sig` to this process when the thread that started it ends, even
    by SIGKILL; send it at once if the parent `parent_pid` is gone already."""
    _libc.prctl(_PR_SET_PDEATHSIG, sig)
    # A parent that died before the prctl left this process to another one: no signal comes.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def unprivileged_user() -> pwd.struct_passwd | None:
    """The account to run servers as when we are root (PostgreSQL refuses root), else None."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("nobody")


@dataclass
class ManagedProcess:
    """One server or worker: started in its own process group, stopped by its PID only."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    run_as: pwd.struct_passwd | None = None
    # The signal that asks this program for a clean, prompt shutdown.
    stop_signal: int = signal.SIGTERM
    # What it gets when the process that started it dies (default: `stop_signal`). Nobody
    # bounds a clean shutdown then: a program that may hang in one gets SIGKILL.
    parent_death_signal: int | None = None
    popen: subprocess.Popen | None = field(default=None, init=False)
    # Where it serves Prometheus metrics, if it does (the agents worker).
    metrics_url: str | None = field(default=None, init=False)
    # Where this run's output starts in the log (a restarted stack appends to the same file).
    log_start: int = field(default=0, init=False)

    def start(self) -> None:
        """Start the process; it dies with this one, however this one ends."""
        # PR_SET_PDEATHSIG follows the parent *thread*: a child started from a helper thread
        # would be signalled as soon as that thread ends.
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(f"start {self.name} from the main thread")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed once the process has it
        self.log_start = log.seek(0, os.SEEK_END)
        extra: dict[str, Any] = {}
        if self.run_as is not None:
            extra = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=functools.partial(
                    die_with_parent, self.parent_death_signal or self.stop_signal, os.getpid()
                ),
                **extra,
            )
        finally:
            log.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Ask for a clean shutdown, wait, then kill the process group this process leads."""
        # A leader that ended by itself is not followed: its id may belong to another group
        # by now. Its children end on their own (each program's note in docs/local-stack.md).
        if self.popen is None or self.popen.poll() is not None:
            return
        pgid = self.popen.pid  # start_new_session made the child the leader of its own group
        try:
            os.killpg(pgid, self.stop_signal)
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.popen.wait(5)
        except ProcessLookupError:
            pass
        # Children of a leader that already exited (e.g. postgres backends) share its group.
        _kill_group_leftovers(pgid)

    def kill(self) -> None:
        """SIGKILL the whole process group at once (fault tests)."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        if self.popen is not None:
            _kill_group_leftovers(self.popen.pid)

    def tail(self, lines: int = 40) -> str:
        """The last `lines` lines this run wrote to the log (not an earlier run's: a line an
        earlier run logged, such as a ready line, says nothing of this one). Lines end at
        "\n" only: a JSON log line may hold U+2028 or U+0085, where `str.splitlines` would
        cut it."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_start)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.rstrip("\n").split("\n")[-lines:])


def _kill_group_leftovers(pgid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)
