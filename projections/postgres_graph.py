"""The social graph in PostgreSQL: users (with counts), follows, blocks and mutes."""

from __future__ import annotations

from psycopg.rows import class_row

from projections.graph import EdgeChanges, Profile, Suggestion
from projections.graph_plan import GraphPlan
from projections.postgres_store import PostgresStore, changed, columns_of, move_counts

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.users (
    user_id         bigint PRIMARY KEY,
    username        text NOT NULL,
    display_name    text NOT NULL,
    bio             text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
-- Added with profile edits: a generation made before them gains them here (empty: not set).
ALTER TABLE {schema}.users ADD COLUMN IF NOT EXISTS location text NOT NULL DEFAULT '';
ALTER TABLE {schema}.users ADD COLUMN IF NOT EXISTS website text NOT NULL DEFAULT '';
ALTER TABLE {schema}.users ADD COLUMN IF NOT EXISTS protected boolean NOT NULL DEFAULT false;
-- Lookup by username, case-insensitive as the write model makes usernames unique.
CREATE INDEX IF NOT EXISTS users_by_username ON {schema}.users (lower(username));
-- Counts live apart from users: events of different topics arrive in no fixed order, so a
-- follow may be applied before its follower's registration.
CREATE TABLE IF NOT EXISTS {schema}.user_counts (
    user_id         bigint PRIMARY KEY,
    followers_count integer NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
    following_count integer NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    tweet_count     integer NOT NULL DEFAULT 0 CHECK (tweet_count >= 0),
    -- Set once fan-out skipped one of this user's tweets: readers merge this author's recents.
    pulled          boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS {schema}.follows (
    follower_id bigint NOT NULL,
    followee_id bigint NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX IF NOT EXISTS follows_by_followee ON {schema}.follows (followee_id, follower_id);
-- The event of the edge's last follow: a block ends the follows made before it. Added with
-- blocks: edges of a generation made before them read as made before any block.
ALTER TABLE {schema}.follows ADD COLUMN IF NOT EXISTS since_event bigint NOT NULL DEFAULT 0;
-- Blocks and mutes, each row the pair's last word (`last_event`); a block lifted stays as a
-- row (`active` false) with the event of its last UserBlocked (`blocked_at`), which ended
-- the follows made before it whichever partition brings them.
CREATE TABLE IF NOT EXISTS {schema}.blocks (
    blocker_id bigint NOT NULL,
    blocked_id bigint NOT NULL,
    last_event bigint NOT NULL,
    active     boolean NOT NULL,
    blocked_at bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX IF NOT EXISTS blocks_by_blocked ON {schema}.blocks (blocked_id, blocker_id);
-- Follow requests to protected accounts, each row the pair's last word: made or declined
-- (`active`), or closed by a follow or a block of the pair.
CREATE TABLE IF NOT EXISTS {schema}.follow_requests (
    follower_id bigint NOT NULL,
    followee_id bigint NOT NULL,
    last_event  bigint NOT NULL,
    active      boolean NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX IF NOT EXISTS follow_requests_pending
    ON {schema}.follow_requests (followee_id, follower_id) WHERE active;
-- The event of each edge's last unfollow: a follow made before it is not made again, and a
-- request made before it stays withdrawn, whichever arrives first (an approval, from the
-- account's outbox, may arrive after the follower's later unfollow).
CREATE TABLE IF NOT EXISTS {schema}.unfollows (
    follower_id    bigint NOT NULL,
    followee_id    bigint NOT NULL,
    unfollowed_at  bigint NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE TABLE IF NOT EXISTS {schema}.mutes (
    muter_id   bigint NOT NULL,
    muted_id   bigint NOT NULL,
    last_event bigint NOT NULL,
    active     boolean NOT NULL,
    PRIMARY KEY (muter_id, muted_id)
);
-- Who to follow, for a user whose followees suggest no one: the most-followed users.
CREATE INDEX IF NOT EXISTS user_counts_by_followers
    ON {schema}.user_counts (followers_count DESC, user_id);
-- Which tweets an author's tweet_count includes: gates the count against redelivery.
CREATE TABLE IF NOT EXISTS {schema}.counted_tweets (
    tweet_id  bigint PRIMARY KEY,
    author_id bigint NOT NULL,
    deleted   boolean NOT NULL DEFAULT false
);
"""


# The advisory lock space of the graph's pair buckets (pg_advisory_xact_lock's first key),
# and how many buckets: a batch takes at most that many locks, whatever its size.
_PAIR_LOCKS = 0x6368_6972  # "chir"
_PAIR_BUCKETS = 1024


def _bucket(user_id: int, other_id: int) -> int:
    low, high = min(user_id, other_id), max(user_id, other_id)
    return (low * 1_000_003 + high) % _PAIR_BUCKETS


class PostgresGraphStore(PostgresStore):
    schema_sql = SCHEMA_SQL

    # --- a batch's writes, in the batch's transaction (agents/core.py) ---------------------

    async def stored_users(self, conn, user_ids: set[int]) -> set[int]:
        if not user_ids:
            return set()
        rows = await (
            await conn.execute(
                f"SELECT user_id FROM {self.schema}.users WHERE user_id = ANY(%s)",
                (list(user_ids),),
            )
        ).fetchall()
        return {row[0] for row in rows}

    async def write_users(self, conn, plan: GraphPlan) -> None:
        """Insert the plan's new users and apply its profile changes to stored ones."""
        if plan.new_users:
            users = list(plan.new_users.values())
            await conn.execute(
                f"INSERT INTO {self.schema}.users"
                " (user_id, username, display_name, bio, created_at, location, website, protected)"
                " SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[],"
                " %b::timestamptz[], %b::text[], %b::text[], %b::boolean[])"
                " ON CONFLICT (user_id) DO NOTHING",
                (
                    [u.user_id for u in users],
                    [u.username for u in users],
                    [u.display_name for u in users],
                    [u.bio for u in users],
                    [u.created_at for u in users],
                    [u.location for u in users],
                    [u.website for u in users],
                    [u.protected for u in users],
                ),
            )
        if plan.profile_changes:
            changes = list(plan.profile_changes.items())
            await conn.execute(
                f"UPDATE {self.schema}.users u SET display_name = coalesce(d.name, u.display_name),"
                " bio = coalesce(d.bio, u.bio), location = coalesce(d.location, u.location),"
                " website = coalesce(d.website, u.website),"
                " protected = coalesce(d.protected, u.protected)"
                " FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[],"
                " %b::boolean[]) AS d(id, name, bio, location, website, protected)"
                " WHERE u.user_id = d.id",
                (
                    [user_id for user_id, _ in changes],
                    [c.display_name for _, c in changes],
                    [c.bio for _, c in changes],
                    [c.location for _, c in changes],
                    [c.website for _, c in changes],
                    [c.protected for _, c in changes],
                ),
            )

    async def summaries(self, conn, user_ids: set[int]) -> dict[int, tuple[str, str, bool]]:
        if not user_ids:
            return {}
        rows = await (
            await conn.execute(
                f"SELECT user_id, username, display_name, protected FROM {self.schema}.users"
                " WHERE user_id = ANY(%s)",
                (sorted(user_ids),),
            )
        ).fetchall()
        return {user_id: (username, name, protected) for user_id, username, name, protected in rows}

    async def safety_states(
        self, conn, pairs: set[tuple[int, int]], mutes: set[tuple[int, int]]
    ) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
        """After a batch's writes: of the (lower id, higher id) `pairs`, those a block stands
        between (either way); of the (muter, muted) `mutes`, those that hold."""
        blocked: set[tuple[int, int]] = set()
        muted: set[tuple[int, int]] = set()
        if pairs:
            cursor = await conn.execute(
                f"SELECT DISTINCT least(b.blocker_id, b.blocked_id),"
                f" greatest(b.blocker_id, b.blocked_id) FROM {self.schema}.blocks b"
                " JOIN unnest(%b::bigint[], %b::bigint[]) AS p(low, high)"
                " ON (b.blocker_id = p.low AND b.blocked_id = p.high)"
                " OR (b.blocker_id = p.high AND b.blocked_id = p.low) WHERE b.active",
                columns_of(sorted(pairs), 2),
            )
            blocked = {(low, high) for low, high in await cursor.fetchall()}
        if mutes:
            cursor = await conn.execute(
                f"SELECT m.muter_id, m.muted_id FROM {self.schema}.mutes m"
                " JOIN unnest(%b::bigint[], %b::bigint[]) AS p(muter, muted)"
                " ON m.muter_id = p.muter AND m.muted_id = p.muted WHERE m.active",
                columns_of(sorted(mutes), 2),
            )
            muted = {(muter, muted_id) for muter, muted_id in await cursor.fetchall()}
        return blocked, muted

    async def write_edges(self, conn, plan: GraphPlan) -> EdgeChanges:
        """Apply the plan's blocks, mutes, unfollows and follows (docs/safety.md).

        A block ends the pair's follows, both ways, made before it (`since_event` below its
        `blocked_at`), and no follow made before it is inserted after it, whichever of the
        two partitions is applied first. Workers applying partitions side by side take a
        lock per pair bucket (follows shared, blocks exclusive), so a follow and a block of
        one pair never pass each other unseen in two transactions."""
        if plan.follows or plan.blocks or plan.requests or plan.unfollowed_at:
            await self._lock_pairs(conn, plan)
        moved: list[tuple[int, int, int]] = []
        ended: list[tuple[int, int]] = []
        unfollowed = sorted((*edge, event_id) for edge, event_id in plan.unfollowed_at.items())
        if unfollowed:  # first: they end or withdraw what was made before them
            await conn.execute(
                f"INSERT INTO {self.schema}.unfollows AS u"
                " (follower_id, followee_id, unfollowed_at)"
                " SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[])"
                " ON CONFLICT (follower_id, followee_id) DO UPDATE"
                " SET unfollowed_at = greatest(u.unfollowed_at, excluded.unfollowed_at)",
                columns_of(unfollowed, 3),
            )
            await conn.execute(
                f"UPDATE {self.schema}.follow_requests r SET active = false,"
                " last_event = d.unfollowed_at FROM unnest(%b::bigint[], %b::bigint[],"
                " %b::bigint[]) AS d(follower, followee, unfollowed_at)"
                " WHERE r.follower_id = d.follower AND r.followee_id = d.followee"
                " AND r.last_event < d.unfollowed_at",
                columns_of(unfollowed, 3),
            )
        if plan.requests:  # first: the batch's follows, unfollows and blocks close them
            await self._write_requests(conn, plan)
        if plan.blocks:
            await self._write_pairs(conn, "blocks", ("blocker_id", "blocked_id"), plan.blocks)
            blocks = [(*edge, change.blocked_at) for edge, change in plan.blocks.items()]
            rows = await changed(
                conn,
                f"DELETE FROM {self.schema}.follows f USING unnest(%b::bigint[], %b::bigint[],"
                " %b::bigint[]) AS b(blocker, blocked, blocked_at) WHERE b.blocked_at > 0"
                " AND f.since_event < b.blocked_at AND ((f.follower_id = b.blocker"
                " AND f.followee_id = b.blocked) OR (f.follower_id = b.blocked"
                " AND f.followee_id = b.blocker)) RETURNING f.follower_id, f.followee_id",
                columns_of(sorted(blocks), 3),
                -1,
            )
            moved += rows
            ended += [(follower, followee) for follower, followee, _ in rows]
            await conn.execute(
                f"UPDATE {self.schema}.follow_requests r SET active = false,"
                " last_event = b.blocked_at FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[])"
                " AS b(blocker, blocked, blocked_at) WHERE r.last_event < b.blocked_at"
                " AND ((r.follower_id = b.blocker AND r.followee_id = b.blocked)"
                " OR (r.follower_id = b.blocked AND r.followee_id = b.blocker))",
                columns_of(sorted(blocks), 3),
            )
        if plan.mutes:
            await self._write_pairs(conn, "mutes", ("muter_id", "muted_id"), plan.mutes)
        if plan.unfollows:
            # Only the follows made before the unfollow: a later one (an unfollow arriving
            # late) stays.
            gone = sorted((*edge, plan.unfollowed_at[edge]) for edge in plan.unfollows)
            moved += await changed(
                conn,
                f"DELETE FROM {self.schema}.follows f USING unnest(%b::bigint[], %b::bigint[],"
                " %b::bigint[]) AS d(follower, followee, unfollowed_at)"
                " WHERE f.follower_id = d.follower AND f.followee_id = d.followee"
                " AND f.since_event < d.unfollowed_at RETURNING f.follower_id, f.followee_id",
                columns_of(gone, 3),
                -1,
            )
        refused: set[tuple[int, int]] = set()
        if plan.follows:
            follows = sorted((*edge, event_id) for edge, event_id in plan.follows.items())
            # A follow made before a block of its pair (either way) is not made again; one
            # there already keeps the later of the two follows' events.
            cursor = await conn.execute(
                f"INSERT INTO {self.schema}.follows AS f (follower_id, followee_id, since_event)"
                " SELECT n.follower, n.followee, n.since_event"
                " FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[])"
                " AS n(follower, followee, since_event)"
                f" WHERE NOT EXISTS (SELECT 1 FROM {self.schema}.blocks b"
                " WHERE b.blocked_at > n.since_event AND ((b.blocker_id = n.follower"
                " AND b.blocked_id = n.followee) OR (b.blocker_id = n.followee"
                " AND b.blocked_id = n.follower)))"
                f" AND NOT EXISTS (SELECT 1 FROM {self.schema}.unfollows u"
                " WHERE u.follower_id = n.follower AND u.followee_id = n.followee"
                " AND u.unfollowed_at > n.since_event)"
                " ON CONFLICT (follower_id, followee_id) DO UPDATE"
                " SET since_event = greatest(f.since_event, excluded.since_event)"
                " RETURNING f.follower_id, f.followee_id, xmax = 0",
                columns_of(follows, 3),
            )
            made = set()
            for follower, followee, inserted in await cursor.fetchall():
                made.add((follower, followee))
                if inserted:
                    moved.append((follower, followee, 1))
            refused = set(plan.follows) - made
            # A follow closes its request (an approval is the follow).
            await conn.execute(
                f"UPDATE {self.schema}.follow_requests r SET active = false,"
                " last_event = n.since_event FROM unnest(%b::bigint[], %b::bigint[],"
                " %b::bigint[]) AS n(follower, followee, since_event)"
                " WHERE r.follower_id = n.follower AND r.followee_id = n.followee"
                " AND r.last_event < n.since_event",
                columns_of(follows, 3),
            )
        kept: set[tuple[int, int]] = set()
        # The follows the batch's blocks (both ways) and unfollows name that are still there:
        # made after them (later events, applied first). Nothing takes them away.
        named = sorted(
            {edge for a, b in plan.blocks for edge in ((a, b), (b, a))} | set(plan.unfollowed_at)
        )
        if named:
            cursor = await conn.execute(
                f"SELECT f.follower_id, f.followee_id FROM {self.schema}.follows f"
                " JOIN unnest(%b::bigint[], %b::bigint[]) AS n(follower, followee)"
                " ON f.follower_id = n.follower AND f.followee_id = n.followee",
                columns_of(named, 2),
            )
            kept = {(follower, followee) for follower, followee in await cursor.fetchall()}
        return EdgeChanges(moved, ended, refused, kept)

    async def _write_requests(self, conn, plan: GraphPlan) -> None:
        """Upsert follow requests, the pair's last word winning. A follow of the request's
        edge or a block of its pair (either way) stored with a later event has closed it
        already: it is stored closed, as of that event (so any order of arrival ends the
        same)."""
        rows = sorted(
            (*edge, change.event_id, change.active) for edge, change in plan.requests.items()
        )
        await conn.execute(
            f"INSERT INTO {self.schema}.follow_requests AS r"
            " (follower_id, followee_id, last_event, active)"
            " SELECT n.follower, n.followee, greatest(n.last_event, c.closed_at),"
            " n.active AND c.closed_at <= n.last_event"
            " FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::boolean[])"
            " AS n(follower, followee, last_event, active)"
            " CROSS JOIN LATERAL (SELECT coalesce(max(at), 0) AS closed_at FROM ("
            f" SELECT b.blocked_at AS at FROM {self.schema}.blocks b"
            " WHERE (b.blocker_id = n.follower AND b.blocked_id = n.followee)"
            " OR (b.blocker_id = n.followee AND b.blocked_id = n.follower)"
            f" UNION ALL SELECT f.since_event FROM {self.schema}.follows f"
            " WHERE f.follower_id = n.follower AND f.followee_id = n.followee"
            f" UNION ALL SELECT u.unfollowed_at FROM {self.schema}.unfollows u"
            " WHERE u.follower_id = n.follower AND u.followee_id = n.followee) AS closing) c"
            " ON CONFLICT (follower_id, followee_id) DO UPDATE SET"
            " active = CASE WHEN excluded.last_event > r.last_event THEN excluded.active"
            " ELSE r.active END, last_event = greatest(r.last_event, excluded.last_event)",
            columns_of(rows, 4),
        )

    async def _lock_pairs(self, conn, plan: GraphPlan) -> None:
        """Shared locks on the buckets of the plan's follows and follow requests, exclusive
        ones on those of its blocks; in bucket order, so that no two batches deadlock."""
        exclusive = sorted({_bucket(*edge) for edge in plan.blocks})
        shared = sorted(
            {_bucket(*edge) for edge in [*plan.follows, *plan.requests, *plan.unfollowed_at]}
        )
        shared = [bucket for bucket in shared if bucket not in set(exclusive)]
        await conn.execute(
            "SELECT count(CASE WHEN s.exclusive THEN pg_advisory_xact_lock(%s, s.bucket)"
            " ELSE pg_advisory_xact_lock_shared(%s, s.bucket) END)"
            " FROM (SELECT * FROM unnest(%s::int[], %s::boolean[]) AS l(bucket, exclusive)"
            " ORDER BY l.bucket) AS s",
            (
                _PAIR_LOCKS,
                _PAIR_LOCKS,
                [*exclusive, *shared],
                [True] * len(exclusive) + [False] * len(shared),
            ),
        )

    async def _write_pairs(self, conn, table: str, key: tuple[str, str], changes) -> None:
        """Upsert blocks or mutes: the pair's last word wins; a block's `blocked_at` only
        grows."""
        rows = sorted(
            (*edge, change.event_id, change.active, change.blocked_at)
            for edge, change in changes.items()
        )
        first, second = key
        blocked_at = table == "blocks"
        await conn.execute(
            f"INSERT INTO {self.schema}.{table} AS t ({first}, {second}, last_event, active"
            + (", blocked_at)" if blocked_at else ")")
            + " SELECT p.a, p.b, p.last_event, p.active"
            + (", p.blocked_at" if blocked_at else "")
            + " FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::boolean[],"
            " %b::bigint[]) AS p(a, b, last_event, active, blocked_at)"
            f" ON CONFLICT ({first}, {second}) DO UPDATE SET"
            " active = CASE WHEN excluded.last_event > t.last_event THEN excluded.active"
            " ELSE t.active END, last_event = greatest(t.last_event, excluded.last_event)"
            + (", blocked_at = greatest(t.blocked_at, excluded.blocked_at)" if blocked_at else ""),
            columns_of(rows, 5),
        )

    async def count_tweets(
        self, conn, counted: set[tuple[int, int]], uncounted: set[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Gate tweet counts on the `counted_tweets` rows: count posted (tweet, author) pairs
        not counted yet, then uncount deleted ones still counted; return (author, +1 or -1)
        for each that really moved. A redelivery moves nothing."""
        moved = []
        if counted:
            moved += await changed(
                conn,
                f"INSERT INTO {self.schema}.counted_tweets"
                " SELECT tweet_id, author_id, false FROM unnest(%b::bigint[], %b::bigint[])"
                " AS d(tweet_id, author_id) ON CONFLICT DO NOTHING RETURNING author_id",
                columns_of(sorted(counted), 2),
                1,
            )
        if uncounted:
            moved += await changed(
                conn,
                f"UPDATE {self.schema}.counted_tweets c SET deleted = true"
                " FROM unnest(%b::bigint[], %b::bigint[]) AS d(tweet_id, author_id)"
                " WHERE c.tweet_id = d.tweet_id AND c.author_id = d.author_id AND NOT c.deleted"
                " RETURNING c.author_id",
                columns_of(sorted(uncounted), 2),
                -1,
            )
        return moved

    async def move_counts(self, conn, deltas: dict[int, tuple[int, int, int]]) -> None:
        """Move users' (followers, following, tweets) counts by these deltas; a user with
        nothing counted (and not pulled) has no row."""
        await move_counts(
            conn,
            f"{self.schema}.user_counts",
            "user_id",
            ("followers_count", "following_count", "tweet_count"),
            deltas,
            floor=False,
            kept_if="pulled",
        )

    async def follower_counts(self, conn, user_ids: set[int]) -> dict[int, int]:
        if not user_ids:
            return {}
        rows = await (
            await conn.execute(
                f"SELECT user_id, followers_count FROM {self.schema}.user_counts"
                " WHERE user_id = ANY(%s)",
                (list(user_ids),),
            )
        ).fetchall()
        return dict(rows)

    async def followers_of(self, conn, user_ids: set[int]) -> dict[int, list[int]]:
        """Every follower of each of `user_ids`, in one query."""
        followers: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
        if user_ids:
            cursor = conn.cursor(binary=True)
            await cursor.execute(
                f"SELECT followee_id, follower_id FROM {self.schema}.follows"
                " WHERE followee_id = ANY(%s) ORDER BY followee_id, follower_id",
                (list(user_ids),),
            )
            for followee, follower in await cursor.fetchall():
                followers[followee].append(follower)
        return followers

    async def mark_pulled(self, conn, user_ids: set[int]) -> None:
        """Remember that fan-out skipped tweets of these authors (the celebrity path)."""
        if user_ids:
            await conn.execute(
                f"INSERT INTO {self.schema}.user_counts (user_id, pulled)"
                " SELECT u, true FROM unnest(%b::bigint[]) AS d(u) ORDER BY u"
                " ON CONFLICT (user_id) DO UPDATE SET pulled = true"
                f" WHERE NOT {self.schema}.user_counts.pulled",
                (sorted(user_ids),),
            )

    # --- reads ------------------------------------------------------------------------------

    async def pulled_authors(self) -> list[int]:
        return await self._ids(f"SELECT user_id FROM {self.schema}.user_counts WHERE pulled")

    async def profiles(self, user_ids: list[int]) -> dict[int, Profile]:
        if not user_ids:
            return {}
        found = await self._profiles("u.user_id = ANY(%s)", list(user_ids))
        return {profile.user_id: profile for profile in found}

    async def profile_by_username(self, username: str) -> Profile | None:
        found = await self._profiles("lower(u.username) = lower(%s)", username)
        return found[0] if found else None

    async def _profiles(self, where: str, value) -> list[Profile]:
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(Profile))
            await cursor.execute(
                "SELECT u.user_id, username, display_name, bio, location, website, created_at,"
                " protected,"
                " coalesce(followers_count, 0) AS followers_count,"
                " coalesce(following_count, 0) AS following_count,"
                " coalesce(tweet_count, 0) AS tweet_count"
                f" FROM {self.schema}.users u LEFT JOIN {self.schema}.user_counts c"
                f" ON c.user_id = u.user_id WHERE {where}",
                (value,),
            )
            return await cursor.fetchall()

    async def followers_counts(self, user_ids: list[int]) -> dict[int, int]:
        if not user_ids:
            return {}
        async with self.pool.connection() as conn:
            found = await self.follower_counts(conn, set(user_ids))
        return {user_id: found.get(user_id, 0) for user_id in user_ids}

    async def suggestions(self, user_id: int, limit: int) -> list[Suggestion]:
        """Friends of friends first: users that the reader's followees follow, whom the
        reader does not follow and is not, by how many followees follow each (then by
        follower count, then id). The page is filled with the most-followed users the reader
        does not follow: all of it for a reader who follows nobody. One query."""
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(Suggestion))
            await cursor.execute(
                f"""
                WITH mine AS (
                    SELECT followee_id FROM {self.schema}.follows WHERE follower_id = %(me)s
                ), friends_of_friends AS (
                    SELECT f.followee_id AS user_id, count(*) AS followed_by_followees
                    FROM mine m JOIN {self.schema}.follows f ON f.follower_id = m.followee_id
                    WHERE f.followee_id <> %(me)s
                      AND f.followee_id NOT IN (SELECT followee_id FROM mine)
                    GROUP BY f.followee_id
                ), most_followed AS (
                    SELECT c.user_id, 0::bigint AS followed_by_followees
                    FROM {self.schema}.user_counts c
                    WHERE c.followers_count > 0 AND c.user_id <> %(me)s
                      AND c.user_id NOT IN (SELECT followee_id FROM mine)
                    ORDER BY c.followers_count DESC, c.user_id
                    LIMIT %(limit)s
                ), candidates AS (
                    SELECT * FROM friends_of_friends
                    UNION ALL
                    SELECT * FROM most_followed
                    WHERE user_id NOT IN (SELECT user_id FROM friends_of_friends)
                )
                SELECT s.user_id, s.followed_by_followees::int AS followed_by_followees,
                       coalesce(c.followers_count, 0) AS followers_count
                FROM candidates s
                JOIN {self.schema}.users u ON u.user_id = s.user_id
                LEFT JOIN {self.schema}.user_counts c ON c.user_id = s.user_id
                ORDER BY s.followed_by_followees DESC, followers_count DESC, s.user_id
                LIMIT %(limit)s
                """,
                {"me": user_id, "limit": limit},
            )
            return await cursor.fetchall()

    async def following(self, user_id: int) -> list[int]:
        return await self._ids(
            f"SELECT followee_id FROM {self.schema}.follows WHERE follower_id = %s", (user_id,)
        )

    async def hidden_from(self, user_id: int) -> list[int]:
        """The users a block stands between `user_id` and, either way."""
        return await self._ids(
            f"SELECT blocked_id FROM {self.schema}.blocks WHERE blocker_id = %(u)s"
            f" AND active UNION SELECT blocker_id FROM {self.schema}.blocks"
            " WHERE blocked_id = %(u)s AND active",
            {"u": user_id},
        )

    async def muted_by(self, user_id: int) -> list[int]:
        return await self._ids(
            f"SELECT muted_id FROM {self.schema}.mutes WHERE muter_id = %s AND active", (user_id,)
        )

    async def blocks_between(self, user_id: int, other_id: int) -> tuple[bool, bool]:
        """(whether `other_id` blocks `user_id`, whether `user_id` blocks `other_id`)."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT blocker_id FROM {self.schema}.blocks WHERE active AND"
                    " ((blocker_id = %(o)s AND blocked_id = %(u)s)"
                    " OR (blocker_id = %(u)s AND blocked_id = %(o)s))",
                    {"u": user_id, "o": other_id},
                )
            ).fetchall()
        blockers = {row[0] for row in rows}
        return other_id in blockers, user_id in blockers

    async def _page(self, sql: str, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._ids(sql, (user_id, after or 0, limit))

    async def _ids(self, sql: str, params: tuple | dict = ()) -> list[int]:
        """The first column of every row `sql` returns: a list of ids."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()
        return [row[0] for row in rows]

    async def follow_request_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._page(
            f"SELECT follower_id FROM {self.schema}.follow_requests WHERE followee_id = %s"
            " AND active AND follower_id > %s ORDER BY follower_id LIMIT %s",
            user_id,
            after,
            limit,
        )

    async def blocked_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._page(
            f"SELECT blocked_id FROM {self.schema}.blocks WHERE blocker_id = %s AND active"
            " AND blocked_id > %s ORDER BY blocked_id LIMIT %s",
            user_id,
            after,
            limit,
        )

    async def muted_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._page(
            f"SELECT muted_id FROM {self.schema}.mutes WHERE muter_id = %s AND active"
            " AND muted_id > %s ORDER BY muted_id LIMIT %s",
            user_id,
            after,
            limit,
        )

    async def follower_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._page(
            f"SELECT follower_id FROM {self.schema}.follows WHERE followee_id = %s"
            " AND follower_id > %s ORDER BY follower_id LIMIT %s",
            user_id,
            after,
            limit,
        )

    async def following_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._page(
            f"SELECT followee_id FROM {self.schema}.follows WHERE follower_id = %s"
            " AND followee_id > %s ORDER BY followee_id LIMIT %s",
            user_id,
            after,
            limit,
        )
