"""Poison on the log, made by hypothesis (not JSON, unknown types, versions from the future,
payloads of the wrong shape), lands in `dead-letters` with its error, and the agents go on:
a valid post written after the poison, in the same partition, is applied."""

from __future__ import annotations

import base64
import json
import string
from datetime import UTC, datetime

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas import events as ev
from streams.topics import topic_registry
from tests.support.clients import eventually, post, register

KNOWN_TYPES = {
    "UserRegistered",
    "ProfileUpdated",
    "UserFollowed",
    "UserUnfollowed",
    "TweetPosted",
    "TweetDeleted",
    "TweetLiked",
    "TweetUnliked",
    "TweetRetweeted",
    "TweetUnretweeted",
}
_WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.integers(min_value=2**64),
)


def _envelope(type_name: str, version: int, payload: dict) -> bytes:
    # json, not orjson: a poison value may be an integer wider than 64 bits.
    return json.dumps(
        {
            "event_id": "42",
            "type": type_name,
            "schema_version": version,
            "occurred_at": datetime.now(UTC).isoformat(),
            "actor_id": "7",
            "payload": payload,
        }
    ).encode()


@st.composite
def poison(draw) -> bytes:
    """A record that is, by construction, no event this code can apply."""
    kind = draw(st.sampled_from(["bytes", "unknown type", "future version", "bad payload"]))
    if kind == "bytes":
        return draw(
            st.binary(min_size=1, max_size=200).filter(
                lambda raw: not raw.lstrip().startswith(b"{")
            )
        )
    if kind == "unknown type":
        name = draw(
            st.text(string.ascii_letters, min_size=1, max_size=20).filter(
                lambda name: name not in KNOWN_TYPES
            )
        )
        return _envelope(name, 1, {})
    if kind == "future version":
        return _envelope(
            "TweetPosted",
            draw(st.integers(min_value=100, max_value=2**31)),
            {"tweet_id": "1", "author_id": "7", "content": "from the future"},
        )
    field = draw(st.sampled_from(["tweet_id", "author_id", "content"]))
    payload = {
        "tweet_id": "1",
        "author_id": "7",
        "content": "x",
        "hashtags": [],
        "mentions": [],
        field: draw(_WRONG.filter(lambda value: not isinstance(value, str) or field != "content")),
    }
    return _envelope("TweetPosted", 2, payload)


def _dead_letters(stack) -> list[dict]:
    name = topic_registry(stack.settings).dead_letters.name
    consumer = KafkaConsumer(
        bootstrap_servers=stack.settings.bootstrap_servers, enable_auto_commit=False
    )
    partitions = [
        TopicPartition(name, number) for number in consumer.partitions_for_topic(name) or ()
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records = []
    for _ in range(3):
        for batch in consumer.poll(timeout_ms=500, max_records=100_000).values():
            records += [orjson.loads(record.value) for record in batch]
    consumer.close()
    return records


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
@given(batch=st.lists(poison(), min_size=8, max_size=8, unique=True))
def test_poison_is_dead_lettered_with_its_error_and_the_agents_go_on(stack, client, batch):
    author = register(client, "poison")
    registry = topic_registry(stack.settings)
    # The author's partition: the valid post below comes after the poison there.
    topic, key = registry.route(
        ev.TweetDeleted(
            event_id=1,
            occurred_at=datetime.now(UTC),
            actor_id=author.id,
            tweet_id=1,
            author_id=author.id,
        )
    )
    producer = KafkaProducer(bootstrap_servers=stack.settings.bootstrap_servers, acks="all")
    sent = [producer.send(topic, raw, key=key).get(10) for raw in batch]
    producer.close()

    tweet_id = post(client, author, "after the poison")
    assert eventually(
        lambda: client.get(f"/api/v1/tweets/{tweet_id}").status_code == 200, timeout=30
    ), "the agents did not go on past the poison"

    def all_dead_lettered() -> list[dict] | None:
        letters = [letter for letter in _dead_letters(stack) if letter["source_topic"] == topic]
        found = {(letter["partition"], letter["offset"]): letter for letter in letters}
        mine = [found.get((where.partition, where.offset)) for where in sent]
        return mine if all(mine) else None

    letters = eventually(all_dead_lettered, timeout=30, interval=0.5)
    assert letters, "a poison record is not in dead-letters"
    for letter, raw in zip(letters, batch, strict=True):
        assert letter["error"], letter
        try:
            expected = raw.decode()
        except UnicodeDecodeError:
            expected = "base64:" + base64.b64encode(raw).decode()
        assert letter["value"] == expected
