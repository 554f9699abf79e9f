"""Export tables derived from the event models: every type's columns typed from its fields, a
new type or field with no schema written by hand, and memory bounded while writing."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from operations.event_tables import ENVELOPE_COLUMNS, ParquetTables, table_schema
from schemas import events as ev
from schemas.types import Id

AT = datetime(2026, 10, 5, 12, 0, 0, 123456, tzinfo=UTC)
ENVELOPE = [column.name for column in ENVELOPE_COLUMNS]


def test_every_event_type_has_a_table_of_the_envelope_and_its_own_fields():
    for name, event_type in ev.EVENT_TYPES.items():
        schema = table_schema(event_type)
        payload = [
            field for field in event_type.model_fields if field not in ev.Event.envelope_fields
        ]
        assert schema.names == ENVELOPE + payload, name


def test_tweet_posted_columns_are_typed_from_its_model():
    schema = table_schema(ev.TweetPosted)
    assert [(f.name, f.type, f.nullable) for f in schema][len(ENVELOPE) :] == [
        ("tweet_id", pa.int64(), False),
        ("author_id", pa.int64(), False),
        ("content", pa.string(), False),
        ("reply_to", pa.int64(), True),
        ("hashtags", pa.list_(pa.string()), False),
        ("mentions", pa.list_(pa.string()), False),
        ("mentioned_ids", pa.list_(pa.int64()), False),
        ("reply_to_author_id", pa.int64(), True),
        ("quote_of", pa.int64(), True),
        ("quote_of_author_id", pa.int64(), True),
        ("media_ids", pa.list_(pa.int64()), False),
        ("protected", pa.bool_(), False),
        ("region", pa.string(), True),
        ("sealed", pa.string(), True),
    ]
    assert schema.field("occurred_at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("event_id").type == pa.int64()


def test_a_new_event_type_gets_its_columns_from_its_fields():
    class TweetPinned(ev.Event):
        tweet_id: Id
        pinned_until: datetime | None = None
        labels: tuple[str, ...] = ()
        weight: float = 1.0

    schema = table_schema(TweetPinned)
    assert [(f.name, f.type, f.nullable) for f in schema][len(ENVELOPE) :] == [
        ("tweet_id", pa.int64(), False),
        ("pinned_until", pa.timestamp("ms", tz="UTC"), True),
        ("labels", pa.list_(pa.string()), False),
        ("weight", pa.float64(), False),
    ]


def test_a_field_with_no_arrow_type_or_an_envelope_name_is_refused():
    class TweetTagged(ev.Event):
        tags: dict[str, int]

    class TweetMoved(ev.Event):
        topic: str

    with pytest.raises(TypeError, match="no Arrow type"):
        table_schema(TweetTagged)
    with pytest.raises(TypeError, match="shadow an envelope column"):
        table_schema(TweetMoved)


def _posted(n: int) -> ev.TweetPosted:
    return ev.TweetPosted(
        event_id=n,
        occurred_at=AT,
        actor_id=3,
        tweet_id=n,
        author_id=3,
        content=f"#{n}",
        hashtags=(str(n),),
        reply_to=n - 1 if n > 1 else None,
    )


def test_tables_hold_at_most_a_row_group_of_events_and_write_every_type(tmp_path):
    tables = ParquetTables(tmp_path / "events", row_group=4)
    for n in range(1, 11):
        tables.write("tweets", 0, n, _posted(n))
        tables.write(
            "follows",
            1,
            n,
            ev.UserFollowed(
                event_id=100 + n, occurred_at=AT, actor_id=3, follower_id=3, followee_id=n
            ),
        )
        assert tables.buffered < 4
    tables.close()

    assert sorted(path.stem for path in (tmp_path / "events").iterdir()) == sorted(ev.EVENT_TYPES)
    posted = pq.ParquetFile(tmp_path / "events" / "TweetPosted.parquet")
    assert posted.metadata.num_row_groups > 1
    rows = posted.read().to_pylist()
    assert [row["offset"] for row in rows] == list(range(1, 11))
    assert rows[1] | {"occurred_at": None} == {
        "event_id": 2,
        "type": "TweetPosted",
        "schema_version": 7,
        "occurred_at": None,
        "actor_id": 3,
        "topic": "tweets",
        "partition": 0,
        "offset": 2,
        "tweet_id": 2,
        "author_id": 3,
        "content": "#2",
        "reply_to": 1,
        "hashtags": ["2"],
        "mentions": [],
        "mentioned_ids": [],
        "reply_to_author_id": None,
        "quote_of": None,
        "quote_of_author_id": None,
        "media_ids": [],
        "protected": False,
        "region": None,
        "sealed": None,
    }
    assert rows[0]["occurred_at"] == AT.replace(microsecond=123000)  # milliseconds, UTC
    assert pq.read_table(tmp_path / "events" / "UserFollowed.parquet").num_rows == 10
    assert pq.read_table(tmp_path / "events" / "TweetDeleted.parquet").num_rows == 0


def test_an_aborted_export_leaves_no_files(tmp_path):
    tables = ParquetTables(tmp_path / "events", row_group=4)
    tables.write("tweets", 0, 1, _posted(1))
    tables.abort()
    assert not (tmp_path / "events").exists()
