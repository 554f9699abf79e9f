"""The `chirp` command as installed."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

CHIRP = Path(sys.executable).parent / "chirp"


def test_version_is_the_installed_distributions():
    done = subprocess.run([CHIRP, "--version"], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == f"chirp {metadata.version('chirp')}\n"
