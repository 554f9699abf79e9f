"""The README's run command: brings up the whole stack, seeds the demo, stops everything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from streams.topics import topic_registry
from operations.demo import DEMO_PASSWORD, DEMO_TWEETS, DEMO_USERS
from infra.servers import free_port
from infra.settings import Settings
from schemas import events as ev
from tests.conftest import TEST_PASSWORD_COST, new_data_dir
from tests.support.event_log import EventLog
from tests.support.processes import processes_mentioning


@pytest.fixture
def run_command():
    """`chirp run` on its own data directory and ports, with its output collected: a function
    that starts it (again, on the same directory)."""
    data_dir = new_data_dir()
    ports = {name: free_port() for name in ("KAFKA", "REDIS", "POSTGRES", "API")}
    env = dict(os.environ) | TEST_PASSWORD_COST | {"CHIRP_DATA_DIR": str(data_dir)}
    env |= {f"CHIRP_{name}_PORT": str(port) for name, port in ports.items()}
    chirp = Path(sys.executable).with_name("chirp")
    started: list[subprocess.Popen] = []

    def start() -> tuple[subprocess.Popen, list[str]]:
        process = subprocess.Popen([str(chirp), "run"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
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
        token = client.post("/api/v1/auth/token", json={
            "username": "alice", "password": DEMO_PASSWORD}).json()["access_token"]
        posted = client.post("/api/v1/tweets", json={"content": "Written through the run command"},
                             headers={"Authorization": f"Bearer {token}"})
        assert posted.status_code == 201
        # The agents run too: alice's home timeline has her new tweet and those of whom she follows.
        timeline = client.get("/api/v1/timeline/home", headers={"Authorization": f"Bearer {token}"})
        contents = {tweet["content"] for tweet in timeline.json()["tweets"]}
        assert {"Written through the run command", "Hello, Chirp! #firstchirp"} <= contents

    events = _events(ports)
    assert sorted(e.username for e in events if isinstance(e, ev.UserRegistered)) == sorted(
        name for name, _, _ in DEMO_USERS)
    assert len([e for e in events if isinstance(e, ev.UserFollowed)]) == 4
    contents = [e.content for e in events if isinstance(e, ev.TweetPosted)]
    # Authors' tweets sit in different partitions: compare without cross-partition order.
    assert sorted(contents) == sorted(
        [content for _, content in DEMO_TWEETS] + ["Written through the run command"])

    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    assert "Stopped." in "".join(lines)
    needles = [str(data_dir), *(f"127.0.0.1:{port}" for port in ports.values()),
               f"--port {ports['API']}"]
    assert processes_mentioning(*needles) == []

    # Started again on the same directory: everything is still there, the demo not twice.
    process, lines = start()
    wait_for_line(lines, "Press Ctrl-C to stop.", process)
    output = "".join(lines)
    assert f"Restored {len(events)} events from the archive" in output
    assert "Kept the earlier demo" in output
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.post("/api/v1/auth/token", json={
            "username": "alice", "password": DEMO_PASSWORD}).json()["access_token"]
        timeline = client.get("/api/v1/timeline/home", headers={"Authorization": f"Bearer {token}"})
        assert [t["content"] for t in timeline.json()["tweets"]].count(
            "Written through the run command") == 1
    assert sorted(map(ev.encode, _events(ports)), key=bytes) == sorted(map(ev.encode, events),
                                                                        key=bytes)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    assert processes_mentioning(*needles) == []


def _events(ports: dict[str, int]) -> list[ev.Event]:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{ports['KAFKA']}")
    log = EventLog(settings.bootstrap_servers, topic_registry(settings))
    try:
        return log.sync()
    finally:
        log.close()
