"""What both search adapters share: how text is analyzed and how a hit is ranked.

score = relevance x recency x engagement boost x personal boost, where
- relevance is BM25 over the content (k1 = 1.2, b = 0.75), summed over the query's words,
  phrases and hashtags; 1 for a query of operators only (`from:`, `since:`, `until:`);
- recency is 0.5 ** (age / HALF_LIFE), taken at the start of the age step the tweet is in
  (a step function, so that the embedded engine can apply it as boosted time ranges);
- the engagement boost is log2(2 + likes + 2 x retweets + 3 x replies): 1 without
  engagement, weighted toward discussion;
- the personal boost is FOLLOWED_BOOST for an author the searcher follows, else
  ENGAGED_BOOST for one whose tweets they liked, retweeted or replied to lately, else 1
  (and 1 for everyone when nobody is signed in).
Ties are broken by the newer tweet id. docs/search.md explains the choices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from projections.engagements import Counts

# Tokens are runs of letters, marks, digits and `_`, joined across an inner apostrophe or
# dot (`don't`, `e.g`, `x.co`) or a digit group (`1,000`): close to Unicode word breaks, and
# written so that tantivy's regex tokenizer and Elasticsearch's pattern tokenizer (Java and
# the stand-in's Go regex alike) cut identically. Tokens are then lowercased, folded to ASCII
# where possible (`café` -> `cafe`) and stemmed with Snowball English (porter2).
# A token starts with a letter, digit or underscore: a lone mark (an emoji's variation
# selector U+FE0F) is not a word, so phrases match across emoji.
TOKEN_PATTERN = r"[\p{L}\p{N}_][\p{L}\p{M}\p{N}_]*(?:['’.][\p{L}\p{M}\p{N}_]+|,[\p{N}]+)*"

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Three days: a week-old tweet keeps a fifth of its weight, a month-old one a thousandth.
HALF_LIFE_MS = 3 * DAY_MS
# Steps are fine where a first page is decided (the last hours) and coarse further back,
# each a boosted range clause; past the last step the weight stays at its floor (2^-20).
AGE_STEPS_MS = (
    0,
    HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    2 * DAY_MS,
    3 * DAY_MS,
    5 * DAY_MS,
    7 * DAY_MS,
    14 * DAY_MS,
    30 * DAY_MS,
    60 * DAY_MS,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Weighted toward discussion: a reply is worth more than a retweet, which spreads a tweet
# further than a like does.
LIKE_WEIGHT, RETWEET_WEIGHT, REPLY_WEIGHT = 1, 2, 3
# At equal text relevance, recency and engagement: authors the searcher follows first, then
# authors they engaged with lately (docs/search.md, "Personal boost"). Powers of two: a
# boosted score is then exactly what an unboosted equal one is in the engines' 32-bit floats
# (x 1.5 made equal scores differ in the last bit, and which came first turned with every
# tweet indexed).
FOLLOWED_BOOST, ENGAGED_BOOST = 4.0, 2.0


@dataclass(frozen=True)
class Personal:
    """Whom a signed-in searcher's results favour: the authors they follow, and the authors
    whose tweets they liked, retweeted or replied to lately."""

    followed: frozenset[int] = frozenset()
    engaged: frozenset[int] = frozenset()

    def boost(self, author_id: int) -> float:
        if author_id in self.followed:
            return FOLLOWED_BOOST
        return ENGAGED_BOOST if author_id in self.engaged else 1.0

    def tiers(self) -> list[tuple[frozenset[int], float]]:
        """The boosted authors as disjoint sets, each with its boost (the rest get 1)."""
        engaged_only = self.engaged - self.followed
        return [
            (authors, factor)
            for authors, factor in ((self.followed, FOLLOWED_BOOST), (engaged_only, ENGAGED_BOOST))
            if authors
        ]


@dataclass(frozen=True)
class AgeStep:
    """Tweets created within [oldest_ms, newest_ms] (None: no lower bound) get `factor`."""

    oldest_ms: int | None
    newest_ms: int
    factor: float


def recency_factor(age_ms: int) -> float:
    """The recency weight of a tweet `age_ms` old: 0.5^(start of its age step / half-life)."""
    step_start = max(start for start in AGE_STEPS_MS if start <= max(age_ms, 0))
    return 0.5 ** (step_start / HALF_LIFE_MS)


def recency_steps(as_of_ms: int) -> list[AgeStep]:
    """The age steps as ranges of creation time (ms), newest first, for a search at `as_of_ms`."""
    steps = []
    for start, end in zip(AGE_STEPS_MS, (*AGE_STEPS_MS[1:], None), strict=True):
        # Age in [start, end) means created_at in (as_of - end, as_of - start].
        oldest = None if end is None else as_of_ms - end + 1
        steps.append(AgeStep(oldest, as_of_ms - start, recency_factor(start)))
    return steps


def engagement(counts: Counts) -> int:
    """The engagement figure a tweet is boosted by."""
    return (
        LIKE_WEIGHT * max(counts.likes, 0)
        + RETWEET_WEIGHT * max(counts.retweets, 0)
        + REPLY_WEIGHT * max(counts.replies, 0)
    )


def engagement_boost(engagement_value: int) -> float:
    """log2(2 + engagement): 1 for none, 2 for 2, 10 for 1,022."""
    return math.log2(2 + max(engagement_value, 0))


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch (exact, for an aware datetime): how both adapters
    store and compare creation times."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def day_start_ms(day: date) -> int:
    """The first millisecond of `day` in UTC (since: and until: are UTC days)."""
    return epoch_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))
