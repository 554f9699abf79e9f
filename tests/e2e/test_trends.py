"""Trends through the API on the real stack: tweets posted through the API, counted by the
live Flink job, upserted by the trends agent, served by GET /api/v1/trends."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.clients import eventually, register
from tests.support.trends_reference import expected_rows

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "trending.md"

WINDOW, SLIDE, TOP_N = timedelta(seconds=6), timedelta(seconds=2), 5
TRENDING = {
    "CHIRP_TRENDING_WINDOW_SECONDS": "6",
    "CHIRP_TRENDING_SLIDE_SECONDS": "2",
    "CHIRP_TRENDING_TOP_N": str(TOP_N),
    "CHIRP_TRENDING_WATERMARK_DELAY_SECONDS": "1",
    # Every partition the test does not write to would hold the windows back this long.
    "CHIRP_TRENDING_IDLE_TIMEOUT_SECONDS": "5",
}


@pytest.fixture(scope="module")
def trending_job(stack, agents):
    job = stack.start_trending(**TRENDING)
    yield job
    job.stop()
    stack.processes.remove(job)


def _trends(client) -> dict:
    response = client.get("/api/v1/trends")
    assert response.status_code == 200, response.text
    return response.json()


def test_posted_hashtags_trend_once_their_window_has_closed(stack, client, trending_job):
    authors = [register(client, "trd") for _ in range(3)]
    # The third author's tweets (the last one among them) count in India's trends too
    # (docs/trending.md, "Regions").
    located = client.patch(
        "/api/v1/users/me", json={"location": "Mumbai, India"}, headers=authors[2].auth
    )
    assert located.status_code == 200, located.text
    tags = ["t" + uuid.uuid4().hex[:8] for _ in range(3)]
    texts = (
        [f"#{tags[0]} first"] * 5
        + [f"#{tags[1].upper()} and #{tags[0]}"] * 3
        + [f"#{tags[2]}, once"]
    )
    posts = []
    for number, text in enumerate(texts):
        response = client.post(
            "/api/v1/tweets", json={"content": text}, headers=authors[number % 3].auth
        )
        assert response.status_code == 201, response.text
        created = datetime.fromisoformat(response.json()["created_at"])
        region = "IN" if number % 3 == 2 else None
        posts.append((created, tuple(tag for tag in tags if f"#{tag}" in text.lower()), region))

    # The windows the job must write for these posts; the newest is what readers see last.
    rows = expected_rows(posts, WINDOW, SLIDE, TOP_N)
    last_end = max(row[1] for row in rows)
    final = sorted(
        (rank, tag, count)
        for _, end, rank, tag, count, *_, region in rows
        if end == last_end and region == "global"
    )

    def shows_final_window() -> bool:
        body = _trends(client)
        return body["window_end"] is not None and body["window_end"].replace(
            "+00:00", "Z"
        ).startswith(last_end[:19])

    # window + slide + watermark delay + the idle timeout of partitions nobody wrote to,
    # and the job's start-up when it reads the session's earlier tweets.
    assert eventually(shows_final_window, timeout=90, interval=0.2)
    # A window's rows may reach the trends agent in two batches: the lower ranks follow
    # within moments (docs/trending.md, "Known gaps").
    ranked = lambda body: [(t["rank"], t["hashtag"], t["count"]) for t in body["trends"]]  # noqa: E731
    assert eventually(lambda: ranked(_trends(client)) == final, timeout=10), ranked(_trends(client))
    body = _trends(client)
    assert body["trends"][0]["velocity"] == pytest.approx(
        next(row[7] for row in rows if row[1] == last_end and row[2] == 1 and row[8] == "global")
    )
    # Fastest rising first, as the oracle's velocities order them.
    newest = [row for row in rows if row[1] == last_end and row[8] == "global"]
    by_velocity = [row[3] for row in sorted(newest, key=lambda row: (-row[7], -row[4], row[3]))]
    rising = client.get("/api/v1/trends", params={"sort": "velocity"}).json()
    assert [t["hashtag"] for t in rising["trends"]] == by_velocity
    # India's trends: its authors' tweets only, in the same window.
    india = client.get("/api/v1/trends", params={"region": "in"}).json()
    in_india = sorted(
        (rank, tag, count)
        for _, end, rank, tag, count, *_, region in rows
        if end == last_end and region == "IN"
    )
    assert india["region"] == "IN" and india["window_end"] == body["window_end"]
    assert sorted((t["rank"], t["hashtag"], t["count"]) for t in india["trends"]) == in_india
    assert in_india  # the newest window holds the last tweet, India's
    for params in ({"sort": "loudest"}, {"region": "XX"}):
        refused = client.get("/api/v1/trends", params=params)
        assert refused.status_code == 422, params
        assert refused.headers["content-type"] == "application/problem+json"

    # The analysts' kafka-python recipe in docs/trending.md, as written, sees the same window.
    recipe = re.search(
        r"### Reading it with kafka-python.*?```python\n(.*?)```", DOC.read_text(), re.S
    ).group(1)
    recipe = recipe.replace('"127.0.0.1:19092"', repr(stack.settings.bootstrap_servers))
    scope = {"print": lambda *args: None}
    exec(compile(recipe, str(DOC), "exec"), scope)
    assert scope["latest"] == last_end
    assert (
        sorted(
            (row["rank"], row["hashtag"], row["count"])
            for row in scope["windows"][(last_end, "global")].values()
        )
        == final
    )
