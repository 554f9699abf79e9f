"""The facts Chirp records: one frozen model per event type, past tense, in one envelope.

On the wire an event is the envelope `{event_id, type, schema_version, occurred_at, actor_id,
payload}` as JSON. Old schema versions still decode: `decode` upcasts them step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.entities import extract_hashtags, extract_mentions
from schemas.types import Id


class Event(BaseModel):
    """Envelope fields shared by every event; subclasses add the payload fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: ClassVar[int] = 1
    # Envelope fields, kept out of `payload` on the wire.
    envelope_fields: ClassVar[frozenset[str]] = frozenset({"event_id", "occurred_at", "actor_id"})

    event_id: Id
    occurred_at: datetime
    actor_id: Id

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__


class UserRegistered(Event):
    # v2 may seal the personal fields (`sealed`: schemas/sealing.py).
    schema_version: ClassVar[int] = 2

    user_id: Id
    username: str
    display_name: str
    bio: str = ""
    sealed: str | None = None


class ProfileUpdated(Event):
    """The fields of a profile that changed; None: unchanged, "" (but display_name): cleared."""

    # v2 added `location` and `website`, v3 `protected`, v4 may seal the personal fields
    # (see the upcasters below).
    schema_version: ClassVar[int] = 4

    user_id: Id
    display_name: str | None = None
    bio: str | None = None
    location: str | None = None
    website: str | None = None
    # A protected account's tweets reach only its followers, whom it approves (docs/safety.md).
    protected: bool | None = None
    sealed: str | None = None


class UserDeleted(Event):
    """The user deleted their account: every read model removes their tweets, likes,
    retweets, follows both ways, profile, media and notifications, and corrects the counts
    of what remains (docs/safety.md, "Deletion and erasure")."""

    user_id: Id


class NotificationsRead(Event):
    """The user has seen their notifications up to `up_to` (a notification's `latest_id`)."""

    user_id: Id
    up_to: Id


class TweetPosted(Event):
    # v2 added the extracted `hashtags` and `mentions`; v3 whom the tweet reaches, resolved
    # when it was posted: the users the mentions name (those that exist), the author of the
    # tweet replied to, and a quoted tweet with its author; v4 the attached media; v5 whether
    # the author's account was protected; v6 may seal the content (see the upcasters below);
    # v7 the author's trends region.
    schema_version: ClassVar[int] = 7

    tweet_id: Id
    author_id: Id
    content: str
    reply_to: Id | None = None
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    # The ids of the mentioned users that exist, in the order of `mentions`; a name no
    # account held when the tweet was posted stays plain text.
    mentioned_ids: tuple[Id, ...] = ()
    reply_to_author_id: Id | None = None
    quote_of: Id | None = None
    quote_of_author_id: Id | None = None
    # The uploads attached, in the order shown (at most 4, each the author's, each attached
    # to no other tweet: commands/rules.py).
    media_ids: tuple[Id, ...] = ()
    # The author's account was protected when the tweet was posted: it stays out of trends
    # (reads check the author's protection as it is at the read).
    protected: bool = False
    # The author's trends region when the tweet was posted (schemas/regions.py), from the
    # profile's location; None: the tweet trends globally only. A country code, not the
    # location: it stays in the clear, as the hashtags do.
    region: str | None = None
    # The personal fields, encrypted under the author's key (schemas/sealing.py); None: they
    # are in the clear (events recorded before, or by accounts made before, keys).
    sealed: str | None = None


class TweetDeleted(Event):
    tweet_id: Id
    author_id: Id


class UserFollowed(Event):
    follower_id: Id
    followee_id: Id


class UserUnfollowed(Event):
    follower_id: Id
    followee_id: Id


class FollowRequested(Event):
    """The follower asks to follow a protected account; the followee approves (a
    UserFollowed, whose actor is the followee) or declines."""

    follower_id: Id
    followee_id: Id


class FollowRequestDeclined(Event):
    """The request is closed without a follow: declined by the followee, or withdrawn by the
    follower (the actor says which)."""

    follower_id: Id
    followee_id: Id


class UserBlocked(Event):
    """The blocker blocks the blocked user: follows both ways end, and neither reaches the
    other any more (docs/safety.md)."""

    blocker_id: Id
    blocked_id: Id


class UserUnblocked(Event):
    """The block is lifted; nothing it ended comes back by itself."""

    blocker_id: Id
    blocked_id: Id


class UserMuted(Event):
    """The muter no longer sees the muted user's tweets and retweets at home, nor their
    notifications; nothing else changes (the muted user is not told)."""

    muter_id: Id
    muted_id: Id


class UserUnmuted(Event):
    muter_id: Id
    muted_id: Id


class TweetLiked(Event):
    # v2 added the liked tweet's author (None in likes recorded before: see the upcasters).
    schema_version: ClassVar[int] = 2

    tweet_id: Id
    user_id: Id
    author_id: Id | None = None


class TweetUnliked(Event):
    schema_version: ClassVar[int] = 2

    tweet_id: Id
    user_id: Id
    author_id: Id | None = None


class TweetRetweeted(Event):
    tweet_id: Id
    user_id: Id
    # The retweeted tweet's author: fan-out and counters need it without a lookup.
    author_id: Id


class TweetUnretweeted(Event):
    tweet_id: Id
    user_id: Id
    author_id: Id


class MediaUploaded(Event):
    """An upload whose bytes were checked (docs/media.md): `media_type` is what its bytes are
    (magic bytes), whatever the client declared; `key` names the original in the object store;
    width and height are None for a video."""

    media_id: Id
    owner_id: Id
    media_type: str
    byte_size: int
    width: int | None = None
    height: int | None = None
    key: str


class Rendition(BaseModel):
    """One file clients are served of an upload: made from its pixels alone (no EXIF or other
    metadata), or a video as uploaded (`video`, whose size is not known: None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # thumb, small, large; animation for an animated GIF; video
    key: str
    media_type: str
    width: int | None
    height: int | None
    byte_size: int


class MediaProcessed(Event):
    """The files clients are served of an upload, all public (commands/media_keys.py)."""

    media_id: Id
    owner_id: Id
    renditions: tuple[Rendition, ...] = ()


class MediaDescribed(Event):
    """The alt text of an upload, as its owner set it ("" removes it)."""

    schema_version: ClassVar[int] = 2  # v2 may seal the alt text

    media_id: Id
    owner_id: Id
    alt_text: str
    sealed: str | None = None


class MediaDeleted(Event):
    """An upload removed with its files: never attached before it expired (`expired`), or
    its tweet deleted and the grace period over (`tweet-deleted`)."""

    media_id: Id
    owner_id: Id
    reason: str  # "expired" or "tweet-deleted"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name(): cls
    for cls in (
        UserRegistered,
        ProfileUpdated,
        UserDeleted,
        NotificationsRead,
        TweetPosted,
        TweetDeleted,
        UserFollowed,
        UserUnfollowed,
        FollowRequested,
        FollowRequestDeclined,
        UserBlocked,
        UserUnblocked,
        UserMuted,
        UserUnmuted,
        TweetLiked,
        TweetUnliked,
        TweetRetweeted,
        TweetUnretweeted,
        MediaUploaded,
        MediaProcessed,
        MediaDescribed,
        MediaDeleted,
    )
}

# The fields naming the users an event is by or about: a user deleted among them makes the
# event one the read models no longer apply (agents/erasure.py). Not among them: the users
# a post replies to, quotes or mentions, whose deletion leaves the post (another user's
# words) in place.
PRINCIPAL_USER_FIELDS = (
    "actor_id",
    "user_id",
    "author_id",
    "follower_id",
    "followee_id",
    "blocker_id",
    "blocked_id",
    "muter_id",
    "muted_id",
    "owner_id",
)
REFERENCED_USER_FIELDS = ("reply_to_author_id", "quote_of_author_id", "mentioned_ids")


def principal_users(event: Event) -> set[int]:
    """The users `event` is by or about (see PRINCIPAL_USER_FIELDS)."""
    found = set()
    for name in PRINCIPAL_USER_FIELDS:
        value = getattr(event, name, None)
        if value is not None:
            found.add(value)
    return found


def referenced_users(event: Event) -> set[int]:
    """The users a post replies to, quotes or mentions."""
    found: set[int] = set()
    for name in REFERENCED_USER_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, tuple):
            found.update(value)
        elif value is not None:
            found.add(value)
    return found


# (type, version) -> function turning a payload of that version into one of version + 1.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int):
    """Register a function that upgrades `type_name` payloads from `from_version` by one."""

    def register(function: Upcaster) -> Upcaster:
        UPCASTERS[(type_name, from_version)] = function
        return function

    return register


@upcaster("TweetPosted", 1)
def _tweet_posted_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 tweets carried no entities: extract them from the content as v2 does at write time."""
    content = payload.get("content", "")
    return {**payload, "hashtags": extract_hashtags(content), "mentions": extract_mentions(content)}


@upcaster("TweetPosted", 2)
@upcaster("TweetPosted", 3)
@upcaster("TweetPosted", 4)
@upcaster("TweetPosted", 5)
@upcaster("TweetPosted", 6)
@upcaster("UserRegistered", 1)
@upcaster("ProfileUpdated", 3)
@upcaster("MediaDescribed", 1)
@upcaster("TweetLiked", 1)
@upcaster("TweetUnliked", 1)
def _whom_unknown(payload: dict[str, Any]) -> dict[str, Any]:
    """Events recorded before they named whom they reach (or what they attach), or before
    personal fields were sealed: the new fields keep their defaults (no mentioned ids, no
    authors, no media, not protected, nothing sealed, no region), so they notify no one
    (docs/notifications.md), carry no media, and hold their personal fields in the clear."""
    return payload


@upcaster("ProfileUpdated", 1)
def _profile_updated_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 edits had no location or website: they left both unchanged."""
    return {**payload, "location": None, "website": None}


@upcaster("ProfileUpdated", 2)
def _profile_updated_v2_to_v3(payload: dict[str, Any]) -> dict[str, Any]:
    """v2 edits left protection as it was."""
    return {**payload, "protected": None}


class UndecodableEvent(ValueError):
    """Bytes that are not a valid Chirp event of a known type and version."""


class Envelope(BaseModel):
    """The wire shape of every event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: Id
    type: str
    schema_version: int = Field(ge=1)
    occurred_at: datetime
    actor_id: Id
    payload: dict[str, Any]


def encode(event: Event) -> bytes:
    """The event as envelope JSON bytes."""
    data = event.model_dump(mode="json")
    envelope = {
        "event_id": data.pop("event_id"),
        "type": event.type_name(),
        "schema_version": event.schema_version,
        "occurred_at": data.pop("occurred_at"),
        "actor_id": data.pop("actor_id"),
        "payload": data,
    }
    return orjson.dumps(envelope)


def decode(raw: bytes | str) -> Event:
    """The event in `raw`, upcast to its current version; UndecodableEvent if it is not one."""
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as error:
        raise UndecodableEvent(f"not an event envelope: {error}") from error
    cls = EVENT_TYPES.get(envelope.type)
    if cls is None:
        raise UndecodableEvent(f"unknown event type {envelope.type!r}")
    payload, version = dict(envelope.payload), envelope.schema_version
    if version > cls.schema_version:
        raise UndecodableEvent(
            f"{envelope.type} v{version} is newer than this code (v{cls.schema_version})"
        )
    while version < cls.schema_version:
        step = UPCASTERS.get((envelope.type, version))
        if step is None:
            raise UndecodableEvent(f"no upcaster for {envelope.type} v{version}")
        payload, version = step(payload), version + 1
    try:
        return cls.model_validate(
            {
                **payload,
                "event_id": envelope.event_id,
                "occurred_at": envelope.occurred_at,
                "actor_id": envelope.actor_id,
            }
        )
    except ValidationError as error:
        raise UndecodableEvent(f"bad {envelope.type} payload: {error}") from error
