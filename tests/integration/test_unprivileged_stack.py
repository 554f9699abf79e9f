"""The stack launcher also works for a normal (non-root) user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import new_data_dir
from tests.support.processes import processes_mentioning

SCRIPT = textwrap.dedent("""
    from infra.settings import Settings
    from operations.stack import LocalStack
    import psycopg, redis, sys
    with LocalStack(Settings(data_dir=sys.argv[1]), ephemeral=True) as stack:
        assert redis.Redis.from_url(stack.settings.redis).ping()
        with psycopg.connect(stack.settings.postgres) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("chirp",)
        print("pids", *stack.pids())
""")


def _reachable_by_others(path: str) -> bool:
    real = Path(os.path.realpath(path))
    return all(parent.stat().st_mode & 0o001 for parent in real.parents)


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root to switch to an unprivileged user; "
    "as a normal user every other test already runs the stack unprivileged",
)
@pytest.mark.skipif(
    not (_reachable_by_others(sys.executable) and _reachable_by_others(__file__)),
    reason="the Python interpreter or the project lies where other users cannot "
    "enter (e.g. under /root); runs where both are reachable by 'nobody'",
)
def test_stack_starts_and_stops_as_an_unprivileged_user():
    nobody = pwd.getpwnam("nobody")
    data_dir = new_data_dir()
    os.chown(data_dir, nobody.pw_uid, nobody.pw_gid)
    env = {"PATH": os.environ["PATH"], "HOME": str(data_dir), "PYTHONPATH": os.getcwd()}
    try:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(data_dir)],
            env=env,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(result.stdout.split()) == 4  # "pids" and three servers
        assert processes_mentioning(str(data_dir)) == []
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
