"""Redis caches in front of PostgreSQL: tweets with their counts, users, per-user id sets.

PostgreSQL holds the truth. A tweet's hash holds its author, its immutable public fields
already rendered as JSON (`json`: id, content, time, reply_to, quote_of), what rendering its
entities and quote needs (`hashtags` as a JSON array, `mentioned`: the mentioned users' ids,
comma-separated, `quote_of`: the quoted tweet's id or ""), the replied-to tweet's id
(`reply_to`, or "": what the ranked timeline's candidate read takes), its counts, its
attachments as the
API shows them (`media`, a JSON array), and `deleted` once deleted. The content is
immutable but for deletion: it is filled only where neither it nor the deletion mark is (an
entry without `mentioned`, cached before entities were, counts as having no content and is
filled again). Agents always overwrite count fields (and `media`)
with absolute values read back from PostgreSQL, while readers fill only missing ones
(HSETNX): whichever comes second, the agent's value wins, so a reader racing an agent cannot
leave a stale count.
A user's hash holds its public JSON and whether the account is protected (`protected`, 1 or
0: a hash without it counts as not cached), by the same rule: agents write it at registration and
after each profile edit (read back from PostgreSQL), readers only fill it where it is
missing, so a reader that read the old profile just before an edit cannot put it back after
the agent. Sets carry a sentinel member (0, never a real id) so that
"loaded and empty" differs from "absent"; agents update sets that are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import orjson
from redis.asyncio import Redis

from infra.redis_scripts import ScriptCall, run_scripts
from projections.engagements import Counts
from projections.redis_batch import RedisBatch
from projections.redis_keys import RedisKeys
from schemas.entities import extract_hashtags
from schemas.types import rfc3339

_SET_SENTINEL = "0"

# Update a cache entry only if it is present: ARGV[1] is the command, the rest its arguments.
_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call(ARGV[1], KEYS[1], unpack(ARGV, 2))
end
return false
"""
# Fill a tweet's content unless it (or its deletion) is cached, and whichever of its counts
# are missing: ARGV[1] the TTL, ARGV[2] how many content values follow, then field, value...
_FILL_TWEET = """
local content_end = 2 + tonumber(ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'mentioned') == 0
    and redis.call('HEXISTS', KEYS[1], 'deleted') == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3, content_end))
end
for j = content_end + 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[j], ARGV[j + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""
# Set hash fields and the key's time to live in one call: ARGV the TTL, then field, value...
_SET_FIELDS = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""
# Set hash fields that are missing, and the key's time to live: ARGV the TTL, then field,
# value...
_FILL_FIELDS = """
for j = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[j], ARGV[j + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""
# A deleted tweet's entry holds the deletion mark alone, replaced in one step.
_MARK_DELETED = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'deleted', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COUNT_FIELDS = (b"likes", b"retweets", b"replies", b"quotes")


@dataclass(frozen=True)
class CachedTweet:
    tweet_id: int
    author_id: int
    content: str
    created_ms: int
    reply_to: int | None
    counts: Counts | None  # None: not (all) cached
    deleted: bool = False
    quote_of: int | None = None
    mentioned_ids: tuple[int, ...] = ()
    # The attachments as the API shows them ([]: none); None: not cached.
    media: list[dict] | None = None

    def public(self) -> dict:
        """The fields of the API's tweet object that never change."""
        return {
            "tweet_id": str(self.tweet_id),
            "content": self.content,
            "created_at": rfc3339(EPOCH + timedelta(milliseconds=self.created_ms)),
            "reply_to": str(self.reply_to) if self.reply_to else None,
            "quote_of": str(self.quote_of) if self.quote_of else None,
        }


class CachedUser(NamedTuple):
    summary: dict  # the API's `user` object
    protected: bool


def loaded_members(raw: set[bytes]) -> set[int] | None:
    """A cached id set's members as SMEMBERS answers them, or None if it is not loaded (a
    loaded set always holds the sentinel member 0, so a missing key reads as empty)."""
    return ({int(member) for member in raw} - {0}) if raw else None


class RedisCache:
    def __init__(self, redis: Redis, keys: RedisKeys, ttl_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self._if_present = redis.register_script(_IF_PRESENT)
        self._fill_tweet = redis.register_script(_FILL_TWEET)
        self._mark_deleted = redis.register_script(_MARK_DELETED)
        self._set_fields = redis.register_script(_SET_FIELDS)
        self._fill_fields = redis.register_script(_FILL_FIELDS)

    # tweets -------------------------------------------------------------------------------
    async def fill_tweets(self, tweets: list[CachedTweet]) -> None:
        """Cache tweets that have no entry yet, and any of their counts not cached yet."""
        await run_scripts(self.redis, [self._fill_call(tweet) for tweet in tweets])

    def _fill_call(self, tweet: CachedTweet) -> ScriptCall:
        content = [
            "author",
            tweet.author_id,
            "created",
            tweet.created_ms,
            "json",
            orjson.dumps(tweet.public()),
            "hashtags",
            orjson.dumps(extract_hashtags(tweet.content)),
            "mentioned",
            ",".join(map(str, tweet.mentioned_ids)),
            "quote_of",
            tweet.quote_of or "",
            "reply_to",
            tweet.reply_to or "",
        ]
        counts = (
            []
            if tweet.counts is None
            else [
                item
                for field in _COUNT_FIELDS
                for item in (field, getattr(tweet.counts, field.decode()))
            ]
        )
        media = [] if tweet.media is None else [b"media", orjson.dumps(tweet.media)]
        return (
            self._fill_tweet,
            [self.keys.tweet(tweet.tweet_id)],
            [self.ttl_seconds, len(content), *content, *counts, *media],
        )

    async def tweets(self, tweet_ids: list[int]) -> dict[int, CachedTweet | None]:
        """Cached tweets by id: None where the cache has no content; deleted ones say so;
        `counts` is None where the counts are not (all) cached."""
        if not tweet_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for tweet_id in tweet_ids:
                pipe.hgetall(self.keys.tweet(tweet_id))
            rows = await pipe.execute()
        return {
            tweet_id: _tweet_from(tweet_id, row)
            for tweet_id, row in zip(tweet_ids, rows, strict=True)
        }

    # users --------------------------------------------------------------------------------
    async def fill_users(self, users: dict[int, tuple[str, str, bool]]) -> None:
        """Cache the users (id -> (username, display name, protected)) not cached yet: a
        reader's fill, which never replaces what an agent wrote."""
        batch = RedisBatch(self.redis)
        for user_id, user in users.items():
            batch.script(
                self._fill_fields, [self.keys.user(user_id)], self._user_fields(user_id, *user)
            )
        await batch.execute()

    def _user_fields(self, user_id: int, username: str, display_name: str, protected: bool) -> list:
        return [
            self.ttl_seconds,
            "json",
            orjson.dumps(user_summary(user_id, username, display_name)),
            "protected",
            int(protected),
        ]

    async def users(self, user_ids: list[int]) -> dict[int, CachedUser | None]:
        """Cached users by id; None where not cached."""
        users, _ = await self.hydration(user_ids, [])
        return users

    async def hydration(
        self, user_ids: list[int], sets: list[tuple[str, list[int]]]
    ) -> tuple[dict[int, CachedUser | None], list[tuple[bool, list[bool]]]]:
        """Users, and for each per-viewer set (liked, retweeted: tweets; hidden, muted,
        following: users) whether it is loaded and which of the ids given with it it holds:
        everything rendering needs after the tweets, one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.hmget(self.keys.user(user_id), ["json", "protected"])
            for key, ids in sets:
                pipe.exists(key)
                if ids:
                    pipe.smismember(key, ids)
            results = await pipe.execute()
        users = {
            user_id: _user_from(row)
            for user_id, row in zip(user_ids, results[: len(user_ids)], strict=True)
        }
        flags, rest = [], iter(results[len(user_ids) :])
        for _, ids in sets:
            loaded = bool(next(rest))
            found = next(rest) if ids else []
            flags.append((loaded, [bool(hit) for hit in found]))
        return users, flags

    # id sets: following, hidden, muted, liked, retweeted, pulled authors ----------------
    async def load_set(self, key: str, members: list[int]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, _SET_SENTINEL, *members)
            pipe.expire(key, self.ttl_seconds)
            await pipe.execute()

    async def set_members(self, key: str) -> set[int] | None:
        """The members of a loaded set, or None if it is not loaded."""
        return (await self.sets_members([key]))[0]

    async def sets_members(self, keys: list[str]) -> list[set[int] | None]:
        """The members of each loaded set (None for one not loaded), one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.smembers(key)
            found = await pipe.execute()
        return [loaded_members(raw) for raw in found]

    # a batch's writes (agents/core.py), queued in order ----------------------------------
    def queue_user(
        self, batch: RedisBatch, user_id: int, username: str, display_name: str, protected: bool
    ) -> None:
        """Write a user's summary and protection (at registration, and after a profile edit),
        replacing what is cached."""
        batch.script(
            self._set_fields,
            [self.keys.user(user_id)],
            self._user_fields(user_id, username, display_name, protected),
        )

    def queue_fill(self, batch: RedisBatch, tweet: CachedTweet) -> None:
        batch.script(*self._fill_call(tweet))

    def queue_counts(
        self, batch: RedisBatch, tweet_id: int, counts: Counts, fields: tuple[str, ...]
    ) -> None:
        """Overwrite the given count fields with their values in PostgreSQL."""
        batch.script(
            self._set_fields,
            [self.keys.tweet(tweet_id)],
            [
                self.ttl_seconds,
                *(item for field in fields for item in (field, getattr(counts, field))),
            ],
        )

    def queue_media(self, batch: RedisBatch, tweet_id: int, media: list[dict]) -> None:
        """Overwrite a tweet's attachments with the media read model's (processed, alt text)."""
        batch.script(
            self._set_fields,
            [self.keys.tweet(tweet_id)],
            [self.ttl_seconds, "media", orjson.dumps(media)],
        )

    def queue_deleted(self, batch: RedisBatch, tweet_id: int) -> None:
        batch.script(self._mark_deleted, [self.keys.tweet(tweet_id)], [self.ttl_seconds])

    def queue_if_loaded(self, batch: RedisBatch, key: str, command: str, member: int) -> None:
        """SADD or SREM `member` if the set `key` is loaded (present)."""
        batch.script(self._if_present, [key], [command, member])

    def queue_count(self, batch: RedisBatch, field: str, by: int) -> None:
        if by:
            batch.command("HINCRBY", self.keys.stats(), field, by)

    async def count(self, field: str, by: int = 1) -> None:
        # redis-py types the async client's replies as sync ones too
        await self.redis.hincrby(self.keys.stats(), field, by)  # type: ignore[misc]


def user_summary(user_id: int, username: str, display_name: str) -> dict:
    """The API's `user` object inside tweets and lists."""
    return {"id": str(user_id), "username": username, "display_name": display_name}


def _user_from(row: list[bytes | None]) -> CachedUser | None:
    summary, protected = row
    if summary is None or protected is None:
        return None
    return CachedUser(orjson.loads(summary), protected == b"1")


def _tweet_from(tweet_id: int, row: dict[bytes, bytes]) -> CachedTweet | None:
    if row.get(b"deleted") == b"1":
        return CachedTweet(tweet_id, 0, "", 0, None, Counts(), deleted=True)
    if b"json" not in row or b"mentioned" not in row:
        return None
    public = orjson.loads(row[b"json"])
    counts = None
    if all(field in row for field in _COUNT_FIELDS):
        counts = Counts(*(int(row[field]) for field in _COUNT_FIELDS))
    return CachedTweet(
        tweet_id,
        int(row[b"author"]),
        public["content"],
        int(row[b"created"]),
        int(public["reply_to"]) if public["reply_to"] else None,
        counts,
        quote_of=int(row[b"quote_of"]) if row.get(b"quote_of") else None,
        mentioned_ids=tuple(int(i) for i in row[b"mentioned"].split(b",") if i),
        media=orjson.loads(row[b"media"]) if b"media" in row else None,
    )
