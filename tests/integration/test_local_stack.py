"""The stack launcher: servers from wheels start, answer, and leave nothing behind."""

from __future__ import annotations

import shutil

import psycopg
import redis

from infra.settings import Settings
from operations.stack import LocalStack
from streams.admin import ensure_topics
from streams.topics import topic_registry
from tests.conftest import new_data_dir
from tests.support.processes import processes_in_groups, processes_mentioning


def test_a_second_stack_runs_beside_the_session_stack_and_stops_without_leftovers(stack):
    data_dir = new_data_dir()
    second = LocalStack(Settings(data_dir=data_dir), ephemeral=True)
    try:
        settings = second.start()
        # Both stacks answer at once, on different ports and data directories.
        for running in (stack.settings, settings):
            assert redis.Redis.from_url(running.redis).ping()
            with psycopg.connect(running.postgres) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        assert settings.redis != stack.settings.redis
        assert settings.bootstrap_servers != stack.settings.bootstrap_servers
        assert settings.postgres != stack.settings.postgres
        # Creating the topics again is harmless.
        ensure_topics(settings.bootstrap_servers, topic_registry(settings))
        pids = second.pids()
        assert len(pids) == 3
    finally:
        second.stop()
    assert processes_in_groups(pids) == []
    kafka_port = settings.bootstrap_servers.rsplit(":", 1)[1]
    assert processes_mentioning(str(data_dir), f"127.0.0.1:{kafka_port}") == []
    shutil.rmtree(data_dir, ignore_errors=True)


def test_servers_given_in_the_environment_are_used_instead_of_started(stack):
    borrowed = Settings(
        data_dir=new_data_dir(),
        kafka_bootstrap=stack.settings.bootstrap_servers,
        redis_url=stack.settings.redis,
        postgres_dsn=stack.settings.postgres,
    )
    with LocalStack(borrowed, ephemeral=True) as reuse:
        assert reuse.pids() == []
        assert reuse.settings.postgres == stack.settings.postgres
    shutil.rmtree(borrowed.data_dir, ignore_errors=True)
