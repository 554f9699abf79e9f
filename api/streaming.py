"""Live updates: one reader of the live events per API process, fanned out to its streams.

The hub reads the live-event stream (projections/redis_live.py) in one task and hands each
event to the connections it concerns, found through indexes (author -> connections following
them, reader -> their connections, tweet -> connections that were told of it), so an event
costs its own readers, not every connection. Each connection has a bounded queue: a client
that falls `buffer` events behind is dropped, told so if it still reads, and may resume with
its Last-Event-ID. No thread per stream: each is a coroutine waiting on its queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from infra.metrics import STREAM_DROPS, STREAMS_OPEN
from projections import live_events as live
from projections.live_events import LiveEvent
from projections.redis_live import RedisLiveEvents, entry_key

log = logging.getLogger("chirp.api.streaming")

# Entries read per round trip, and how long one read waits for the first.
READ_COUNT = 500
READ_BLOCK_MS = 1000
# Pause after the stream could not be read (Redis away), before trying again.
RETRY_SECONDS = 1.0
# Entries per XRANGE while a reconnecting client catches up.
RESUME_PAGE = 1000
# Per connection: the tweets it was told of (their counts and deletions follow them even
# when their author is not followed: retweets), and the facts it was sent (a redelivered
# batch tells them again: each is sent once). Bounded: the oldest are forgotten.
ANNOUNCED_KEPT = 1000
SENT_KEPT = 1000
# EventSource's reconnection delay, sent once per stream.
RETRY_MS = 3000


@dataclass
class Interests:
    """Whom a reader follows, and whom they are not shown: the users a block stands between
    them and (either way), and the users they mute (docs/safety.md)."""

    following: set[int]
    hidden: set[int] = field(default_factory=set)
    muted: set[int] = field(default_factory=set)


ReadInterests = Callable[[], Awaitable[Interests]]


class Connection:
    """One open stream: whom it serves, what they follow and are not shown, and the events
    waiting for it."""

    def __init__(self, reader_id: int, buffer: int) -> None:
        self.reader_id = reader_id
        self.queue: asyncio.Queue[tuple[str, LiveEvent] | None] = asyncio.Queue(buffer)
        self.following: set[int] = set()
        self.hidden: set[int] = set()
        self.muted: set[int] = set()
        # Follows, blocks and mutes seen while the interests load, applied after them.
        self.changes: list[LiveEvent] | None = []
        self.announced: deque[int] = deque()
        self.sent: deque[str] = deque()
        self.sent_keys: set[str] = set()
        self.last_sent = (0, 0)
        self.dropped = False

    def follows(self, author_id: int | None) -> bool:
        return author_id == self.reader_id or author_id in self.following

    def shown(self, event: LiveEvent) -> bool:
        """Whether the reader may be told of `event`: neither the user it comes from nor its
        subject (a retweet's author, a notification's actor) is hidden from or muted by
        them, as reading the home timeline and the notifications would leave it out."""
        return not any(
            user is not None and (user in self.hidden or user in self.muted)
            for user in (event.author_id, event.subject_id)
        )


class LiveHub:
    def __init__(self, events: RedisLiveEvents, buffer: int, heartbeat_seconds: float) -> None:
        self.events, self.buffer, self.heartbeat_seconds = events, buffer, heartbeat_seconds
        self.position = "0-0"  # the newest entry routed
        self._by_author: dict[int, set[Connection]] = {}
        self._by_reader: dict[int, set[Connection]] = {}
        self._by_tweet: dict[int, set[Connection]] = {}

    async def start(self) -> None:
        """Route from the stream's newest entry on."""
        self.position = await self.events.newest()

    async def run(self) -> None:
        """Read the stream and route every entry, until cancelled."""
        while True:
            try:
                entries = await self.events.read(self.position, READ_COUNT, READ_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - Redis away: streams wait, then go on
                log.warning("could not read the live events: %s", error)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for entry_id, event in entries:
                self.position = entry_id
                self._route(entry_id, event)

    # connections -------------------------------------------------------------------------
    async def connect(
        self, reader_id: int, interests: ReadInterests, last_event_id: str | None
    ) -> Session:
        """A stream for `reader_id`, registered before their interests are read (so no follow,
        block or mute made meanwhile is missed), resuming after `last_event_id` if given."""
        connection = Connection(reader_id, self.buffer)
        self._by_reader.setdefault(reader_id, set()).add(connection)
        self._index(self._by_author, reader_id, connection)
        STREAMS_OPEN.inc()
        try:
            found = await interests()
            resumable = last_event_id is not None and await self.events.covers(last_event_id)
        except BaseException:
            self.close(connection)
            raise
        changes, connection.changes = connection.changes or [], None
        connection.hidden, connection.muted = set(found.hidden), set(found.muted)
        for author_id in found.following:
            self._follow(connection, author_id)
        for change in changes:
            self._change(connection, change)
        return Session(self, connection, last_event_id if resumable else None, self.position)

    def close(self, connection: Connection) -> None:
        """Forget a connection (once; closing a dropped one again does nothing)."""
        if connection not in self._by_reader.get(connection.reader_id, ()):
            return
        self._unindex(self._by_reader, connection.reader_id, connection)
        self._unindex(self._by_author, connection.reader_id, connection)
        for author_id in connection.following:
            self._unindex(self._by_author, author_id, connection)
        for tweet_id in connection.announced:
            self._unindex(self._by_tweet, tweet_id, connection)
        STREAMS_OPEN.dec()

    # routing -----------------------------------------------------------------------------
    def _route(self, entry_id: str, event: LiveEvent) -> None:
        if event.kind in live.STEERING:
            for connection in list(self._by_reader.get(event.reader_id or 0, ())):
                self._change(connection, event)
            return
        if event.kind == live.NOTIFICATION:
            targets = self._by_reader.get(event.reader_id or 0, set())
        elif event.kind == live.TWEET:
            targets = self._by_author.get(event.author_id or 0, set())
        else:  # counts and deletions: the author's followers and whoever was told of it
            targets = self._by_author.get(event.author_id or 0, set()) | self._by_tweet.get(
                event.tweet_id or 0, set()
            )
        filtered = event.kind in (live.TWEET, live.NOTIFICATION)
        for connection in list(targets):
            if filtered and not connection.shown(event):
                continue
            try:
                connection.queue.put_nowait((entry_id, event))
            except asyncio.QueueFull:
                self._drop(connection)

    def wants(self, connection: Connection, event: LiveEvent) -> bool:
        """Whether `event` concerns the connection's reader: what routing decides, for the
        events a reconnecting client catches up on."""
        if event.kind == live.NOTIFICATION:
            return event.reader_id == connection.reader_id and connection.shown(event)
        if event.kind == live.TWEET:
            return connection.follows(event.author_id) and connection.shown(event)
        if event.kind in (live.DELETE, live.COUNTS):
            return connection.follows(event.author_id) or connection in self._by_tweet.get(
                event.tweet_id or 0, ()
            )
        return False

    def render(self, connection: Connection, entry_id: str, event: LiveEvent) -> bytes | None:
        """The SSE message for an event, or None if the connection had it already (by id,
        or the same fact told again by a redelivered batch)."""
        place = entry_key(entry_id)
        if place <= connection.last_sent:
            return None
        connection.last_sent = place
        key = event.once_key
        if key is not None:
            if key in connection.sent_keys:
                return None
            connection.sent.append(key)
            connection.sent_keys.add(key)
            if len(connection.sent) > SENT_KEPT:
                connection.sent_keys.discard(connection.sent.popleft())
        if event.kind == live.TWEET and event.tweet_id is not None:
            self._announce(connection, event.tweet_id)
        return message(event.kind, event.data, entry_id)

    def _change(self, connection: Connection, event: LiveEvent) -> None:
        user = event.author_id
        if connection.changes is not None:
            connection.changes.append(event)
        elif user is None:
            return
        elif event.kind == live.FOLLOW:
            self._follow(connection, user)
        elif event.kind in (live.HIDE, live.UNHIDE):
            _toggle(connection.hidden, user, event.kind == live.HIDE)
        elif event.kind in (live.MUTE, live.UNMUTE):
            _toggle(connection.muted, user, event.kind == live.MUTE)
        elif user in connection.following:  # an unfollow
            connection.following.discard(user)
            if user != connection.reader_id:
                self._unindex(self._by_author, user, connection)

    def _follow(self, connection: Connection, author_id: int) -> None:
        connection.following.add(author_id)
        self._index(self._by_author, author_id, connection)

    def _announce(self, connection: Connection, tweet_id: int) -> None:
        connection.announced.append(tweet_id)
        self._index(self._by_tweet, tweet_id, connection)
        if len(connection.announced) > ANNOUNCED_KEPT:
            forgotten = connection.announced.popleft()
            if forgotten not in connection.announced:
                self._unindex(self._by_tweet, forgotten, connection)

    def _drop(self, connection: Connection) -> None:
        """A client too far behind: free what waits for it and end its stream."""
        self.close(connection)
        connection.dropped = True
        while not connection.queue.empty():
            connection.queue.get_nowait()
        connection.queue.put_nowait(None)
        STREAM_DROPS.inc()
        log.info("dropped a stream of user %d: %d events behind", connection.reader_id, self.buffer)

    @staticmethod
    def _index(index: dict[int, set[Connection]], key: int, connection: Connection) -> None:
        index.setdefault(key, set()).add(connection)

    @staticmethod
    def _unindex(index: dict[int, set[Connection]], key: int, connection: Connection) -> None:
        found = index.get(key)
        if found is not None:
            found.discard(connection)
            if not found:
                del index[key]


def _toggle(members: set[int], member: int, present: bool) -> None:
    if present:
        members.add(member)
    else:
        members.discard(member)


class Session:
    """What one stream sends: `ready` (or `reset`), what a reconnecting client missed, then
    live events and heartbeats until the client leaves or is dropped."""

    def __init__(
        self, hub: LiveHub, connection: Connection, resume_after: str | None, start: str
    ) -> None:
        self.hub, self.connection = hub, connection
        self.resume_after, self.start = resume_after, start

    def close(self) -> None:
        self.hub.close(self.connection)

    async def messages(self, last_event_id: str | None) -> AsyncIterator[bytes]:
        hub, connection = self.hub, self.connection
        greeting = {"heartbeat_seconds": hub.heartbeat_seconds}
        if self.resume_after is not None:
            yield retry_field() + message("ready", greeting | {"resumed": True})
            connection.last_sent = entry_key(self.resume_after)
            async for chunk in self._missed():
                yield chunk
        else:
            # Nothing to resume from (or a Last-Event-ID out of the window): the client
            # fetches its timeline now, and everything after `start` follows.
            kind = "ready" if last_event_id is None else "reset"
            yield retry_field() + message(kind, greeting | {"resumed": False}, self.start)
            connection.last_sent = entry_key(self.start)
        while True:
            try:
                item = await asyncio.wait_for(connection.queue.get(), hub.heartbeat_seconds)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if item is None:
                yield message("dropped", {"reason": "the client fell too far behind"})
                return
            if rendered := hub.render(connection, *item):
                yield rendered

    async def _missed(self) -> AsyncIterator[bytes]:
        after = self.resume_after
        while after is not None:
            entries = await self.hub.events.since(after, RESUME_PAGE)
            for entry_id, event in entries:
                wanted = self.hub.wants(self.connection, event)
                if wanted and (chunk := self.hub.render(self.connection, entry_id, event)):
                    yield chunk
            after = entries[-1][0] if len(entries) == RESUME_PAGE else None


def message(kind: str, data: dict, entry_id: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"id: {entry_id}\n" if entry_id is not None else ""
    return f"{head}event: {kind}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def retry_field() -> bytes:
    return f"retry: {RETRY_MS}\n\n".encode()
