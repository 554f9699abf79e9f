"""`chirp api` and `chirp agents`, the roles a deployment runs: each runs what `python -m api`
and `python -m agents` run, configured by CHIRP_* settings alone."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import httpx

from infra.processes import ManagedProcess
from infra.servers import free_port
from operations.bootstrap import prepare_storage
from tests.conftest import TEST_PASSWORD_COST
from tests.support.logs import json_records

CHIRP = Path(sys.executable).parent / "chirp"


def _wait_for(condition, process: ManagedProcess, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.running(), f"{process.name} exited:\n{process.tail()}"
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s:\n{process.tail()}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: ManagedProcess) -> int | None:
    process.stop()
    return process.popen.returncode if process.popen else None


def test_chirp_api_serves_on_the_configured_port_with_the_configured_workers(stack, tmp_path):
    port = free_port()
    api = ManagedProcess(
        "chirp-api",
        [str(CHIRP), "api"],
        tmp_path / "api.log",
        env=stack.environment()
        | TEST_PASSWORD_COST
        | {
            "CHIRP_API_HOST": "127.0.0.1",
            "CHIRP_API_PORT": str(port),
            "CHIRP_API_WORKERS": "2",
            "CHIRP_LOG_FORMAT": "json",
        },
    )
    api.start()
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/readyz"), api, 60, "/readyz 200")
        _wait_for(
            lambda: (
                sum(
                    record["message"].startswith("Started server process")
                    for record in json_records(api)
                )
                == 2
            ),
            api,
            30,
            "two workers",
        )
    finally:
        status = _stop(api)
    assert status == 0, api.tail()
    assert {record["service"] for record in json_records(api)} == {"api"}


def test_chirp_agents_runs_the_projection_worker(stack, tmp_path):
    # A deployment of its own on the same servers (topics, consumer groups, schemas, keys),
    # so that this worker takes no partitions from the session's agents.
    name = f"cli{uuid.uuid4().hex[:8]}"
    deployment = {
        "CHIRP_TOPIC_PREFIX": f"{name}-",
        "CHIRP_READ_SCHEMA": f"read_model_{name}",
        "CHIRP_REDIS_PREFIX": f"chirp-{name}:",
        "CHIRP_ARCHIVE_SCHEMA": f"archive_{name}",
        "CHIRP_SEARCH_DIR": str(tmp_path / "search"),
    }
    prepare_storage(
        stack.settings.model_copy(
            update={
                "topic_prefix": f"{name}-",
                "read_schema": f"read_model_{name}",
                "redis_prefix": f"chirp-{name}:",
                "archive_schema": f"archive_{name}",
                "search_dir": tmp_path / "search",
            }
        )
    )
    metrics_port = free_port()
    agents = ManagedProcess(
        "chirp-agents",
        [str(CHIRP), "agents"],
        tmp_path / "agents.log",
        env=stack.environment()
        | deployment
        | {"CHIRP_AGENTS_METRICS_PORT": str(metrics_port), "CHIRP_LOG_FORMAT": "json"},
    )
    agents.start()
    try:
        _wait_for(
            lambda: "chirp agents ready" in agents.tail(200), agents, 90, "partitions assigned"
        )
        assert _answers(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        status = _stop(agents)
    assert status == 0, agents.tail()
    assert {record["service"] for record in json_records(agents)} == {"agents"}
