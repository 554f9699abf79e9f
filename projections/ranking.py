"""The ranked home timeline's features, model and diversity rule: pure functions, shared by
training (operations/train_ranker.py) and serving, so that both compute a feature the same way.

A candidate is a tweet the home timeline would show; its features, as of a moment `now`:

- **recency**: the hours since it was posted (log scale);
- **affinity**: how much the viewer engaged with its author lately: the viewer's likes,
  retweets and replies of the author's tweets, each worth 1 when made and half as much every
  half-life since (a half-life per kind, settings), summed per kind (log scale);
- **popularity**: its likes, retweets and replies (log scale);
- **social proof**: how many people the viewer follows liked or retweeted it (log scale);
- **content**: a reply, a quote, with media, brought by a retweet, the viewer's own.

The affinities are computed from the viewer's latest engagements (at most a bound per viewer,
docs/ranking.md), not kept as running sums: a set of engagements is the same whatever order
and however many times its events were applied, so a replay ends with exactly the live
features, and training computes them from the log with this very code.

The model is a logistic regression over standardised features: a score is one dot product.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
import orjson

from infra.settings import Settings
from streams.ids import lowest_id_at

MS_PER_HOUR = 3_600_000
# A viewer's candidates: the home timeline's newest entries, as many as seed 000 scores, of
# the last CANDIDATE_HOURS (older ones are left to the chronological timeline). Training and
# serving take the same ones, so the model scores only what it has seen (docs/ranking.md).
CANDIDATES = 800
CANDIDATE_HOURS = 48
# The engagements kept per viewer, the latest: the bound on a viewer's affinities' memory
# (and so on the authors a viewer has an affinity for).
ENGAGEMENTS_PER_VIEWER = 500
# Engagements older than this many of the longest half-life count 1/256 or less: they are
# left out of the affinities, and the read model drops them.
HORIZON_HALF_LIVES = 8


class Kind(StrEnum):
    """What a viewer did to a tweet, as the affinities count it."""

    LIKE = "like"
    RETWEET = "retweet"
    REPLY = "reply"

    @property
    def letter(self) -> str:
        return self.value[0] if self is not Kind.REPLY else "p"

    @classmethod
    def of_letter(cls, letter: str) -> Kind:
        return _KIND_OF[letter]


KINDS = tuple(Kind)


@dataclass(frozen=True)
class HalfLives:
    """Hours after which an engagement of each kind counts half."""

    like: float = 72.0
    retweet: float = 168.0
    reply: float = 168.0

    def of(self, kind: Kind) -> float:
        return getattr(self, kind.value)

    def horizon_ms(self) -> int:
        """How old an engagement may be and still count."""
        return int(HORIZON_HALF_LIVES * max(self.like, self.retweet, self.reply) * MS_PER_HOUR)

    @classmethod
    def of_settings(cls, settings: Settings) -> HalfLives:
        return cls(
            like=settings.ranking_half_life_like_hours,
            retweet=settings.ranking_half_life_retweet_hours,
            reply=settings.ranking_half_life_reply_hours,
        )


@dataclass(frozen=True)
class Engagement:
    """The viewer's `kind` of `tweet_id` by `author_id`, at `at_ms` (epoch milliseconds)."""

    kind: Kind
    tweet_id: int
    author_id: int
    at_ms: int

    def member(self) -> bytes:
        """The engagement as a member of the viewer's sorted set (scored by `at_ms`)."""
        return engagement_member(self.kind, self.tweet_id, self.author_id)

    @classmethod
    def of_member(cls, member: bytes | str, at_ms: float) -> Engagement:
        text = member.decode() if isinstance(member, bytes) else member
        letter, tweet_id, author_id = text.split(":")
        return cls(Kind.of_letter(letter), int(tweet_id), int(author_id), int(at_ms))


_KIND_OF = {kind.letter: kind for kind in Kind}


def engagement_member(kind: Kind, tweet_id: int, author_id: int) -> bytes:
    return f"{kind.letter}:{tweet_id}:{author_id}".encode()


def affinities(
    engagements: Iterable[Engagement], now_ms: int, half_lives: HalfLives
) -> dict[int, tuple[float, float, float]]:
    """Per author, the decayed (likes, retweets, replies) of the engagements made before
    `now_ms`, within the horizon."""
    sums: dict[int, list[float]] = {}
    oldest = now_ms - half_lives.horizon_ms()
    for engagement in engagements:
        if not oldest <= engagement.at_ms < now_ms:
            continue
        hours = (now_ms - engagement.at_ms) / MS_PER_HOUR
        weight = 0.5 ** (hours / half_lives.of(engagement.kind))
        sums.setdefault(engagement.author_id, [0.0, 0.0, 0.0])[KINDS.index(engagement.kind)] += (
            weight
        )
    return {author: (s[0], s[1], s[2]) for author, s in sums.items()}


# Social proof: which of the people the viewer follows liked or retweeted a candidate. Read
# from the engagements of the viewer's closest followees (the most affinity), each one's
# newest within the last hours: all within a page's read budget, and what readers notice.
PROOF_FRIENDS = 50
PROOF_PER_FRIEND = 100
PROOF_HOURS = 48


def candidates_since(now_ms: int) -> int:
    """The first moment (ms) a candidate at `now_ms` may be from."""
    return now_ms - CANDIDATE_HOURS * MS_PER_HOUR


def candidates_after(now_ms: int) -> int:
    """The timeline sort key the candidates at `now_ms` are newer than: the last id before
    the window's first moment."""
    return lowest_id_at(datetime.fromtimestamp(candidates_since(now_ms) / 1000, UTC)) - 1


def closest(
    affinity: dict[int, tuple[float, float, float]], following: set[int] | frozenset[int]
) -> list[int]:
    """The followees the viewer has the most affinity for (all kinds summed; ties by id),
    at most PROOF_FRIENDS, closest first."""
    followed = [author for author in affinity if author in following]
    followed.sort(key=lambda author: (-sum(affinity[author]), author))
    return followed[:PROOF_FRIENDS]


def proof_window(now_ms: int) -> tuple[int, int]:
    """The times [from, to) of the engagements that are social proof at `now_ms`."""
    return now_ms - PROOF_HOURS * MS_PER_HOUR, now_ms


def social_proof(
    friends: list[int], engagements: dict[int, list[Engagement]], now_ms: int
) -> dict[int, list[tuple[int, Kind]]]:
    """Per tweet, the friends (closest first) who liked or retweeted it: of each friend's
    engagements, the newest PROOF_PER_FRIEND in the proof window (any kind) count."""
    start, end = proof_window(now_ms)
    proof: dict[int, list[tuple[int, Kind]]] = {}
    for friend in friends:
        recent = [e for e in engagements.get(friend, ()) if start <= e.at_ms < end]
        recent.sort(key=lambda e: (e.at_ms, e.kind, e.tweet_id), reverse=True)
        noted: set[int] = set()
        for engagement in recent[:PROOF_PER_FRIEND]:
            if engagement.kind is Kind.REPLY or engagement.tweet_id in noted:
                continue
            noted.add(engagement.tweet_id)
            proof.setdefault(engagement.tweet_id, []).append((friend, engagement.kind))
    return proof


@dataclass(frozen=True)
class Candidate:
    """A tweet the home timeline would show, with what its features need."""

    tweet_id: int
    author_id: int
    posted_ms: int
    likes: int = 0
    retweets: int = 0
    replies: int = 0
    is_reply: bool = False
    is_quote: bool = False
    has_media: bool = False
    retweeted_by: int | None = None
    # People the viewer follows who liked or retweeted it (social_proof).
    proof: tuple[int, ...] = ()


FEATURES = (
    "recency",
    "affinity_like",
    "affinity_retweet",
    "affinity_reply",
    "likes",
    "retweets",
    "replies",
    "social_proof",
    "is_reply",
    "is_quote",
    "has_media",
    "via_retweet",
    "own",
)

_NONE = (0.0, 0.0, 0.0)


def features(
    candidate: Candidate,
    viewer: int,
    affinity: dict[int, tuple[float, float, float]],
    now_ms: int,
) -> list[float]:
    """The candidate's feature values, in FEATURES' order."""
    like, retweet, reply = affinity.get(candidate.author_id, _NONE)
    hours = max(now_ms - candidate.posted_ms, 0) / MS_PER_HOUR
    return [
        math.log1p(hours),
        math.log1p(like),
        math.log1p(retweet),
        math.log1p(reply),
        math.log1p(candidate.likes),
        math.log1p(candidate.retweets),
        math.log1p(candidate.replies),
        math.log1p(len(candidate.proof)),
        float(candidate.is_reply),
        float(candidate.is_quote),
        float(candidate.has_media),
        float(candidate.retweeted_by is not None),
        float(candidate.author_id == viewer),
    ]


def feature_matrix(
    viewer: int,
    affinity: dict[int, tuple[float, float, float]],
    now_ms: int,
    *,
    author_ids: Sequence[int],
    posted_ms: Sequence[int],
    likes: Sequence[int],
    retweets: Sequence[int],
    replies: Sequence[int],
    proofs: Sequence[int],
    replies_to: Sequence[bool],
    quotes: Sequence[bool],
    media: Sequence[bool],
    retweeted: Sequence[bool],
) -> np.ndarray:
    """The features of many candidates at once, a row each, as `features` computes them one
    at a time (serving ranks hundreds per read): the columns in FEATURES' order."""
    authors = np.asarray(author_ids, dtype=np.int64)
    affine = np.array([affinity.get(a, _NONE) for a in author_ids], dtype=np.float64)
    hours = np.maximum(now_ms - np.asarray(posted_ms, dtype=np.float64), 0) / MS_PER_HOUR
    counts = np.array([likes, retweets, replies, proofs], dtype=np.float64)
    flags = np.array([replies_to, quotes, media, retweeted], dtype=np.float64)
    return np.column_stack(
        [
            np.log1p(hours),
            np.log1p(affine.reshape(-1, 3)),
            np.log1p(counts[:3].T),
            np.log1p(counts[3]),
            flags.T,
            (authors == viewer).astype(np.float64),
        ]
    )


class ModelError(ValueError):
    """A model file this code cannot use."""


MODEL_FORMAT = "chirp-ranker/1"


@dataclass(frozen=True)
class Model:
    """A logistic regression over standardised features: P(engage) = sigmoid(w · (x - mean) /
    scale + b). `version` names it; `metrics` are its offline figures."""

    version: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    metrics: dict

    def __post_init__(self) -> None:
        if self.features != FEATURES:
            raise ModelError(
                f"model {self.version} was trained on features {list(self.features)},"
                f" this code computes {list(FEATURES)}"
            )
        if not len(self.mean) == len(self.scale) == len(self.coef) == len(FEATURES):
            raise ModelError(f"model {self.version}: one weight, mean and scale per feature")
        if any(s <= 0 for s in self.scale):
            raise ModelError(f"model {self.version}: every scale must be positive")

    def logits(self, rows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """The log-odds of engagement of each row of feature values."""
        weights = np.asarray(self.coef) / np.asarray(self.scale)
        offset = self.intercept - float(weights @ np.asarray(self.mean))
        matrix = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))
        return matrix @ weights + offset

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "format": MODEL_FORMAT,
                "version": self.version,
                "features": list(self.features),
                "mean": list(self.mean),
                "scale": list(self.scale),
                "coef": list(self.coef),
                "intercept": self.intercept,
                "metrics": self.metrics,
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Model:
        try:
            data = orjson.loads(raw)
            if data.get("format") != MODEL_FORMAT:
                raise ModelError(f"not a {MODEL_FORMAT} model: format {data.get('format')!r}")
            return cls(
                version=str(data["version"]),
                features=tuple(data["features"]),
                mean=tuple(map(float, data["mean"])),
                scale=tuple(map(float, data["scale"])),
                coef=tuple(map(float, data["coef"])),
                intercept=float(data["intercept"]),
                metrics=dict(data.get("metrics") or {}),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ModelError(f"not a ranker model: {error}") from error


def diversified(ranked: Sequence[int], authors: Sequence[Hashable]) -> list[int]:
    """Positions of `ranked` (indexes, best first) reordered so that no author has two tweets
    in a row while another author's tweet is left: each place takes the best candidate whose
    author is not the previous place's, or the best one left if every one left is by that
    author. `authors[i]` is the author of candidate i."""
    order: list[int] = []
    waiting: list[int] = []  # passed over for following their own author, best first
    previous: Hashable | None = None
    pending = iter(ranked)
    while True:
        pick = next((i for i in waiting if authors[i] != previous), None)
        if pick is not None:
            waiting.remove(pick)
        else:
            for i in pending:
                if authors[i] != previous:
                    pick = i
                    break
                waiting.append(i)
            else:
                if not waiting:
                    return order
                pick = waiting.pop(0)
        order.append(pick)
        previous = authors[pick]
