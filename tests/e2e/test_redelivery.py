"""At-least-once delivery: a killed worker and a replayed log leave the read models as a clean run.

The live read models go through a SIGKILL of the agent worker in the middle of a burst of
writes. A second worker then projects the whole log from the start into a fresh PostgreSQL
schema and Redis prefix (a clean run), and a third replays it again onto that same target.
Everything a user can read, counts and timelines included, must be identical in all three.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import httpx
import psycopg
import pytest
import redis

from projections.redis_keys import RedisKeys
from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS
from tests.support.clients import User, follow, post, register

LIVE_GROUP = "chirp-projections"


def all_pages(client: httpx.Client, path: str, user: User) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get(path, headers=user.auth, params=params).json()
        items += page.get("tweets", page.get("users", []))
        cursor = page["next_cursor"]
        if not cursor:
            return items


def snapshot(base_url: str, users: list[User], tweet_ids: list[str]) -> dict:
    """Everything the workload's users can read, as they read it."""
    view = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for user in users:
            view[f"profile {user.username}"] = client.get(f"/api/v1/users/{user.user_id}").json()
            view[f"home {user.username}"] = all_pages(client, "/api/v1/timeline/home", user)
            view[f"tweets {user.username}"] = all_pages(
                client, f"/api/v1/users/{user.user_id}/tweets", user)
            view[f"followers {user.username}"] = all_pages(
                client, f"/api/v1/users/{user.user_id}/followers", user)
        viewer = users[0]
        for tweet_id in tweet_ids:
            response = client.get(f"/api/v1/tweets/{tweet_id}", headers=viewer.auth)
            view[f"tweet {tweet_id}"] = (response.status_code, response.json())
            view[f"likes {tweet_id}"] = client.get(f"/api/v1/tweets/{tweet_id}/likes").json()
    return view


def positions(stack, group: str, prefix: str) -> dict[str, int]:
    client = redis.Redis.from_url(stack.settings.redis)
    keys = RedisKeys(prefix)
    pattern = keys.position(group, "*", 0)[:-len("*:0")] + "*"
    return {key.decode().rsplit(":", 2)[-2] + ":" + key.decode().rsplit(":", 1)[-1]: int(value)
            for key in client.scan_iter(pattern) for value in [client.get(key)]}


def wait_caught_up(stack, group: str, prefix: str, target: dict[str, int], timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = positions(stack, group, prefix)
        if all(done.get(place, -1) >= offset for place, offset in target.items()):
            return
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name} {p.pid} running={p.running()}\n{p.tail(30)}"
                     for p in stack.processes if p.name == "agents")
    raise AssertionError(f"{group} did not catch up: {positions(stack, group, prefix)} < {target}"
                         f"\n{logs}")


def differences(left: dict, right: dict) -> dict:
    """The entries in which two snapshots differ, side by side (for a readable failure)."""
    return {key: (left.get(key), right.get(key)) for key in sorted(set(left) | set(right))
            if left.get(key) != right.get(key)}


def table_dump(stack, schema: str) -> dict[str, list]:
    """Every read-model table. Left out: `user_counts.pulled`, which records how fan-out
    delivered (push or pull) and so depends on how the topics interleaved in each run;
    what users read of it is compared through the API above."""
    tables = {"users": "*", "follows": "*", "counted_tweets": "*", "tweets": "*", "likes": "*",
              "retweets": "*", "replies": "*", "tweet_counts": "*",
              "user_counts": "user_id, followers_count, following_count, tweet_count"}
    with psycopg.connect(stack.settings.postgres) as conn:
        return {table: conn.execute(f"SELECT {columns} FROM {schema}.{table} ORDER BY 1, 2")
                .fetchall() for table, columns in tables.items()}


def run_workload(client_factory, users: list[User], halfway: threading.Event,
                 tweet_ids: list[str]) -> None:
    """A burst of every kind of write; sets `halfway` in the middle of it and goes on."""
    rng = random.Random(7)
    with client_factory() as client:
        for user in users:
            for other in rng.sample([u for u in users if u is not user], 3):
                follow(client, user, other)
        steps = 240
        for step in range(steps):
            if step == steps // 2:
                halfway.set()
            user = rng.choice(users)
            roll = rng.random()
            if roll < 0.4 or len(tweet_ids) < 5:
                reply_to = rng.choice(tweet_ids) if tweet_ids and rng.random() < 0.2 else None
                response = client.post("/api/v1/tweets", headers=user.auth, json={
                    "content": f"step {step} #burst", **({"reply_to": reply_to} if reply_to else {})})
                if response.status_code == 201:
                    tweet_ids.append(response.json()["tweet_id"])
                continue
            target = rng.choice(tweet_ids)
            if roll < 0.65:
                action, method = "like", rng.choice(["POST", "POST", "DELETE"])
            elif roll < 0.85:
                action, method = "retweet", rng.choice(["POST", "POST", "DELETE"])
            elif roll < 0.95:
                other = rng.choice(users)
                if other is not user:
                    method = rng.choice(["POST", "DELETE"])
                    client.request(method, f"/api/v1/users/{other.user_id}/follow", headers=user.auth)
                continue
            else:
                mine = client.get(f"/api/v1/tweets/{target}").json()
                owner = next((u for u in users if mine.get("user", {}).get("id") == u.user_id), None)
                if owner is not None:
                    client.delete(f"/api/v1/tweets/{target}", headers=owner.auth)
                continue
            client.request(method, f"/api/v1/tweets/{target}/{action}", headers=user.auth)


@pytest.mark.slow
def test_killed_worker_and_replays_leave_read_models_as_a_clean_run(stack, agents, api_url,
                                                                    client_factory, event_log):
    with client_factory() as client:
        users = [register(client, "rp") for _ in range(8)]

    halfway, tweet_ids = threading.Event(), []
    burst = threading.Thread(target=run_workload, args=(client_factory, users, halfway, tweet_ids))
    burst.start()
    try:
        assert halfway.wait(120)
        killed = next(p for p in stack.processes if p.name == "agents" and p.running())
        killed.kill()  # SIGKILL mid-burst: no commit, no goodbye
        # Restarted from this (main) thread: children die with the thread that started them.
        stack.start_agents(**TEST_SETTINGS)
    finally:
        burst.join()
    event_log.sync()
    log_end = dict(event_log.ends)  # every event of the session so far, this burst included
    wait_caught_up(stack, LIVE_GROUP, "chirp:", log_end)
    live = snapshot(api_url, users, tweet_ids)

    target = f"clean_{uuid.uuid4().hex[:8]}"
    clean_env = {"CHIRP_READ_SCHEMA": target, "CHIRP_REDIS_PREFIX": f"{target}:"}
    first = stack.start_agents(**TEST_SETTINGS, **clean_env, CHIRP_AGENT_GROUP=f"{target}-1")
    wait_caught_up(stack, f"{target}-1", f"{target}:", log_end)
    first.stop()
    clean_url = stack.start_api(**TEST_PASSWORD_COST, **TEST_SETTINGS, **clean_env,
                                CHIRP_AGENT_GROUP=f"{target}-1")
    clean = snapshot(clean_url, users, tweet_ids)
    assert differences(clean, live) == {}
    tables = table_dump(stack, target)

    # The same events once more, onto the same target.
    again = stack.start_agents(**TEST_SETTINGS, **clean_env, CHIRP_AGENT_GROUP=f"{target}-2")
    wait_caught_up(stack, f"{target}-2", f"{target}:", log_end)
    again.stop()
    assert table_dump(stack, target) == tables
    assert differences(snapshot(clean_url, users, tweet_ids), live) == {}
