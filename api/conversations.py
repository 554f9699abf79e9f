"""A tweet's conversation: what it replies to up to the root, and the replies below it."""

from __future__ import annotations

import asyncio

from api.hydration import Hydrator
from projections.read_models import ReadModels
from projections.timeline_entries import Entry, encode_cursor
from projections.tweet_store import ThreadTweet

# How many ancestors a context shows at most: the root's side of a longer chain is cut.
MAX_ANCESTORS = 1000


async def conversation(
    models: ReadModels, hydrator: Hydrator, tweet_id: int, viewer: int | None, after, limit: int
) -> dict | None:
    """The context of a live tweet (None if it is not): its ancestors, root first, itself, and
    a page of its descendants depth first after the descendant `after`; deleted tweets in
    the chain are placeholders, and so are ancestors of users the viewer may not see (their
    descendants are left out). Every tweet shown is rendered in one batch."""
    ancestors, descendants = await asyncio.gather(
        models.tweets.ancestors(tweet_id, MAX_ANCESTORS),
        models.tweets.descendants(tweet_id, after, limit + 1),
    )
    more = len(descendants) > limit
    descendants = descendants[:limit]
    shown = [tweet_id] + [t.tweet_id for t in ancestors + descendants if not t.deleted]
    rendered = {
        int(tweet["tweet_id"]): tweet
        for tweet in await hydrator.render([Entry(i, i) for i in shown], viewer)
    }
    if tweet_id not in rendered:
        return None
    return {
        "ancestors": [_shown(t, rendered) for t in ancestors],
        "tweet": rendered[tweet_id],
        # A live descendant not rendered is one of a user the viewer may not see: left out.
        "descendants": [
            _shown(t, rendered) for t in descendants if t.deleted or t.tweet_id in rendered
        ],
        "next_cursor": encode_cursor(descendants[-1].tweet_id) if more else None,
    }


def _shown(tweet: ThreadTweet, rendered: dict[int, dict]) -> dict:
    """The rendered tweet, or its placeholder (deleted, or gone since the walk)."""
    if tweet.tweet_id in rendered:
        return rendered[tweet.tweet_id]
    return {
        "tweet_id": str(tweet.tweet_id),
        "unavailable": True,
        "reply_to": str(tweet.reply_to) if tweet.reply_to is not None else None,
    }
