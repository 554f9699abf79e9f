import itertools
from datetime import UTC, date, datetime

import pytest

from projections.engagements import Counts
from projections.search_ranking import (
    DAY_MS,
    ENGAGED_BOOST,
    FOLLOWED_BOOST,
    HOUR_MS,
    Personal,
    day_start_ms,
    engagement,
    engagement_boost,
    epoch_ms,
    recency_factor,
    recency_steps,
)

AS_OF = 1_750_000_000_000


def test_the_age_steps_cover_all_past_time_without_gaps_or_overlaps():
    steps = recency_steps(AS_OF)
    assert steps[0].newest_ms == AS_OF and steps[-1].oldest_ms is None
    for newer, older in itertools.pairwise(steps):
        assert older.newest_ms == newer.oldest_ms - 1
        assert older.factor < newer.factor


@pytest.mark.parametrize(
    "age_ms, factor",
    [
        (0, 1.0),
        (HOUR_MS - 1, 1.0),
        (3 * DAY_MS, 0.5),
        (3 * DAY_MS + 5 * HOUR_MS, 0.5),
        (6 * DAY_MS, 0.5 ** (5 / 3)),
        (60 * DAY_MS, 2**-20),
        (400 * DAY_MS, 2**-20),
    ],
)
def test_recency_halves_every_three_days_stepwise_down_to_a_floor(age_ms, factor):
    assert recency_factor(age_ms) == pytest.approx(factor)


def test_each_step_applies_the_factor_of_the_ages_inside_it():
    for step in recency_steps(AS_OF):
        assert recency_factor(AS_OF - step.newest_ms) == step.factor
        if step.oldest_ms is not None:
            assert recency_factor(AS_OF - step.oldest_ms) == step.factor


def test_engagement_counts_a_retweet_twice_a_reply_three_times_and_boosts_logarithmically():
    assert engagement(Counts(likes=3, retweets=2, replies=1)) == 10
    # Weighted toward discussion (seed 000): three replies outweigh three likes.
    assert engagement(Counts(replies=3)) > engagement(Counts(likes=3))
    assert engagement(Counts(likes=-1)) == 0  # a count never lowers the boost below none
    assert engagement_boost(0) == 1.0 and engagement_boost(2) == 2.0
    assert engagement_boost(1022) == pytest.approx(10.0)


def test_times_are_exact_milliseconds_and_days_are_utc():
    moment = datetime(2024, 4, 8, 18, 17, 59, 999_000, tzinfo=UTC)
    assert epoch_ms(moment) % 1000 == 999
    assert day_start_ms(date(2024, 4, 8)) == epoch_ms(datetime(2024, 4, 8, tzinfo=UTC))


def test_the_personal_boost_favours_followed_then_engaged_authors():
    personal = Personal(followed=frozenset({1, 2}), engaged=frozenset({2, 3}))
    assert [personal.boost(a) for a in (1, 2, 3, 4)] == [
        FOLLOWED_BOOST,
        FOLLOWED_BOOST,
        ENGAGED_BOOST,
        1.0,
    ]
    assert FOLLOWED_BOOST > ENGAGED_BOOST > 1.0
    # Disjoint tiers: each author is boosted once, by the larger factor.
    assert personal.tiers() == [
        (frozenset({1, 2}), FOLLOWED_BOOST),
        (frozenset({3}), ENGAGED_BOOST),
    ]
    assert Personal().tiers() == []
