"""Every Redis key of the read models, built in one place under one prefix.

The prefix is what a rebuild changes: replaying into a fresh prefix leaves the live keys alone.
A few keys belong to no generation of the core read models and stay under the root prefix:
the writes readers wait for (they are about the log), the trends (their own read model, with
generations of its own: `trends`, `trends-g2`, ...), the stats, the write rate limits
(api/rate_limits.py), the live events (projections/redis_live.py) and the agents workers
(projections/redis_agent_workers.py).

Every key is cluster-safe (docs/read-models.md, "Redis Cluster"): keys a script or a
transaction touches together share a hash tag, so that they live in one slot of a Redis or
Valkey Cluster. A user's keys (home, recents, graph and flag sets, profile, last writes) are
tagged `{u<id>}`, a tweet's `{t<id>}`, a group of agents' positions and workers `{<group>}`,
the trends `{<trends>}`. On a standalone server the tags are only part of the names.
"""

from __future__ import annotations

import re

# Under the root prefix, the keys that are not generation 1's own: later generations' prefixes
# (infra/settings.core_prefix) and the keys below that belong to no generation.
_NOT_GENERATION_1 = re.compile(r"^(g\d+:|last-write:|\{trends|stats|rate-limits:|live$|agents:)")


# What RedisKeys.recent, tweet and user are given to make a key template: the page script
# puts ids where it stands (projections/redis_pages.py).
ID_SLOT = "\0"


def user_tag(user_id: int | str) -> str:
    """The hash tag of a user's keys: one slot of a cluster holds them all."""
    return f"{{u{user_id}}}"


class RedisKeys:
    def __init__(
        self, prefix: str = "chirp:", root: str | None = None, trends_generation: int = 1
    ) -> None:
        self.prefix = prefix
        self.root = prefix if root is None else root
        self.trends = "trends" if trends_generation == 1 else f"trends-g{trends_generation}"

    def home(self, user_id: int) -> str:
        return f"{self.prefix}home:{user_tag(user_id)}"

    # recent, tweet and user also take ID_SLOT: the key the page script puts ids into.
    def recent(self, author_id: int | str) -> str:
        """An author's newest tweets and retweets: the user timeline and celebrity recents."""
        return f"{self.prefix}recent:{user_tag(author_id)}"

    def tweet(self, tweet_id: int | str) -> str:
        return f"{self.prefix}tweet:{{t{tweet_id}}}"

    def user(self, user_id: int | str) -> str:
        return f"{self.prefix}user:{user_tag(user_id)}"

    def following(self, user_id: int) -> str:
        return f"{self.prefix}following:{user_tag(user_id)}"

    def hidden(self, user_id: int) -> str:
        """The users a block stands between the user and (either way): hidden from each other
        at read time (docs/safety.md)."""
        return f"{self.prefix}hidden:{user_tag(user_id)}"

    def muted(self, user_id: int) -> str:
        """The users the user mutes: out of the user's home timeline and notifications."""
        return f"{self.prefix}muted:{user_tag(user_id)}"

    def liked(self, user_id: int) -> str:
        return f"{self.prefix}liked:{user_tag(user_id)}"

    def retweeted(self, user_id: int) -> str:
        return f"{self.prefix}retweeted:{user_tag(user_id)}"

    def engaged_authors(self, user_id: int) -> str:
        """The authors whose tweets the user liked, retweeted or replied to, by the time of
        the last such engagement (ms): the search's personal boost."""
        return f"{self.prefix}engaged-authors:{user_tag(user_id)}"

    def engagements(self, user_id: int) -> str:
        """The user's latest likes, retweets and replies of others' tweets, scored by their
        time (ms): the ranked home timeline's affinities (projections/ranking.py)."""
        return f"{self.prefix}engagements:{user_tag(user_id)}"

    def ranked_snapshot(self, user_id: int, snapshot: str) -> str:
        """A ranked home timeline the user pages through (projections/redis_ranking.py)."""
        return f"{self.prefix}ranked:{user_tag(user_id)}:{snapshot}"

    def pulled_authors(self) -> str:
        """Authors with tweets that fan-out did not push: readers merge their recents."""
        return f"{self.prefix}pulled-authors"

    def build_lock(self, key: str) -> str:
        return f"{key}:building"

    def position(self, group: str, topic: str, partition: int) -> str:
        """How far the agents of consumer group `group` have applied a partition."""
        return f"{self.position_prefix(group)}{topic}:{partition}"

    def applied_events(self, group: str) -> str:
        """A hash: "topic:partition" -> the id of the last event group `group` applied there."""
        return f"{self.prefix}applied-events:{{{group}}}"

    def position_prefix(self, group: str) -> str:
        return f"{self.prefix}position:{{{group}}}:"

    def in_generation(self, key: str) -> bool:
        """Whether `key`, one under this prefix, belongs to this generation of the core read
        models (generation 1 shares the root with later ones and with generation-free keys)."""
        return self.prefix != self.root or not _NOT_GENERATION_1.match(key[len(self.root) :])

    def log_position_patterns(self) -> list[str]:
        """Patterns of every key that holds an offset of the log: void once it is replaced."""
        return [
            f"{self.root}position:*",
            f"{self.root}g*:position:*",
            f"{self.root}last-write:*",
            f"{self.root}applied-events:*",
            f"{self.root}g*:applied-events:*",
        ]

    def last_write(self, user_id: int) -> str:
        return f"{self.root}last-write:{user_tag(user_id)}"

    def trend_windows(self) -> str:
        """The trend windows held, scored by their end (epoch milliseconds)."""
        return f"{self.root}{{{self.trends}}}"

    def trend_window(self, window_end_ms: int) -> str:
        return f"{self.root}{{{self.trends}}}:{window_end_ms}"

    def live(self) -> str:
        """The stream of live events connected readers are sent (docs/streaming.md)."""
        return f"{self.root}live"

    def stats(self) -> str:
        return f"{self.root}stats"

    def agent_workers(self, group: str) -> str:
        """The live workers of agents group `group`, scored by their last heartbeat (ms)."""
        return f"{self.root}agents:{{{group}}}:workers"

    def paused_workers(self, group: str, base: str, generation: int) -> str:
        """The workers of `group` paused for the handover of `base` to `generation`."""
        return f"{self.root}agents:{{{group}}}:paused:{base}:{generation}"

    def fanout_state(self) -> str:
        return f"{self.prefix}fanout"
