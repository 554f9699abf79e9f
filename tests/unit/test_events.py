import contextlib
from datetime import UTC, datetime
from typing import get_args, get_origin

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas import events as ev
from schemas.events import EVENT_TYPES, UndecodableEvent, decode, encode

ids = st.integers(min_value=1, max_value=2**63 - 1)
texts = st.text(min_size=1, max_size=50)
moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


def _values(annotation):
    """Values of a field's type: ids, texts, times, flags, optional ones and tuples of them."""
    if annotation is datetime:
        return moments
    if annotation in (ev.Id, int):
        return ids
    if annotation is str:
        return texts
    if annotation is bool:
        return st.booleans()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return event_strategy(annotation)
    if get_origin(annotation) is tuple:
        return st.lists(_values(get_args(annotation)[0]), max_size=3).map(tuple)
    options = [option for option in get_args(annotation) if option is not type(None)]
    if len(options) == 1:  # X | None
        return st.none() | _values(options[0])
    raise TypeError(f"no strategy for {annotation!r}")


def event_strategy(cls: type[BaseModel]):
    return st.builds(
        cls, **{name: _values(info.annotation) for name, info in cls.model_fields.items()}
    )


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@given(data=st.data())
def test_every_event_type_round_trips_through_json(cls, data):
    event = data.draw(event_strategy(cls))
    assert decode(encode(event)) == event


def test_ids_travel_as_decimal_strings_and_keep_all_64_bits():
    big = 2**63 - 1
    event = ev.TweetLiked(
        event_id=big,
        occurred_at=datetime.now(UTC),
        actor_id=big - 1,
        tweet_id=big - 2,
        user_id=big - 3,
    )
    wire = orjson.loads(encode(event))
    assert wire["event_id"] == str(big)
    assert wire["payload"] == {
        "tweet_id": str(big - 2),
        "user_id": str(big - 3),
        "author_id": None,
    }
    assert wire["type"] == "TweetLiked" and wire["schema_version"] == 2
    assert decode(encode(event)).tweet_id == big - 2


def test_a_version_1_tweet_is_upcast_with_its_entities_extracted():
    old = {
        "event_id": "11",
        "type": "TweetPosted",
        "schema_version": 1,
        "occurred_at": "2024-05-01T12:00:00Z",
        "actor_id": "7",
        "payload": {"tweet_id": "12", "author_id": "7", "content": "Hi @Bob #Hello #hello"},
    }
    event = decode(orjson.dumps(old))
    assert isinstance(event, ev.TweetPosted)
    assert event.hashtags == ("hello",)
    assert event.mentions == ("bob",)
    assert orjson.loads(encode(event))["schema_version"] == 7
    assert (event.mentioned_ids, event.reply_to_author_id, event.quote_of) == ((), None, None)
    assert event.media_ids == () and event.protected is False


def test_a_version_1_profile_edit_is_upcast_leaving_location_and_website_unchanged():
    old = {
        "event_id": "21",
        "type": "ProfileUpdated",
        "schema_version": 1,
        "occurred_at": "2024-05-01T12:00:00Z",
        "actor_id": "7",
        "payload": {"user_id": "7", "display_name": "Ada L."},
    }
    event = decode(orjson.dumps(old))
    assert isinstance(event, ev.ProfileUpdated)
    assert (event.display_name, event.bio, event.location, event.website) == (
        "Ada L.",
        None,
        None,
        None,
    )
    assert event.protected is None  # protection unchanged (v3)
    wire = orjson.loads(encode(event))
    assert wire["schema_version"] == 4 and wire["payload"]["website"] is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"type": "TweetPosted"}',
        b'{"event_id":"1","type":"Nope","schema_version":1,"occurred_at":"2024-01-01T00:00:00Z",'
        b'"actor_id":"1","payload":{}}',
        b'{"event_id":"1","type":"TweetLiked","schema_version":9,"occurred_at":"2024-01-01T00:00:00Z",'
        b'"actor_id":"1","payload":{"tweet_id":"1","user_id":"1"}}',
        b'{"event_id":"1","type":"TweetLiked","schema_version":1,"occurred_at":"2024-01-01T00:00:00Z",'
        b'"actor_id":"1","payload":{"tweet_id":"x"}}',
        b"\xff\xfe garbage",
    ],
)
def test_anything_that_is_not_an_event_is_undecodable(raw):
    with pytest.raises(UndecodableEvent):
        decode(raw)


@given(st.binary(max_size=300))
def test_random_bytes_never_decode_into_anything_but_an_error(raw):
    with contextlib.suppress(UndecodableEvent):
        decode(raw)
