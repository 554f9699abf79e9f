"""Structured logs: the API and the agents write one JSON object per line, and each request
leaves an access line with its route template and a request id. (That every record made while
serving a request carries its id is checked where such records are made: the PostgreSQL fault
test's 503 warning.)"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from tests.support.clients import eventually, register
from tests.support.logs import json_records


def _running(stack, name: str):
    return next(
        process for process in stack.processes if process.name == name and process.running()
    )


def test_each_request_leaves_a_json_access_line_with_its_route_and_request_id(
    stack, api_url, client
):
    user = register(client, "logs")
    assert eventually(lambda: client.get(f"/api/v1/users/{user.user_id}").status_code == 200)
    request_id = f"test-{uuid.uuid4().hex}"
    answer = client.get(f"/api/v1/users/{user.user_id}", headers={"X-Request-ID": request_id})
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == request_id
    generated = client.get("/api/v1/users/1")
    assert generated.status_code == 404
    assert len(generated.headers["X-Request-ID"]) == 32  # none given: the API makes one
    # An id that is no plain token is not written into the logs: it is replaced.
    replaced = client.get("/healthz", headers={"X-Request-ID": "x" * 65})
    assert replaced.headers["X-Request-ID"] != "x" * 65

    api = _running(stack, "api")

    def access_line() -> dict | None:
        return next(
            (
                record
                for record in json_records(api)
                if record.get("request_id") == request_id and record["logger"] == "chirp.api.access"
            ),
            None,
        )

    line = eventually(access_line, timeout=10)
    assert line["service"] == "api" and line["level"] == "INFO"
    assert line["method"] == "GET" and line["status"] == 200
    assert line["route"] == "/api/v1/users/{user_id}"
    assert line["path"] == f"/api/v1/users/{user.user_id}"
    assert line["duration_ms"] > 0
    assert any(
        record.get("request_id") == generated.headers["X-Request-ID"]
        and record.get("status") == 404
        for record in json_records(api)
    )


def test_a_path_with_unicode_line_separators_stays_on_one_json_line(stack, api_url, client):
    # JSON leaves U+2028 and U+0085 unescaped: each record must still end at "\n" only.
    request_id = f"test-{uuid.uuid4().hex}"
    path = "/api/v1/users/a\u2028b\x85c"
    answer = client.get(quote(path), headers={"X-Request-ID": request_id})
    assert 400 <= answer.status_code < 500
    api = _running(stack, "api")
    line = eventually(
        lambda: next(
            (record for record in json_records(api) if record.get("request_id") == request_id), None
        )
    )
    assert line["path"] == path


def test_the_agents_log_json_lines(stack, agents):
    records = json_records(_running(stack, "agents"))
    assert any(
        record["message"] == "chirp agents ready" and record["service"] == "agents"
        for record in records
    ), json.dumps(records[-20:], indent=1)
