"""A Server-Sent Events client for tests: reads a live-update stream on a thread of its own,
so a test can act meanwhile and wait for what arrives."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass

import httpx

STREAM_PATH = "/api/v1/streaming/home"


@dataclass(frozen=True)
class ServerEvent:
    kind: str
    data: dict
    id: str | None


def parse_events(lines) -> list[ServerEvent]:
    """The events in SSE `lines` (comments and retry fields skipped)."""
    events, fields = [], {}
    for line in lines:
        if line == "":
            if "event" in fields or "data" in fields:
                events.append(
                    ServerEvent(
                        fields.get("event", "message"),
                        json.loads(fields.get("data", "{}")),
                        fields.get("id"),
                    )
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    return events


class EventStream:
    """An open stream; `next(kind)` waits for the next event of that kind."""

    def __init__(self, base_url: str, token: str, last_event_id: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.events: queue.Queue[ServerEvent] = queue.Queue()
        self.received: list[ServerEvent] = []
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=60))
        self._response = self._client.send(
            self._client.build_request("GET", STREAM_PATH, headers=headers), stream=True
        )
        assert self._response.status_code == 200, self._response.read()
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        lines: list[str] = []
        try:
            for line in self._response.iter_lines():
                lines.append(line)
                if line == "":
                    for event in parse_events(lines):
                        self.events.put(event)
                    lines = []
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test

    def next(
        self, kind: str | None = None, timeout: float = 10.0, tweet_id: str | None = None
    ) -> ServerEvent:
        """The next event (of `kind` and about `tweet_id`, if given; others on the way are
        kept in `received`)."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(deadline - time.monotonic(), 0.001))
            self.received.append(event)
            if (kind is None or event.kind == kind) and (
                tweet_id is None or event.data.get("tweet_id") == tweet_id
            ):
                return event

    def close(self) -> None:
        self._response.close()
        self._client.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *_) -> None:
        self.close()
