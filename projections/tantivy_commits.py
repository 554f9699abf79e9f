"""What both tantivy indexes of a search generation (tweets, users) share: the one writer
per directory, and committing a batch all or nothing."""

from __future__ import annotations

from pathlib import Path

import tantivy

from infra.file_locks import describe_process, lock_holder
from projections.search import SearchEngineError

# Where tantivy locks an index directory to its one writer (an flock, held while it is open).
WRITER_LOCK_FILE = ".tantivy-writer.lock"


class SearchIndexLocked(SearchEngineError):
    """Another process writes to this index (tantivy allows one writer per directory); the
    message names it."""

    def __init__(self, directory: Path) -> None:
        holder = lock_holder(directory / WRITER_LOCK_FILE)
        who = describe_process(holder) if holder else "another process"
        super().__init__(f"the search index {directory} is in use by {who}: stop it first")


def commit_batch(index: tantivy.Index, writer: tantivy.IndexWriter, change) -> None:
    """Apply `change` to `writer` and commit, all or nothing; then show it to `index`'s
    searchers. Call it holding the writer's lock, on a worker thread."""
    try:
        change(writer)
        writer.commit()
    except Exception as error:
        # Uncommitted operations would otherwise ride along with the next batch.
        writer.rollback()
        if isinstance(error, ValueError):
            raise SearchEngineError(f"tantivy: {error}") from error
        raise
    index.reload()


def open_writer(index: tantivy.Index, directory: Path, heap_bytes: int) -> tantivy.IndexWriter:
    """The index's one writer, single-threaded; SearchIndexLocked if another process has it."""
    try:
        return index.writer(heap_size=heap_bytes, num_threads=1)
    except ValueError as error:
        if "LockBusy" in str(error):
            raise SearchIndexLocked(directory) from error
        raise
