"""`chirp replay` refuses what it cannot do safely, before it touches anything."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from operations.replay import ReplayFailed, replay


def test_a_second_replay_of_the_same_read_models_is_refused(stack):
    settings = stack.settings.model_copy(update={"read_schema": "guarded_model"})
    with psycopg.connect(settings.postgres, autocommit=True) as running:
        running.execute("SELECT pg_advisory_lock(hashtext(%s))", ("replay guarded_model",))
        with pytest.raises(ReplayFailed, match="another replay"):
            asyncio.run(replay(settings, "core"))
    with psycopg.connect(settings.postgres) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'guarded_model%'"
            ).fetchone()[0]
            == 0
        )


def test_a_cassandra_tweet_store_is_refused_with_the_reason(stack):
    settings = stack.settings.model_copy(update={"tweet_store": "cassandra"})
    with pytest.raises(ReplayFailed, match="keyspace per generation"):
        asyncio.run(replay(settings, "core"))


def test_trends_from_the_archive_are_refused_with_the_reason(stack):
    with pytest.raises(ReplayFailed, match="the archive keeps the event topics"):
        asyncio.run(replay(stack.settings, "trends", source="archive"))


def test_an_unknown_read_model_is_refused(stack):
    with pytest.raises(ReplayFailed, match="one of core, search, trends"):
        asyncio.run(replay(stack.settings, "timelines"))
