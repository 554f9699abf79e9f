"""The README's run command: brings up the whole stack, seeds the demo, stops everything."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from bench.workload import mixed_log, produce
from infra.servers import free_port
from infra.settings import Settings
from operations.demo import DEMO_PASSWORD, DEMO_TWEETS, DEMO_USERS
from schemas import events as ev
from streams.admin import log_end_offsets
from streams.topics import topic_registry
from tests.conftest import TEST_PASSWORD_COST, new_data_dir
from tests.support.clients import eventually
from tests.support.event_log import EventLog
from tests.support.processes import (
    holding_search_index,
    listening_sockets,
    on_loopback,
    process_tree,
    processes_mentioning,
    still_running,
)


@pytest.fixture
def run_command():
    """`chirp run` on its own data directory and ports, with its output collected: a function
    that starts it (again, on the same directory; keyword arguments add to its environment)."""
    data_dir = new_data_dir()
    ports = {name: free_port() for name in ("KAFKA", "REDIS", "POSTGRES", "API")}
    env = dict(os.environ) | TEST_PASSWORD_COST | {"CHIRP_DATA_DIR": str(data_dir)}
    env |= {f"CHIRP_{name}_PORT": str(port) for name, port in ports.items()}
    chirp = Path(sys.executable).with_name("chirp")
    started: list[subprocess.Popen] = []

    def start(**environment: str) -> tuple[subprocess.Popen, list[str]]:
        process = subprocess.Popen(
            [str(chirp), "run"],
            env=env | environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
        return process, lines

    try:
        yield start, ports, data_dir
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def wait_for_line(lines: list[str], text: str, process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return
        assert process.poll() is None, "".join(lines)
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not printed in {timeout}s:\n{''.join(lines)}")


def test_run_command_serves_writes_as_events_and_stops_everything(run_command):
    start, ports, data_dir = run_command
    process, lines = start()
    wait_for_line(lines, "Press Ctrl-C to stop.", process)
    base_url = f"http://127.0.0.1:{ports['API']}"
    assert f"Chirp API: {base_url}" in "".join(lines)
    assert f"{base_url}/docs" in "".join(lines)

    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.get("/openapi.json").json()["info"]["title"] == "Chirp API"
        assert client.get("/docs").status_code == 200
        token = client.post(
            "/api/v1/auth/token", json={"username": "alice", "password": DEMO_PASSWORD}
        ).json()["access_token"]
        posted = client.post(
            "/api/v1/tweets",
            json={"content": "Written through the run command"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert posted.status_code == 201
        # The agents run too: alice's home timeline has her new tweet and those of whom she follows.
        timeline = client.get("/api/v1/timeline/home", headers={"Authorization": f"Bearer {token}"})
        contents = {tweet["content"] for tweet in timeline.json()["tweets"]}
        assert {"Written through the run command", "Hello, Chirp! #firstchirp"} <= contents

    events = _events(ports)
    assert sorted(e.username for e in events if isinstance(e, ev.UserRegistered)) == sorted(
        name for name, _, _ in DEMO_USERS
    )
    assert len([e for e in events if isinstance(e, ev.UserFollowed)]) == 4
    contents = [e.content for e in events if isinstance(e, ev.TweetPosted)]
    # Authors' tweets sit in different partitions: compare without cross-partition order.
    assert sorted(contents) == sorted(
        [content for _, content in DEMO_TWEETS] + ["Written through the run command"]
    )

    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    assert "Stopped." in "".join(lines)
    needles = [
        str(data_dir),
        *(f"127.0.0.1:{port}" for port in ports.values()),
        f"--port {ports['API']}",
    ]
    assert processes_mentioning(*needles) == []

    # Started again on the same directory: everything is still there, the demo not twice.
    process, lines = start()
    wait_for_line(lines, "Press Ctrl-C to stop.", process)
    output = "".join(lines)
    assert f"Restored {len(events)} events from the archive" in output
    assert "Kept the earlier demo" in output
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.post(
            "/api/v1/auth/token", json={"username": "alice", "password": DEMO_PASSWORD}
        ).json()["access_token"]
        timeline = client.get("/api/v1/timeline/home", headers={"Authorization": f"Bearer {token}"})
        assert [t["content"] for t in timeline.json()["tweets"]].count(
            "Written through the run command"
        ) == 1
    assert sorted(map(ev.encode, _events(ports)), key=bytes) == sorted(
        map(ev.encode, events), key=bytes
    )
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    assert processes_mentioning(*needles) == []


@pytest.mark.slow
def test_every_socket_of_the_run_command_listens_on_loopback_and_flink_takes_no_jobs(run_command):
    start, ports, _ = run_command
    process, lines = start()
    wait_for_line(lines, "Press Ctrl-C to stop.", process)
    tree = process_tree(process.pid)
    sockets = listening_sockets(tree)
    assert set(ports.values()) <= {port for _, _, port in sockets}
    exposed = [
        f"{_program(tree[pid][1])} (pid {pid}) on {address} port {port}"
        for pid, address, port in sockets
        if not on_loopback(address)
    ]
    assert exposed == []

    # The trending job's mini-cluster: its REST endpoint neither takes nor cancels jobs.
    if not any("No trends:" in line for line in lines):
        flink = [
            _flink_features(port) for pid, _, port in sockets if _program(tree[pid][1]) == "java"
        ]
        assert [features for features in flink if features is not None] == [
            {"web-submit": False, "web-cancel": False, "web-rescale": False, "web-history": False}
        ]
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0


def _program(command: str) -> str:
    return Path(command.split(" ", 1)[0]).name


def _flink_features(port: int) -> dict | None:
    """What Flink's REST endpoint on `port` allows, or None if `port` is not that endpoint."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).json()["features"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


@pytest.mark.slow
def test_a_run_command_killed_while_the_agents_work_takes_every_process_it_started_along(
    run_command,
):
    start, ports, _ = run_command
    # Two API workers: uvicorn's supervisor has children of its own, as the trending job
    # (its JVM) and PostgreSQL (its backends) have.
    process, lines = start(CHIRP_API_WORKERS="2")
    wait_for_line(lines, "Press Ctrl-C to stop.", process)
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{ports['KAFKA']}",
        postgres_dsn=f"postgresql://chirp@127.0.0.1:{ports['POSTGRES']}/chirp",
    )
    before = sum(
        log_end_offsets(
            settings.bootstrap_servers, topic_registry(settings).event_topics()
        ).values()
    )
    rng = random.Random(17)
    edges = list({(rng.randrange(1, 2000), rng.randrange(1, 2000)) for _ in range(10_000)})
    produce(
        settings,
        mixed_log(
            [(a, b) for a, b in edges if a != b],
            20_000,
            [f"backlog {n} #killed" for n in range(200)],
        ),
    )
    assert eventually(lambda: _archived(settings) > before + 1000, timeout=60), (
        "the agents did not start on the backlog"
    )

    tree = process_tree(process.pid)
    commands = [command for _, command in tree.values()]
    assert sum("spawn_main" in command for command in commands) >= 2  # the API's workers
    assert sum(command.startswith("postgres: ") for command in commands) >= 3  # backends
    if not any("No trends:" in line for line in lines):
        assert "java" in map(_program, commands)
    # The agents once hung in Faust's "Stopping..." for minutes once the broker and PostgreSQL
    # were gone. Chirp's own processes are stopped here (SIGSTOP): they stand for any process
    # that cannot finish a clean stop.
    chirp = [pid for pid, (_, command) in tree.items() if command.endswith(CHIRP_PROCESSES)]
    assert len(chirp) == 3 or (len(chirp) == 2 and "No trends:" in "".join(lines)), commands
    for pid in chirp:
        os.kill(pid, signal.SIGSTOP)
    process.kill()
    process.wait()
    try:
        left = eventually(lambda: not still_running(tree), timeout=30, interval=0.1)
        assert left, f"still running 30 s after `chirp run` was killed: {still_running(tree)}"
    finally:
        for leftover in still_running(tree):
            os.kill(int(leftover.split(":", 1)[0]), signal.SIGKILL)


# How the agents, the API's supervisor and the trending job are started.
CHIRP_PROCESSES = (" -m agents", " -m api", " -m operations.cli trending")


def _archived(settings: Settings) -> int:
    """Events the archive agent has read (every event topic and partition)."""
    with psycopg.connect(settings.postgres, connect_timeout=5) as conn:
        row = conn.execute(
            f'SELECT COALESCE(SUM("offset" + 1), 0) FROM {settings.archive_schema}.positions'
        ).fetchone()
    return int(row[0])


@pytest.mark.slow
def test_a_search_index_held_by_another_process_stops_the_run_command_with_one_line_naming_it(
    run_command,
):
    start, _, data_dir = run_command
    with holding_search_index(Settings(data_dir=data_dir).search_directory) as holder:
        process, lines = start()
        assert process.wait(120) == 1
    assert eventually(lambda: lines and lines[-1] == "Stopped.\n", timeout=10), lines
    output = "".join(lines)
    named = [line for line in lines if f"process {holder} (" in line]
    assert len(named) == 1 and named[0].startswith("chirp run: the search index "), output
    assert "Traceback" not in output
    assert processes_mentioning(str(data_dir)) == []


def _events(ports: dict[str, int]) -> list[ev.Event]:
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{ports['KAFKA']}",
        postgres_dsn=f"postgresql://chirp@127.0.0.1:{ports['POSTGRES']}/chirp",
    )
    log = EventLog(settings.bootstrap_servers, topic_registry(settings), settings.postgres)
    try:
        return log.sync()
    finally:
        log.close()
