"""The ranked home timeline (docs/ranking.md): the home timeline's newest candidates, scored by
the published model on their features, diversified, kept as a snapshot the cursor pages
through.

1. **Candidates**: the newest CANDIDATES entries of the last CANDIDATE_HOURS the home
   timeline shows from the caches (its own and the followed celebrities' recents; no older
   ones from the stores), as training takes them.
2. **Features** (projections/ranking.py): the viewer's kept engagements (one round trip),
   the closest friends' recent ones for social proof (one more), the tweets' counts and
   content from the candidates' hydration.
3. **Scores**: the published model's (projections/ranker_models.py), or newest first while
   none is published; ties newest first.
4. **Diversity**: no author twice in a row while another's tweet is left.
5. **Snapshot**: the ranked places are saved for SNAPSHOT_SECONDS; the cursor names the
   snapshot and a place, so paging shows each candidate at most once, in one order, however
   the scores move meanwhile. A page drops what has become gone or hidden since, and is
   diversified again among what it keeps.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass

import numpy as np

from api.consistency import wait_for_own_writes
from api.timelines import Timelines
from projections.ranker_models import PublishedModel
from projections.ranking import (
    CANDIDATES,
    HalfLives,
    Kind,
    affinities,
    candidates_after,
    closest,
    diversified,
    feature_matrix,
    social_proof,
)
from projections.redis_pages import CandidateRow
from projections.redis_ranking import Place

# Places read (and rendered) beyond a page's size, since some may have become gone or hidden
# (rarely: a snapshot is minutes old); rounds of that before a page ends short.
OVERREAD = 2
MAX_ROUNDS = 4
_CURSOR = re.compile(r"^r1\.([A-Za-z0-9_-]{8})\.(\d{1,4})$")


class RankedCursorError(ValueError):
    """Not a cursor of the ranked home timeline."""


class SnapshotExpired(LookupError):
    """The ranked snapshot a cursor pages through is gone: start again from the top."""


@dataclass(frozen=True)
class RankedPosition:
    snapshot: str
    offset: int

    def encode(self) -> str:
        raw = f"r1.{self.snapshot}.{self.offset}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> RankedPosition:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (ValueError, UnicodeDecodeError) as error:
            raise RankedCursorError("malformed cursor") from error
        match = _CURSOR.match(raw)
        if match is None:
            raise RankedCursorError("not a ranked timeline cursor")
        return cls(match[1], int(match[2]))


@dataclass(frozen=True)
class RankedPage:
    tweets: list[dict]
    next_cursor: str | None
    model_version: str | None


class RankedTimeline:
    def __init__(
        self, timelines: Timelines, published: PublishedModel, half_lives: HalfLives
    ) -> None:
        self.timelines, self.published, self.half_lives = timelines, published, half_lives

    async def page(
        self, viewer: int, position: RankedPosition | None, limit: int, wait_seconds: float
    ) -> RankedPage:
        """A page of the viewer's ranked home timeline: from a new snapshot without a
        position, else from the position's snapshot (SnapshotExpired once it is gone)."""
        ranking = self.timelines.models.ranking
        version = None
        if position is None:
            places, version = await self.rank(viewer, wait_seconds)
            position = RankedPosition(secrets.token_urlsafe(6), 0)
            await ranking.save_snapshot(viewer, position.snapshot, places)
            total = len(places)
            places = places[: limit + OVERREAD]
        else:
            found = await ranking.snapshot(
                viewer, position.snapshot, position.offset, limit + OVERREAD
            )
            if found is None:
                raise SnapshotExpired(position.snapshot)
            places, total = found
        tweets, offset = await self._fill(viewer, position, places, total, limit)
        after = RankedPosition(position.snapshot, offset).encode() if offset < total else None
        return RankedPage(tweets, after, version)

    async def rank(self, viewer: int, wait_seconds: float) -> tuple[list[Place], str | None]:
        """Every candidate's place, best first, and the model's version (None: none)."""
        now = int(time.time() * 1000)
        timelines = self.timelines
        models = timelines.models
        model = self.published.current  # one model for the whole ranking, even if swapped
        version = model.version if model is not None else None
        rows = await self._candidates(viewer, now, wait_seconds)
        if not rows:
            return [], version
        engaged = await models.ranking.engagements(viewer, now - self.half_lives.horizon_ms(), now)
        affinity = affinities(engaged, now, self.half_lives)
        following = await timelines.hydrator.id_set(
            models.keys.following(viewer), lambda: models.graph.following(viewer)
        )
        friends = closest(affinity, following)
        proof = social_proof(friends, await models.ranking.recent_engagements(friends, now), now)
        values = _features(rows, viewer, affinity, proof, now)
        if model is not None:
            scores = model.logits(values)
        else:
            scores = -np.arange(len(rows), dtype=np.float64)  # newest first
        # Best first; equal scores newest first.
        best = sorted(range(len(rows)), key=lambda i: (-scores[i], -rows[i].entry.sort_key))
        places = []
        for i in diversified(best, [row.author_id for row in rows]):
            entry = rows[i].entry
            reason = proof.get(entry.tweet_id)
            if reason:
                user, kind = reason[0]
                places.append(Place(entry, user, kind))
            else:
                places.append(Place(entry))
        return places, version

    async def _candidates(
        self, viewer: int, now_ms: int, wait_seconds: float
    ) -> list[CandidateRow]:
        """The candidates at `now_ms`, newest first: read by the page script in one round
        trip when the caches hold them all, else step by step (api/timelines.py)."""
        timelines = self.timelines
        after = candidates_after(now_ms)
        fast = await timelines.fast.candidates(viewer, CANDIDATES, after)
        if fast.waiting:
            await wait_for_own_writes(timelines.models.progress, viewer, wait_seconds)
            fast = await timelines.fast.candidates(viewer, CANDIDATES, after, check_writes=False)
            wait_seconds = 0.0
        if fast.found is not None:
            return fast.found
        entries, tweets = await timelines.home_candidates(viewer, CANDIDATES, after, wait_seconds)
        return [CandidateRow.of(entry, tweets[entry.tweet_id]) for entry in entries]

    async def _fill(
        self,
        viewer: int,
        position: RankedPosition,
        places: list[Place],
        total: int,
        limit: int,
    ) -> tuple[list[dict], int]:
        """The page's tweets from `places` on (reading further if some are gone or hidden),
        and the place the next page starts at."""
        ranking, hydrator = self.timelines.models.ranking, self.timelines.hydrator
        offset = position.offset
        kept: list[tuple[Place, dict]] = []
        for _ in range(MAX_ROUNDS):
            rendered = await hydrator.render([p.entry for p in places], viewer, mutes=True)
            by_tweet = {int(tweet["tweet_id"]): tweet for tweet in rendered}
            for place in places:
                if len(kept) == limit:
                    break
                offset += 1
                tweet = by_tweet.get(place.entry.tweet_id)
                if tweet is not None:
                    kept.append((place, tweet))
            if len(kept) == limit or offset >= total:
                break
            found = await ranking.snapshot(
                viewer, position.snapshot, offset, limit - len(kept) + OVERREAD
            )
            if found is None:
                break
            places, total = found
        order = diversified(list(range(len(kept))), [tweet["user"]["id"] for _, tweet in kept])
        page = [kept[i] for i in order]
        return await self._with_reasons(viewer, page), offset

    async def _with_reasons(self, viewer: int, page: list[tuple[Place, dict]]) -> list[dict]:
        """Each tweet with its `reason`: the friend who liked or retweeted it, while the
        viewer may still see that friend; else null."""
        hydrator = self.timelines.hydrator
        named = {p.reason_user for p, _ in page if p.reason_user is not None}
        # The users read for their visibility are the reasons' users, summaries included.
        seen = await hydrator.visibility(viewer, named, mutes=True) if named else None
        tweets = []
        for place, tweet in page:
            user, kind, reason = place.reason_user, place.reason_kind, None
            if seen is not None and user in seen.users and kind is not None and seen.shows(user):
                reason = {"kind": _REASONS[kind], "user": seen.users[user].summary}
            tweets.append({**tweet, "reason": reason})
        return tweets


_REASONS = {Kind.LIKE: "liked", Kind.RETWEET: "retweeted"}


def _features(
    rows: list[CandidateRow],
    viewer: int,
    affinity: dict[int, tuple[float, float, float]],
    proof: dict[int, list[tuple[int, Kind]]],
    now_ms: int,
) -> np.ndarray:
    """The candidates' feature rows (projections/ranking.feature_matrix)."""
    entries, authors, posted, likes, retweets, replies, replies_to, quotes, media = zip(
        *rows, strict=True
    )
    return feature_matrix(
        viewer,
        affinity,
        now_ms,
        author_ids=authors,
        posted_ms=posted,
        likes=likes,
        retweets=retweets,
        replies=replies,
        proofs=[len(proof.get(entry.tweet_id, ())) for entry in entries],
        replies_to=[parent is not None for parent in replies_to],
        quotes=[quoted is not None for quoted in quotes],
        media=media,
        retweeted=[entry.retweeted_by is not None for entry in entries],
    )
