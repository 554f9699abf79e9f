"""tantivy's one writer among agents workers: elected by a lock that no generation's index
directory holds, which one holder at a time takes and the next takes once it is let go."""

from __future__ import annotations

from pathlib import Path

from agents.search_writer import writer_lock_path
from infra.file_locks import try_lock
from infra.settings import Settings


def test_the_writer_lock_is_the_same_for_every_generation_and_outside_their_directories():
    settings = Settings(_env_file=None, data_dir=Path("/srv/chirp"))
    path = writer_lock_path(settings)
    assert path == Path("/srv/chirp/search/.read_model.writer.lock")
    for generation in (1, 2, 7):
        later = settings.at(search=generation)
        assert writer_lock_path(later) == path
        assert path.parent == later.search_directory.parent  # never removed by a replay
        assert not path.is_relative_to(later.search_directory)


def test_one_holder_at_a_time_and_the_next_once_it_is_let_go(tmp_path):
    path = tmp_path / "search" / ".read_model.writer.lock"
    first = try_lock(path)
    assert first is not None
    assert try_lock(path) is None  # another descriptor, as another process would have
    first.release()
    second = try_lock(path)
    assert second is not None
    second.release()
