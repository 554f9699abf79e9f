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


def test_trending_refuses_a_cluster_it_could_never_reach_before_starting_anything():
    for flags, message in [
        (["--jobmanager", "flink-jm"], "HOST:PORT"),
        (["--jobmanager", "flink-jm:8081", "--parallelism", "0"], "parallelism"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "operations.cli", "trending", *flags],
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr.decode()
        assert message in done.stderr.decode()
