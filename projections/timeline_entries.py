"""Timeline entries as Redis sorted-set members that keep 64-bit order exactly.

A sorted-set score is a double and holds 53 bits exactly, so a 64-bit id used as a score
loses its low bits. Every member here has score 0 instead and sorts by its bytes
(ZRANGEBYLEX): a fixed-width big-endian id sorts bytewise exactly as it does numerically.

- a tweet is its 8-byte id (10 bytes in a listpack, 12 with its score);
- a retweet is 24 bytes: the retweet's own id (its place in time), the tweet, the retweeter;
- a marker sorts before every entry, so an empty timeline still exists and pushes know whom
  to skip: COMPLETE (the empty string) when the timeline holds every entry there is, PARTIAL
  (one zero byte) when older entries may be in the stores only (trimmed at the cap, built or
  backfilled from a query that hit its limit). Only past a PARTIAL timeline's end does a
  reader go on in the stores.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

COMPLETE = b""
PARTIAL = b"\x00"
# ZREVRANGEBYLEX's min for "every entry": strictly above both markers.
FLOOR = b"(" + PARTIAL
_ID = 8


@dataclass(frozen=True)
class Entry:
    sort_key: int  # the tweet id, or for a retweet the retweet's own id
    tweet_id: int
    retweeted_by: int | None = None


def encode(entry: Entry) -> bytes:
    if entry.retweeted_by is None:
        return entry.tweet_id.to_bytes(_ID, "big")
    return (
        entry.sort_key.to_bytes(_ID, "big")
        + entry.tweet_id.to_bytes(_ID, "big")
        + entry.retweeted_by.to_bytes(_ID, "big")
    )


def decode(member: bytes) -> Entry:
    if len(member) == _ID:
        tweet_id = int.from_bytes(member, "big")
        return Entry(tweet_id, tweet_id)
    if len(member) == 3 * _ID:
        return Entry(
            int.from_bytes(member[:_ID], "big"),
            int.from_bytes(member[_ID : 2 * _ID], "big"),
            int.from_bytes(member[2 * _ID :], "big"),
        )
    raise ValueError(f"not a timeline entry: {member!r}")


def upper_bound(before: int | None) -> bytes:
    """The ZREVRANGEBYLEX max for entries strictly older than sort key `before`."""
    return b"+" if before is None else b"(" + before.to_bytes(_ID, "big")


def lower_bound(after: int | None) -> bytes:
    """The ZREVRANGEBYLEX min for entries strictly newer than sort key `after` (every member
    of sort key `after` sorts at or below its key followed by 0xff bytes); without `after`,
    every entry but the sentinel."""
    return b"(\0" if after is None else b"(" + after.to_bytes(_ID, "big") + b"\xff" * (2 * _ID)


# Cursors are opaque to clients: the sort key of the last entry returned, base64url.
def encode_cursor(sort_key: int) -> str:
    return base64.urlsafe_b64encode(sort_key.to_bytes(_ID, "big")).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The sort key in a cursor; ValueError if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("malformed cursor") from error
    if len(raw) != _ID:
        raise ValueError("malformed cursor")
    return int.from_bytes(raw, "big")
