"""Erasing deleted users from the core read models in PostgreSQL: one statement per table,
for every user of a batch at once, in the caller's transaction (agents/core_erasure.py).

What goes: the users' profiles and counts, their tweets (deleted ones too), the likes,
retweets, replies and quotes of those tweets, the users' own likes and retweets, their follows
both ways, their blocks, mutes and follow requests either way, and their media. What stays:
other users' tweets, also those replying to or quoting an erased tweet (their words; the
reply then answers a tweet that is not there, as after a delete).

Counts of what stays move by the rows really removed (RETURNING): a user's followers and
following, a tweet's likes, retweets, replies and quotes. Erasing again removes nothing more
and moves nothing, so a redelivered or replayed UserDeleted changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Erased:
    """What an erasure removed that other users' read models follow."""

    tweet_ids: set[int] = field(default_factory=set)  # the erased tweets
    follows: list[tuple[int, int]] = field(default_factory=list)  # (follower, followee)
    likes: list[tuple[int, int]] = field(default_factory=list)  # (tweet, user)
    # (tweet, user, sort key) of the retweets removed that were shown (active).
    retweets: list[tuple[int, int, int]] = field(default_factory=list)
    # (first, second) of the blocks and mutes removed: the other party's hidden and muted sets.
    blocks: list[tuple[int, int]] = field(default_factory=list)  # (blocker, blocked)
    mutes: list[tuple[int, int]] = field(default_factory=list)  # (muter, muted)
    user_deltas: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    tweet_deltas: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)


async def erase_users(conn, schema: str, user_ids: list[int], tweet_ids: set[int]) -> Erased:
    """Remove `user_ids` and `tweet_ids` (their tweets: those the tweet store held, and those
    other posts of the batch name as theirs) from the core schema; the counts of what stays
    are left to the caller to move by `Erased.user_deltas` and `tweet_deltas`."""
    s, users, tweets = schema, sorted(user_ids), sorted(tweet_ids)
    erased = Erased(tweet_ids=set(tweet_ids))

    async def rows(sql: str, *params) -> list[tuple]:
        return await (await conn.execute(sql, params)).fetchall()

    replied = await rows(
        f"DELETE FROM {s}.replies WHERE reply_id = ANY(%s) OR parent_id = ANY(%s)"
        " RETURNING parent_id",
        tweets,
        tweets,
    )
    quoted = await rows(
        f"DELETE FROM {s}.quotes WHERE quote_id = ANY(%s) OR quoted_id = ANY(%s)"
        " RETURNING quoted_id",
        tweets,
        tweets,
    )
    likes = f"DELETE FROM {s}.likes WHERE user_id = ANY(%s) OR tweet_id = ANY(%s)"
    erased.likes = [
        tuple(row) for row in await rows(f"{likes} RETURNING tweet_id, user_id", users, tweets)
    ]
    erased.retweets = [
        (tweet, user, sort_key)
        for tweet, user, sort_key, active in await rows(
            f"DELETE FROM {s}.retweets WHERE user_id = ANY(%s) OR tweet_id = ANY(%s)"
            " RETURNING tweet_id, user_id, sort_key, active",
            users,
            tweets,
        )
        if active
    ]
    await conn.execute(f"DELETE FROM {s}.tweet_counts WHERE tweet_id = ANY(%s)", (tweets,))
    await conn.execute(f"DELETE FROM {s}.counted_tweets WHERE tweet_id = ANY(%s)", (tweets,))
    follows = f"DELETE FROM {s}.follows WHERE follower_id = ANY(%s) OR followee_id = ANY(%s)"
    erased.follows = [
        tuple(row)
        for row in await rows(f"{follows} RETURNING follower_id, followee_id", users, users)
    ]
    for table, first, second in (
        ("blocks", "blocker_id", "blocked_id"),
        ("mutes", "muter_id", "muted_id"),
        ("follow_requests", "follower_id", "followee_id"),
    ):
        pairs = [
            tuple(row)
            for row in await rows(
                f"DELETE FROM {s}.{table} WHERE {first} = ANY(%s) OR {second} = ANY(%s)"
                f" RETURNING {first}, {second}",
                users,
                users,
            )
        ]
        if table == "blocks":
            erased.blocks = pairs
        elif table == "mutes":
            erased.mutes = pairs
    await conn.execute(
        f"DELETE FROM {s}.media WHERE owner_id = ANY(%s) OR tweet_id = ANY(%s)", (users, tweets)
    )
    await conn.execute(f"DELETE FROM {s}.users WHERE user_id = ANY(%s)", (users,))
    await conn.execute(f"DELETE FROM {s}.user_counts WHERE user_id = ANY(%s)", (users,))

    gone_users, gone_tweets = set(users), erased.tweet_ids
    user_deltas: dict[int, list[int]] = {}
    for follower, followee in erased.follows:
        if followee not in gone_users:
            user_deltas.setdefault(followee, [0, 0, 0])[0] -= 1
        if follower not in gone_users:
            user_deltas.setdefault(follower, [0, 0, 0])[1] -= 1
    tweet_deltas: dict[int, list[int]] = {}
    for index, found in (
        (0, [(tweet,) for tweet, _ in erased.likes]),
        (1, [(tweet,) for tweet, _, _ in erased.retweets]),
        (2, replied),
        (3, quoted),
    ):
        for (tweet,) in found:
            if tweet not in gone_tweets:
                tweet_deltas.setdefault(tweet, [0, 0, 0, 0])[index] -= 1
    erased.user_deltas = {user: (a, b, c) for user, (a, b, c) in user_deltas.items()}
    erased.tweet_deltas = {tweet: (a, b, c, d) for tweet, (a, b, c, d) in tweet_deltas.items()}
    return erased
