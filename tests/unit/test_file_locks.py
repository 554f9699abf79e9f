"""A busy lock names its holder: the process, found in /proc, and the search index's message."""

from __future__ import annotations

import asyncio
import sys

import pytest

from infra.file_locks import describe_process, lock_holder
from projections.tantivy_commits import SearchIndexLocked
from projections.tantivy_search import TantivySearchIndex
from tests.support.processes import holding, holding_search_index

# Takes an exclusive flock on the file named by LOCK_FILE (or only opens it), says so, and
# holds it until its stdin closes.
HOLD_LOCK = """
import fcntl, os, sys
held = open(os.environ["LOCK_FILE"], "a")
if os.environ["LOCK"] == "flock":
    fcntl.flock(held, fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("lock", ["flock", "open"])
def test_the_holder_of_a_lock_or_an_open_lock_file_is_found(tmp_path, lock):
    path = tmp_path / "writer.lock"
    with holding(HOLD_LOCK, LOCK_FILE=str(path), LOCK=lock) as pid:
        assert lock_holder(path) == pid
    assert lock_holder(path) is None
    assert lock_holder(tmp_path / "absent.lock") is None


def test_a_process_is_described_on_one_line_by_its_command(tmp_path):
    with holding(HOLD_LOCK, LOCK_FILE=str(tmp_path / "lock"), LOCK="open") as pid:
        description = describe_process(pid)
    assert description.startswith(f"process {pid} ({sys.executable} -c import fcntl, os, sys ")
    assert "\n" not in description


def test_a_search_index_another_process_writes_is_refused_with_that_process_named(tmp_path):
    directory = tmp_path / "index"
    with holding_search_index(directory) as pid:
        index = TantivySearchIndex(directory, writable=True)
        with pytest.raises(SearchIndexLocked) as refused:
            asyncio.run(index.setup())
        assert str(refused.value).startswith(
            f"the search index {directory} is in use by process {pid} ({sys.executable} -c "
        )
        assert str(refused.value).endswith(": stop it first")
        assert "\n" not in str(refused.value)
    # Once the other writer is gone, the same index opens for writing.
    asyncio.run(index.setup())
    asyncio.run(index.close())
