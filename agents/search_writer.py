"""Which agents worker writes the search index.

- **Elasticsearch** takes writes from any number of clients: every worker opens the index
  and runs the search consumer, and the search group's partitions are shared among the
  workers like any other group's.
- **tantivy** allows one writer per index directory, and the API processes read that
  directory on the same machine. One worker writes it: the one holding an flock beside the
  index (`writer_lock_path`), which the kernel drops however its holder ends. Every other
  worker stands by, tries the lock every STANDBY_SECONDS, and the one that takes it opens
  the index of the generation in use and starts the search consumer, which resumes from the
  recorded positions. So the search group has one member, and search does not scale with
  the workers on tantivy (docs/deploy.md); it fails over.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from infra.file_locks import HeldLock, describe_process, lock_holder, try_lock
from infra.metrics import SEARCH_WRITER
from infra.settings import Settings
from projections import targets
from projections.read_models import search_index
from projections.search import SearchIndex
from projections.tantivy_commits import SearchIndexLocked

log = logging.getLogger("chirp.agents")

# How often a standing-by worker tries to become the writer: at worst this much longer than
# the Kafka session timeout that moves the dead writer's other partitions.
STANDBY_SECONDS = 1.0

_held: HeldLock | None = None


def writer_lock_path(settings: Settings) -> Path:
    """The writer's lock of every generation of the index `settings` name: beside the first
    one, in a directory no replay removes."""
    first = settings.at(search=1).search_directory
    return first.with_name(f".{first.name}.writer.lock")


def elect(settings: Settings) -> bool:
    """Whether this worker writes the search index: always on Elasticsearch; on tantivy, if
    it took the writer's lock (held until the process ends)."""
    global _held
    if settings.search_engine == "elasticsearch" or _held is not None:
        return True
    _held = try_lock(writer_lock_path(settings))
    return _held is not None


def describe_writer(settings: Settings) -> str:
    """Which process writes the index, for the log of a worker standing by."""
    holder = lock_holder(writer_lock_path(settings))
    return describe_process(holder) if holder else "another process"


async def open_writable(settings: Settings) -> SearchIndex:
    """The index of `settings` opened for writing. A directory some other process writes
    (not an agents worker: they elect one) ends this worker, naming that process: waiting
    for it could be waiting for ever."""
    index = search_index(settings, writable=True)
    try:
        await index.setup()
    except SearchIndexLocked as error:
        # Faust would make an exception here a crash report and keep the worker up; nothing
        # has been applied yet that ending now could lose.
        log.error("%s", error)
        logging.shutdown()
        os._exit(1)
    return index


async def stand_by(settings: Settings, pool, take_over) -> None:
    """Until this worker is elected: try every STANDBY_SECONDS; then `take_over(index)` with
    the index of the generation in use now, read afresh (a switch may have just happened)."""
    while not elect(settings):
        await asyncio.sleep(STANDBY_SECONDS)
    current = await targets.current(pool, settings)
    await take_over(await open_writable(current))
    SEARCH_WRITER.set(1)
    log.info("this worker writes the search index %s now", current.search_directory)
