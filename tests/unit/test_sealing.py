"""Personal fields sealed under their owner's key (schemas/sealing.py), with no server."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas import events as ev
from schemas import sealing
from schemas.events import decode, encode

AT = datetime(2026, 12, 3, tzinfo=UTC)


def _posted(event_id: int = 7) -> ev.TweetPosted:
    return ev.TweetPosted(
        event_id=event_id,
        occurred_at=AT,
        actor_id=1,
        tweet_id=event_id,
        author_id=1,
        content="my own words #topic @bob",
        hashtags=("topic",),
        mentions=("bob",),
    )


def test_a_sealed_event_holds_no_personal_field_on_the_wire_and_opens_with_its_key():
    key = sealing.new_key()
    profile = ev.ProfileUpdated(
        event_id=8, occurred_at=AT, actor_id=1, user_id=1, bio="secret bio", protected=True
    )
    for event, words in ((_posted(), b"my own words"), (profile, b"secret bio")):
        sealed = sealing.seal(event, key)
        wire = encode(sealed)
        assert words not in wire and sealing.is_sealed(decode(wire))
        assert sealing.unseal(decode(wire), key) == event
    # What read models and the trending job read without the key stays in the clear.
    payload = orjson.loads(encode(sealing.seal(_posted(), key)))["payload"]
    assert (payload["hashtags"], payload["mentions"], payload["content"]) == (
        ["topic"],
        ["bob"],
        "",
    )
    assert orjson.loads(encode(sealing.seal(profile, key)))["payload"]["protected"] is True


def test_another_key_or_another_event_does_not_open_it():
    key = sealing.new_key()
    sealed = sealing.seal(_posted(), key)
    with pytest.raises(sealing.Unsealable):
        sealing.unseal(sealed, sealing.new_key())
    moved = sealing.seal(_posted(9), key).model_copy(update={"sealed": sealed.sealed})
    with pytest.raises(sealing.Unsealable):
        sealing.unseal(moved, key)


def test_events_without_personal_fields_and_unsealed_ones_pass_as_they_are():
    key = sealing.new_key()
    like = ev.TweetLiked(event_id=1, occurred_at=AT, actor_id=1, tweet_id=2, user_id=1)
    assert sealing.seal(like, key) is like and not sealing.sealable(like)
    assert sealing.unseal(_posted(), key) == _posted()
    # Older versions decode with nothing sealed.
    old = orjson.loads(encode(_posted()))
    old["schema_version"] = 5
    del old["payload"]["sealed"]
    assert decode(orjson.dumps(old)) == _posted()
