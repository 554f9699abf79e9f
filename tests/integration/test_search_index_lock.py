"""An agents worker whose search index another process writes says which one, and ends."""

from __future__ import annotations

import subprocess
import sys

import psycopg

from projections import targets
from tests.conftest import TEST_SETTINGS
from tests.support.processes import holding_search_index


def test_an_agents_worker_names_the_process_holding_its_search_index_and_exits(stack, tmp_path):
    # An index of its own, and consumer groups of its own: the session's agents go on as
    # they were.
    environment = (
        stack.environment()
        | TEST_SETTINGS
        | {"CHIRP_SEARCH_DIR": str(tmp_path / "index"), "CHIRP_AGENT_GROUP": "search-index-lock"}
    )
    settings = stack.settings.model_copy(update={"search_dir": tmp_path / "index"})
    with psycopg.connect(settings.postgres) as conn:
        directory = targets.current_now(conn, settings).search_directory
    with holding_search_index(directory) as holder:
        worker = subprocess.run(
            [sys.executable, "-m", "agents"],
            env=environment,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
    output = worker.stdout + worker.stderr
    assert worker.returncode == 1, output
    named = [
        line
        for line in output.splitlines()
        if f"the search index {directory} is in use by process {holder} (" in line
    ]
    assert len(named) == 1, output
    assert "Traceback" not in output
