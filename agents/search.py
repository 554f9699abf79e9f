"""The search agent: keeps the search index in step with the core projection.

It reads the same topics as they do, in batches, and for each batch waits until they have
applied it (their recorded positions), then writes every touched tweet as the stores have it
now: a live tweet is (re)indexed with its current counts, a deleted one removed; and every
user registered or edited, with the username and display name the graph store has now.
Absolute state, so redelivered or replayed events change nothing, and counts are never a
step behind.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agents.batches import dead_letter, last_event_ids, record_progress, until_available
from agents.consumer import Batching
from agents.context import AgentContext
from agents.erasure import usernames_of
from projections.engagements import Counts
from projections.search import SearchEngineError, SearchIndex, TweetDocument
from projections.targets import ReadModel
from projections.user_search import UserDocument
from schemas import events as ev
from schemas.entities import extract_hashtags
from schemas.events import UndecodableEvent, decode

log = logging.getLogger("chirp.agents.search")

# A batch is written as one commit: up to this many records, or what arrived in the window.
SEARCH_BATCHING = Batching(max_records=2000, fetch_wait_ms=100, interval_ms=250)
# How long to wait for the primary agents (or a new user's profile) before going on anyway.
FOLLOW_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.005


async def apply_search(context: AgentContext, records: list, dead_letters) -> None:
    """Make the index hold every tweet `records` touch as the stores hold it now."""
    touched: set[int] = set()
    deleted: set[int] = set()
    users: set[int] = set()
    erased: set[int] = set()
    for record in records:
        try:
            event = decode(record.value)
        except UndecodableEvent as error:
            await dead_letter(dead_letters, record, error)
            continue
        event_deleted, event_touched = deleted_and_touched(event)
        deleted |= event_deleted
        touched |= event_touched
        users |= profiles_touched(event)
        if isinstance(event, ev.UserDeleted):
            erased.add(event.user_id)
    last = {(record.topic, record.partition): record.offset for record in records}
    event_ids = last_event_ids(records)
    async with context.applying(ReadModel.SEARCH):  # held while a replay takes the index over
        await until_available(
            lambda: _apply(context, touched, deleted, users, erased, last, event_ids),
            ReadModel.SEARCH,
            transient=(SearchEngineError,),
        )


async def _apply(
    context: AgentContext,
    touched: set[int],
    deleted: set[int],
    users: set[int],
    erased: set[int],
    last: dict[tuple[str, int], int],
    event_ids: dict[tuple[str, int], int],
) -> None:
    await _after_primary_agents(context, last)
    # A deleted reply takes one off its parent's reply count: the parent is written again.
    parents = await context.models.tweets.parents(sorted(deleted))
    assert context.search is not None  # only a core replay's context has none
    await write_tweets(context, context.search, touched | set(parents.values()))
    await write_users(context, context.search, users)
    # Deleted accounts leave last, with every tweet of theirs (the stores no longer list
    # them: the index finds them by their author's username).
    await context.search.erase_users(await usernames_of(context, erased))
    await record_progress(context, ReadModel.SEARCH, last, event_ids=event_ids)


def deleted_and_touched(event: ev.Event) -> tuple[set[int], set[int]]:
    """The tweets an event deletes, and those whose indexed form it may change."""
    match event:
        case ev.TweetPosted(reply_to=int() as parent):
            return set(), {event.tweet_id, parent}  # the parent's reply count moved
        case ev.TweetDeleted():
            return {event.tweet_id}, {event.tweet_id}
        case ev.TweetPosted():
            return set(), {event.tweet_id}
        case ev.TweetLiked() | ev.TweetUnliked() | ev.TweetRetweeted() | ev.TweetUnretweeted():
            return set(), {event.tweet_id}
    return set(), set()


def profiles_touched(event: ev.Event) -> set[int]:
    """The users whose indexed form (username, display name) an event may change."""
    if isinstance(event, ev.UserRegistered | ev.ProfileUpdated):
        return {event.user_id}
    return set()


async def write_users(context: AgentContext, index: SearchIndex, user_ids: set[int]) -> None:
    """Make the index hold these users as the graph store has them now (a user not there
    yet, whose registration the core projection has not applied, is left out)."""
    if not user_ids:
        return
    profiles = await context.models.graph.profiles(sorted(user_ids))
    await index.index_users(
        [UserDocument(p.user_id, p.username, p.display_name) for p in profiles.values()]
    )


async def _after_primary_agents(context: AgentContext, last: dict[tuple[str, int], int]) -> None:
    """Wait until the core projection has applied these offsets."""
    places = list(last)
    deadline = time.monotonic() + FOLLOW_TIMEOUT_SECONDS
    while True:
        applied = await context.models.progress.positions(places)
        if all(applied[place] >= offset for place, offset in last.items()):
            return
        if time.monotonic() > deadline:
            # Positions live in Redis: after Redis lost them, only new events restore them.
            log.warning(
                "primary agents not seen past %s after %ss: indexing what the stores have",
                last,
                FOLLOW_TIMEOUT_SECONDS,
            )
            return
        await asyncio.sleep(POLL_SECONDS)


async def write_tweets(context: AgentContext, index: SearchIndex, tweet_ids: set[int]) -> None:
    """Make the index hold these tweets as the stores have them now."""
    if not tweet_ids:
        return
    models = context.models
    live = await models.tweets.get_many(sorted(tweet_ids))
    counts = await models.engagements.counts(list(live))
    names = await _usernames(context, {tweet.author_id for tweet in live.values()})
    documents = [
        TweetDocument(
            tweet.tweet_id,
            tweet.author_id,
            names.get(tweet.author_id, ""),
            tweet.content,
            tuple(extract_hashtags(tweet.content)),
            tweet.created_at,
            counts.get(tweet.tweet_id, Counts()),
        )
        for tweet in live.values()
    ]
    gone = sorted(tweet_ids - set(live))
    if documents:
        await index.index(documents)
    if gone:
        await index.delete(gone)


async def _usernames(context: AgentContext, user_ids: set[int]) -> dict[int, str]:
    """Authors' usernames; a brand-new author's profile may still be on its way (the core
    projection)."""
    deadline = time.monotonic() + FOLLOW_TIMEOUT_SECONDS
    while True:
        profiles = await context.models.graph.profiles(sorted(user_ids))
        if len(profiles) == len(user_ids) or time.monotonic() > deadline:
            return {user_id: profile.username for user_id, profile in profiles.items()}
        await asyncio.sleep(0.05)
