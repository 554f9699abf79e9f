"""How an agent applies one partition: each key's events in log order, keys side by side."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone
from typing import NamedTuple

from agents.batches import KEYS_IN_FLIGHT, apply_partition
from schemas import events as ev


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def _posts(authors: list[int]) -> list[Message]:
    now = datetime.now(timezone.utc)
    return [Message("tweets", 0, offset, str(author).encode(), ev.encode(ev.TweetPosted(
        event_id=offset + 1, occurred_at=now, actor_id=author, tweet_id=offset + 1,
        author_id=author, content="hello")))
        for offset, author in enumerate(authors)]


def test_each_key_is_applied_in_log_order_and_keys_side_by_side():
    rng = random.Random(5)
    messages = _posts([rng.randrange(1, 41) for _ in range(400)])
    applied: dict[int, list[int]] = {}
    running, most = 0, 0

    async def handle(context, event: ev.TweetPosted) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(rng.random() / 1000)  # a round trip of varying length
        applied.setdefault(event.author_id, []).append(event.tweet_id)
        running -= 1

    asyncio.run(apply_partition(None, handle, messages, dead_letters=None))

    expected: dict[int, list[int]] = {}
    for message in messages:
        expected.setdefault(int(message.key), []).append(message.offset + 1)
    assert applied == expected
    assert most == KEYS_IN_FLIGHT
