"""Read models as users see them, and the agents' progress: for tests that compare runs."""

from __future__ import annotations

import random
import threading
import time

import httpx
import orjson
import psycopg
from kafka import KafkaProducer

from infra.redis_clients import sync_redis
from projections.redis_keys import RedisKeys
from streams.topics import topic_registry
from tests.support.clients import User, follow

LIVE_GROUP = "chirp-projections"


def all_pages(client: httpx.Client, path: str, user: User, **query: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = query | {"limit": 100} | ({"cursor": cursor} if cursor else {})
        response = client.get(path, headers=user.auth, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page.get("tweets", page.get("users", page.get("notifications", [])))
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
                client, f"/api/v1/users/{user.user_id}/tweets", user
            )
            view[f"followers {user.username}"] = all_pages(
                client, f"/api/v1/users/{user.user_id}/followers", user
            )
        viewer = users[0]
        for tweet_id in tweet_ids:
            response = client.get(f"/api/v1/tweets/{tweet_id}", headers=viewer.auth)
            view[f"tweet {tweet_id}"] = (response.status_code, response.json())
            view[f"likes {tweet_id}"] = client.get(f"/api/v1/tweets/{tweet_id}/likes").json()
    return view


def notifications_snapshot(base_url: str, users: list[User]) -> dict:
    """Each user's notifications, unread count and mentions timeline, as they read them."""
    view = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for user in users:
            view[f"notifications {user.username}"] = all_pages(
                client, "/api/v1/notifications", user
            )
            view[f"unread {user.username}"] = client.get(
                "/api/v1/notifications/unread_count", headers=user.auth
            ).json()
            view[f"mentions {user.username}"] = all_pages(client, "/api/v1/timeline/mentions", user)
    return view


def positions(stack, group: str, prefix: str) -> dict[str, int]:
    client = sync_redis(stack.settings)
    keys = RedisKeys(prefix)
    pattern = keys.position(group, "*", 0)[: -len("*:0")] + "*"
    return {
        key.decode().rsplit(":", 2)[-2] + ":" + key.decode().rsplit(":", 1)[-1]: int(value)
        for key in client.scan_iter(pattern)
        for value in [client.get(key)]
    }


def wait_caught_up(stack, group: str, prefix: str, target: dict[str, int], timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = positions(stack, group, prefix)
        if all(done.get(place, -1) >= offset for place, offset in target.items()):
            return
        time.sleep(0.5)
    logs = "\n".join(
        f"--- {p.name} {p.pid} running={p.running()}\n{p.tail(30)}"
        for p in stack.processes
        if p.name == "agents"
    )
    raise AssertionError(
        f"{group} did not catch up: {positions(stack, group, prefix)} < {target}\n{logs}"
    )


def differences(left: dict, right: dict) -> dict:
    """The entries in which two snapshots differ, side by side (for a readable failure)."""
    return {
        key: (left.get(key), right.get(key))
        for key in sorted(set(left) | set(right))
        if left.get(key) != right.get(key)
    }


def table_dump(stack, schema: str) -> dict[str, list]:
    """Every read-model table. Left out: `user_counts.pulled`, which records how fan-out
    delivered (push or pull) and so depends on how the topics interleaved in each run;
    what users read of it is compared through the API above."""
    tables = {
        "users": "*",
        "follows": "*",
        "counted_tweets": "*",
        "tweets": "*",
        "likes": "*",
        "retweets": "*",
        "replies": "*",
        "quotes": "*",
        "tweet_counts": "*",
        "user_counts": "user_id, followers_count, following_count, tweet_count",
    }
    with psycopg.connect(stack.settings.postgres) as conn:
        return {
            table: [
                tuple(tuple(value) if isinstance(value, list) else value for value in row)
                for row in conn.execute(f"SELECT {columns} FROM {schema}.{table} ORDER BY 1, 2")
            ]
            for table, columns in tables.items()
        }


def run_workload(
    client_factory, users: list[User], halfway: threading.Event, tweet_ids: list[str]
) -> None:
    """A burst of every kind of write (posts with mentions, replies and quotes among them);
    sets `halfway` in the middle of it and goes on."""
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
                link = {}
                if tweet_ids and rng.random() < 0.3:
                    # A reply or a quote (of a tweet perhaps deleted since: then refused).
                    link = {rng.choice(["reply_to", "quote_of"]): rng.choice(tweet_ids)}
                # A user and a name nobody holds; every post as many words long, so that
                # search's BM25 ranks them alike (length norms) in every generation.
                mention = f" @{rng.choice(users).username} @nobody{step}"
                response = client.post(
                    "/api/v1/tweets",
                    headers=user.auth,
                    json={"content": f"step {step} #burst{mention}", **link},
                )
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
                    client.request(
                        method, f"/api/v1/users/{other.user_id}/follow", headers=user.auth
                    )
                continue
            else:
                mine = client.get(f"/api/v1/tweets/{target}").json()
                owner = next(
                    (u for u in users if mine.get("user", {}).get("id") == u.user_id), None
                )
                if owner is not None:
                    client.delete(f"/api/v1/tweets/{target}", headers=owner.auth)
                continue
            client.request(method, f"/api/v1/tweets/{target}/{action}", headers=user.auth)


def old_tweet(stack, author_id: str, tweet_id: int) -> bytes:
    """A TweetPosted of schema version 1 (no extracted hashtags), straight onto the log."""
    raw = orjson.dumps(
        {
            "event_id": str(tweet_id),
            "type": "TweetPosted",
            "schema_version": 1,
            "occurred_at": "2026-01-02T03:04:05.006000+00:00",
            "actor_id": author_id,
            "payload": {
                "tweet_id": str(tweet_id),
                "author_id": author_id,
                "content": "written before v2 #OldTimes",
                "reply_to": None,
            },
        }
    )
    producer = KafkaProducer(bootstrap_servers=stack.settings.bootstrap_servers, acks="all")
    producer.send(topic_registry(stack.settings).tweets.name, raw, key=author_id.encode()).get(10)
    producer.close()
    return raw


# Schemas of the deployment that are not read models: the write model (accounts, keys),
# the archive (the log's copy) and the generations' bookkeeping.
_NOT_READ_MODELS = ("write_model", "archive", "chirp_meta", "information_schema", "public")


def postgres_rows_containing(stack, needles: list[str]) -> list[str]:
    """Every row of every read-model table in PostgreSQL (all schemas but the write model,
    the archive and chirp_meta) whose text holds one of `needles`: 'schema.table: row'."""
    found = []
    with psycopg.connect(stack.settings.postgres) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema NOT LIKE 'pg\\_%%'"
            " AND NOT table_schema = ANY(%s)",
            (list(_NOT_READ_MODELS),),
        ).fetchall()
        for schema, table in tables:
            for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t'):
                if any(needle in row for needle in needles):
                    found.append(f"{schema}.{table}: {row}")
    return found


def redis_values_containing(stack, needles: list[str]) -> list[str]:
    """Every Redis key of the deployment whose name or value holds one of `needles`."""
    raw = [needle.encode() for needle in needles]
    found = []
    redis = sync_redis(stack.settings)
    try:
        for key in redis.scan_iter(count=1000):
            kind = redis.type(key)
            if kind == b"string":
                values = [redis.get(key) or b""]
            elif kind == b"hash":
                values = [v for item in redis.hgetall(key).items() for v in item]
            elif kind == b"set":
                values = list(redis.smembers(key))
            elif kind == b"zset":
                values = [member for member, _ in redis.zrange(key, 0, -1, withscores=True)]
            elif kind == b"list":
                values = redis.lrange(key, 0, -1)
            elif kind == b"stream":
                values = [
                    v for _, fields in redis.xrange(key) for item in fields.items() for v in item
                ]
            else:
                values = []
            if any(needle in value for value in [key, *values] for needle in raw):
                found.append(key.decode(errors="replace"))
    finally:
        redis.close()
    return found
