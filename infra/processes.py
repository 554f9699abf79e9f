"""Child processes that the stack starts, tracks by PID and always stops."""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int):
    """Ask the kernel to send `sig` to the child when its parent dies, even by SIGKILL."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


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
    popen: subprocess.Popen | None = field(default=None, init=False)
    # Where it serves Prometheus metrics, if it does (the agents worker).
    metrics_url: str | None = field(default=None, init=False)
    # Where this run's output starts in the log (a restarted stack appends to the same file).
    log_start: int = field(default=0, init=False)

    def start(self) -> None:
        """Start the process. It dies with the *thread* that starts it (PR_SET_PDEATHSIG
        follows the parent thread), so start long-lived processes from the main thread."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.log_start = log.seek(0, os.SEEK_END)
        extra = {}
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
                preexec_fn=_die_with_parent(self.stop_signal),
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
