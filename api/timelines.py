"""Reading timelines: cached entries, merged celebrity recents, store fallback past the cache."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from api.consistency import wait_for_own_writes
from api.hydration import Hydrator
from projections.read_models import ReadModels
from projections.redis_cache import CachedTweet
from projections.redis_pages import FastPage, PageAssembler
from projections.redis_timelines import TimelinePage
from projections.timeline_entries import Entry

# Rounds of "read a page, drop what is gone" before giving up on filling a page from cache.
MAX_ROUNDS = 4
# Extra entries read per round, since deleted tweets and unfollowed authors get dropped.
OVERREAD = 10
# Above every sort key: a source with nothing at all from the top of a page down.
_TOP = 1 << 64


class Page(NamedTuple):
    """A page of tweets (rendered; bytes when Redis rendered them), the sort key the next
    page starts below (None at the end) and the page's newest entry's (None if empty)."""

    tweets: list[dict] | bytes
    next_sort_key: int | None
    first_sort_key: int | None


class Timelines:
    def __init__(self, models: ReadModels) -> None:
        self.models = models
        self.hydrator = Hydrator(models)
        self.fast = PageAssembler(
            models.redis, models.keys, models.timelines.active_seconds, models.settings.agent_group
        )
        self._inflight: dict[str, asyncio.Future] = {}

    # home timeline -------------------------------------------------------------------------
    async def home(
        self,
        viewer: int,
        before: int | None,
        limit: int,
        wait_seconds: float,
        after: int | None = None,
    ) -> Page:
        """A page of the viewer's home timeline older than `before` (and newer than `after`,
        if given: pull to refresh), rendered by Redis in one round trip when the caches hold
        all it needs.

        Read-your-writes is checked in the same round trip as the page: only a reader with
        unapplied writes waits (up to `wait_seconds`) for the agents, then reads again."""
        fast = await self.fast.home(viewer, before, limit, after=after)
        waited = fast.waiting
        if waited:
            await wait_for_own_writes(self.models.progress, viewer, wait_seconds)
            fast = await self.fast.home(viewer, before, limit, check_writes=False, after=after)
        if (served := _served(fast)) is not None:
            return served
        # Having waited once already, the slow path does not wait for the same writes again.
        return await self.slow_home(viewer, before, limit, 0.0 if waited else wait_seconds, after)

    async def slow_home(
        self,
        viewer: int,
        before: int | None,
        limit: int,
        wait_seconds: float,
        after: int | None = None,
    ) -> Page:
        """The home page read step by step, loading whatever the caches miss."""
        sources = await self._home_sources(viewer, before, limit + OVERREAD, wait_seconds)
        return await self._page(sources, viewer, before, limit, after=after, mutes=True)

    async def home_candidates(
        self, viewer: int, limit: int, after: int | None, wait_seconds: float
    ) -> tuple[list[Entry], dict[int, CachedTweet]]:
        """The newest `limit` entries newer than sort key `after` the viewer's home timeline
        shows from the caches (the ranked timeline's candidates: no older ones from the
        stores), with their tweets."""
        sources = await self._home_sources(viewer, None, limit + OVERREAD, wait_seconds)
        picked = await self._pick(sources, None, limit, after, stores=False)
        return picked.entries, picked.tweets

    async def _home_sources(
        self, viewer: int, before: int | None, want: int, wait_seconds: float
    ) -> Sources:
        """What a home page merges, the caches it needs loaded first."""
        models, keys = self.models, self.models.keys
        view = await models.timelines.read_home(viewer, before, want)
        if view.wrote_recently:
            await wait_for_own_writes(models.progress, viewer, wait_seconds)
            view = await models.timelines.read_home(viewer, before, want)
        if view.following is None or not view.pulled_loaded or not view.ready:
            # A cold cache: load what is missing from PostgreSQL, then read again.
            following = await self.hydrator.id_set(
                keys.following(viewer), lambda: models.graph.following(viewer)
            )
            await self.hydrator.id_set(keys.pulled_authors(), models.graph.pulled_authors)
            await self._ensure_all(
                [
                    (
                        keys.home(viewer),
                        lambda: self._home_from_store(viewer, following),
                        models.timelines.home_cap,
                    )
                ]
            )
            view = await models.timelines.read_home(viewer, before, want)
        visible = (view.following or set()) | {viewer}
        celebrities = sorted(view.celebrities)
        recents = [keys.recent(author) for author in celebrities]
        first: list[TimelinePage] | None = [view.page]
        if recents:
            # The recents' states and first pages in one round trip: read again only if one
            # had to be built.
            states, pages = await models.timelines.states_and_pages(recents, before, want)
            first = [view.page, *pages]
            if not all(exists and not building for exists, building in states):
                await self._ensure_all([self._recent_spec(author) for author in celebrities])
                first = None

        async def admit(entries: list[Entry], tweets: dict[int, CachedTweet]) -> Admit:
            followed = [
                e for e in entries if (e.retweeted_by or tweets[e.tweet_id].author_id) in visible
            ]
            seen = await self.hydrator.visibility(viewer, _people(followed, tweets), mutes=True)
            return lambda entry, tweet: (
                (entry.retweeted_by or tweet.author_id) in visible
                and seen.shows_entry(entry, tweet)
            )

        return Sources(
            [keys.home(viewer), *recents],
            admit,
            lambda cursor, n: self._entries_from_store(sorted(visible), n, cursor),
            first,
        )

    async def _home_from_store(self, viewer: int, following: set[int]) -> list[Entry]:
        return await self._entries_from_store(
            sorted(following | {viewer}), self.models.timelines.home_cap
        )

    async def _entries_from_store(
        self, authors: list[int], limit: int, before: int | None = None
    ) -> list[Entry]:
        """The newest tweets and retweets of `authors` older than `before`, as the fan-out
        would have pushed them."""
        tweets = await self.models.tweets.by_authors(authors, before, limit)
        retweets = await self.models.engagements.retweets_by(authors, limit, before)
        entries = [Entry(t.tweet_id, t.tweet_id) for t in tweets]
        entries += [Entry(sort_key, tweet_id, user_id) for sort_key, tweet_id, user_id in retweets]
        return sorted(entries, key=lambda entry: entry.sort_key, reverse=True)[:limit]

    # user timeline -------------------------------------------------------------------------
    async def user(
        self,
        author: int,
        viewer: int | None,
        before: int | None,
        limit: int,
        after: int | None = None,
    ) -> Page:
        """A page of the author's tweets and retweets (newer than `after`, if given); the
        caller has waited for the viewer's own writes."""
        fast = await self.fast.user(author, viewer, before, limit, check_writes=False, after=after)
        if (served := _served(fast)) is not None:
            return served
        return await self.slow_user(author, viewer, before, limit, after)

    async def slow_user(
        self,
        author: int,
        viewer: int | None,
        before: int | None,
        limit: int,
        after: int | None = None,
    ) -> Page:
        await self._ensure_recent(author)

        async def admit(entries: list[Entry], tweets: dict[int, CachedTweet]) -> Admit:
            return (await self.hydrator.visibility(viewer, _people(entries, tweets))).shows_entry

        sources = Sources(
            [self.models.keys.recent(author)],
            admit,
            lambda cursor, n: self._entries_from_store([author], n, cursor),
        )
        return await self._page(sources, viewer, before, limit, after=after)

    async def _ensure_recent(self, author: int) -> None:
        await self._ensure_all([self._recent_spec(author)])

    def _recent_spec(self, author: int):
        async def load() -> list[Entry]:
            return await self._entries_from_store([author], self.models.timelines.recent_cap)

        return self.models.keys.recent(author), load, self.models.timelines.recent_cap

    # shared --------------------------------------------------------------------------------
    async def _ensure_all(self, specs: list[tuple]) -> None:
        """Make sure each (key, load, cap) timeline is in Redis: one round trip if all are."""
        if not specs:
            return
        states = await self.models.timelines.states([key for key, _, _ in specs])
        for (key, load, cap), (exists, building) in zip(specs, states, strict=True):
            if not exists or building:
                await self._ensure(key, load, cap)

    async def _ensure(self, key: str, load, cap: int) -> None:
        """Build a missing timeline at most once, however many requests ask at the same time."""
        if key in self._inflight:  # another request of this process is already on it
            await asyncio.shield(self._inflight[key])
            return
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            if await self.models.timelines.build_once(key, load, cap):
                await self.models.cache.count("timeline_builds")
            future.set_result(None)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # marked retrieved: waiters, if any, get it; else no warning
            raise
        finally:
            del self._inflight[key]

    async def _page(
        self,
        sources: Sources,
        viewer: int | None,
        before: int | None,
        limit: int,
        after: int | None = None,
        mutes: bool = False,
    ) -> Page:
        """A page of `limit` entries from `before` (down to `after`, if given), rendered;
        `mutes`: the viewer's mutes apply (the home timeline)."""
        picked = await self._pick(sources, before, limit, after)
        entries = picked.entries
        rendered = await self.hydrator.render(entries, viewer, picked.tweets, mutes=mutes)
        next_cursor: int | None
        if len(entries) == limit:
            next_cursor = entries[-1].sort_key
        else:
            # A short page: the end, unless the rounds ran out before the sources did (many
            # entries dropped); then the client goes on from the last entry examined.
            next_cursor = None if picked.ended else picked.cursor
        return Page(rendered, next_cursor, entries[0].sort_key if entries else None)

    async def _pick(
        self,
        sources: Sources,
        before: int | None,
        limit: int,
        after: int | None = None,
        stores: bool = True,
    ) -> Picked:
        """Merge the sources newest first from `before` (down to `after`, if given), drop
        what is gone or what `admit` (given a round's entries and tweets) does not let
        through, fill the page (from the stores past a partial cache, unless not `stores`)."""
        timelines = self.models.timelines
        admit, first = sources.admit, sources.first
        picked: list[Entry] = []
        known: dict = {}
        seen: set[int] = set()
        cursor = before
        exhausted = False
        complete = True
        past_partial = False
        bounded = False  # reached `after`: nothing newer is left below
        for _ in range(MAX_ROUNDS):
            want = limit - len(picked) + OVERREAD
            if first is not None:
                pages, first = first, None
            else:
                pages = await timelines.pages(sources.keys, cursor, want)
            complete = all(page.complete for page in pages)
            # A PARTIAL source used up ends where the stores take over for it: entries of
            # the other sources older than that may sit among ones only the stores hold.
            ends = [
                page.entries[-1].sort_key if page.entries else _TOP if cursor is None else cursor
                for page in pages
                if len(page.entries) < want and not page.complete
            ]
            sourced = [page.entries for page in pages]
            exhausted = all(len(entries) < want for entries in sourced)
            # A source cut off at `want` may hold more entries older than its last one but
            # newer than other sources' entries: merge only down to the highest such cut.
            cuts = [entries[-1].sort_key for entries in sourced if len(entries) >= want]
            horizon = max(cuts + ends) if cuts or ends else None
            merged = list(heapq.merge(*sourced, key=lambda e: e.sort_key, reverse=True))
            known.update(await self.hydrator.tweets(list({e.tweet_id for e in merged})))
            admits = await admit([e for e in merged if e.tweet_id in known], known)
            for entry in merged:
                if len(picked) == limit:
                    break
                if after is not None and entry.sort_key <= after:
                    bounded = True
                    break
                if horizon is not None and entry.sort_key < horizon:
                    past_partial = bool(ends) and horizon == max(ends)
                    break
                cursor = entry.sort_key
                tweet = known.get(entry.tweet_id)
                if tweet is None or entry.tweet_id in seen or not admits(entry, tweet):
                    continue
                seen.add(entry.tweet_id)
                picked.append(entry)
            if len(picked) == limit or exhausted or past_partial or bounded:
                break
        beyond = not bounded and (past_partial or (exhausted and not complete))
        if len(picked) < limit and beyond and stores:
            # Past a partial cache: the stores have older tweets and retweets of the same people.
            older = await sources.fallback(cursor, limit - len(picked) + OVERREAD)
            known.update(
                await self.hydrator.tweets(
                    [entry.tweet_id for entry in older if entry.tweet_id not in known]
                )
            )
            admits = await admit([e for e in older if e.tweet_id in known], known)
            for entry in older:
                if len(picked) == limit:
                    break
                if after is not None and entry.sort_key <= after:
                    bounded = True
                    break
                cursor = entry.sort_key
                tweet = known.get(entry.tweet_id)
                if tweet is None or entry.tweet_id in seen or not admits(entry, tweet):
                    continue
                seen.add(entry.tweet_id)
                picked.append(entry)
        return Picked(picked, known, cursor, exhausted or bounded)


# Given a round's entries and their tweets, what lets an entry onto the page.
Admit = Callable[[Entry, CachedTweet], bool]


class Sources(NamedTuple):
    """What a timeline merges: its sorted sets, what lets an entry onto a page (given a
    round's entries and tweets), the stores' older entries past a partial cache (given the
    cursor and how many), and the sets' first pages if already read."""

    keys: list[str]
    admit: Callable[[list[Entry], dict[int, CachedTweet]], Awaitable[Admit]]
    fallback: Callable[[int | None, int], Awaitable[list[Entry]]]
    first: list[TimelinePage] | None = None


class Picked(NamedTuple):
    """The entries a page takes, their tweets (and those read ahead), the last entry
    examined and whether the sources ended (or `after` was reached)."""

    entries: list[Entry]
    tweets: dict[int, CachedTweet]
    cursor: int | None
    ended: bool


def _people(entries: list[Entry], tweets: dict[int, CachedTweet]) -> set[int]:
    """The authors and retweeters of `entries`."""
    return {tweets[e.tweet_id].author_id for e in entries} | {
        e.retweeted_by for e in entries if e.retweeted_by is not None
    }


def _served(fast: FastPage) -> Page | None:
    """The page Redis rendered, if it could."""
    if fast.tweets_json is None:
        return None
    return Page(fast.tweets_json, fast.next_sort_key, fast.first_sort_key)
