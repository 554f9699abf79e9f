"""How a batch of records is applied: whole, and when that fails, one event at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import NamedTuple

import orjson
from psycopg import OperationalError

from agents.batches import apply_records
from schemas import events as ev


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, key=None, value=None) -> None:
        self.sent.append(orjson.loads(value))


def _posts(tweet_ids: list[int]) -> list[Message]:
    now = datetime.now(UTC)
    return [
        Message(
            "tweets",
            0,
            offset,
            b"1",
            ev.encode(
                ev.TweetPosted(
                    event_id=tweet_id,
                    occurred_at=now,
                    actor_id=1,
                    tweet_id=tweet_id,
                    author_id=1,
                    content="hello",
                )
            ),
        )
        for offset, tweet_id in enumerate(tweet_ids)
    ]


def test_a_batch_is_applied_whole_in_log_order():
    applied: list[list[int]] = []

    async def apply(context, events):
        applied.append([event.tweet_id for event in events])

    asyncio.run(apply_records(None, _posts([1, 2, 3]), apply, DeadLetters()))
    assert applied == [[1, 2, 3]]


def test_a_poison_event_is_dead_lettered_alone_and_the_rest_of_its_batch_applies():
    applied: list[int] = []
    dead = DeadLetters()
    records = [*_posts([1, 2, 3, 4]), Message("tweets", 0, 4, b"1", b"not json")]

    async def apply(context, events):
        if any(event.tweet_id == 3 for event in events):
            raise KeyError("no such thing")
        applied.extend(event.tweet_id for event in events)

    asyncio.run(apply_records(None, records, apply, dead))
    assert applied == [1, 2, 4]
    assert [(letter["offset"], letter["error"].split(":")[0]) for letter in dead.sent] == [
        (4, "UndecodableEvent"),
        (2, "KeyError"),
    ]


def test_an_unreachable_store_is_waited_out_not_dead_lettered():
    calls = 0

    async def apply(context, events):
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OperationalError("connection refused")

    dead = DeadLetters()
    asyncio.run(apply_records(None, _posts([1, 2]), apply, dead))
    assert calls == 3 and dead.sent == []
