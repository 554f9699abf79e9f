"""The ranked home timeline's pure parts: affinities, features, the model file, the diversity
rule (projections/ranking.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.ranking import (
    FEATURES,
    PROOF_PER_FRIEND,
    Candidate,
    Engagement,
    HalfLives,
    Kind,
    Model,
    ModelError,
    affinities,
    candidates_after,
    candidates_since,
    closest,
    diversified,
    feature_matrix,
    features,
    proof_window,
    social_proof,
)
from streams.ids import EPOCH_MS, SEQUENCE_BITS, WORKER_BITS

HOUR = 3_600_000
HALF = HalfLives(like=10.0, retweet=20.0, reply=40.0)


def test_each_kind_counts_half_after_its_half_life_and_the_future_not_at_all():
    now = 1_000 * HOUR
    engaged = [
        Engagement(Kind.LIKE, 1, 7, now - 10 * HOUR),
        Engagement(Kind.LIKE, 2, 7, now - 20 * HOUR),
        Engagement(Kind.RETWEET, 3, 7, now - 20 * HOUR),
        Engagement(Kind.REPLY, 4, 8, now - 40 * HOUR),
        Engagement(Kind.LIKE, 5, 7, now),  # not before now
        Engagement(Kind.LIKE, 6, 9, now + HOUR),
    ]
    found = affinities(engaged, now, HALF)
    assert found == {7: (pytest.approx(0.75), pytest.approx(0.5), 0.0), 8: (0.0, 0.0, 0.5)}


def test_features_follow_the_names_and_read_the_candidate():
    candidate = Candidate(
        tweet_id=1,
        author_id=7,
        posted_ms=0,
        likes=3,
        retweets=1,
        replies=0,
        is_reply=True,
        has_media=True,
        retweeted_by=9,
        proof=(9, 10),
    )
    row = dict(zip(FEATURES, features(candidate, 7, {7: (1.0, 0.0, 3.0)}, 2 * HOUR), strict=True))
    assert row == {
        "recency": math.log1p(2),
        "affinity_like": math.log1p(1),
        "affinity_retweet": 0.0,
        "affinity_reply": math.log1p(3),
        "likes": math.log1p(3),
        "retweets": math.log1p(1),
        "replies": 0.0,
        "social_proof": math.log1p(2),
        "is_reply": 1.0,
        "is_quote": 0.0,
        "has_media": 1.0,
        "via_retweet": 1.0,
        "own": 1.0,
    }


def test_social_proof_reads_each_friends_newest_likes_and_retweets_in_the_window():
    now = 1_000 * HOUR
    start, _ = proof_window(now)
    busy = [Engagement(Kind.LIKE, 1_000 + n, 5, now - 1 - n) for n in range(PROOF_PER_FRIEND)]
    engagements = {
        # The busy friend's like of tweet 7 is its 101st newest: past what is read of it.
        8: [*busy, Engagement(Kind.LIKE, 7, 5, now - PROOF_PER_FRIEND - 1)],
        9: [
            Engagement(Kind.RETWEET, 7, 5, now - HOUR),
            Engagement(Kind.LIKE, 7, 5, now - 2 * HOUR),  # the same tweet: one mention
            Engagement(Kind.REPLY, 6, 5, now - HOUR),  # a reply is no proof
            Engagement(Kind.LIKE, 4, 5, start - 1),  # before the window
            Engagement(Kind.LIKE, 3, 5, now),  # not before now
        ],
    }
    proof = social_proof([9, 8], engagements, now)
    assert proof[7] == [(9, Kind.RETWEET)]
    assert {6, 4, 3}.isdisjoint(proof)
    assert all(proof[1_000 + n] == [(8, Kind.LIKE)] for n in range(PROOF_PER_FRIEND))


def test_the_closest_friends_are_followees_by_affinity():
    affinity = {1: (1.0, 0.0, 0.0), 2: (0.5, 0.5, 1.0), 3: (9.0, 0.0, 0.0), 4: (1.0, 0.0, 0.0)}
    assert closest(affinity, {1, 2, 4, 5}) == [2, 1, 4]


def _model(**changes) -> Model:
    n = len(FEATURES)
    fields = {
        "version": "v1",
        "features": FEATURES,
        "mean": tuple(float(i) for i in range(n)),
        "scale": tuple(2.0 for _ in range(n)),
        "coef": tuple(float(i % 3 - 1) for i in range(n)),
        "intercept": -1.5,
        "metrics": {"auc": 0.7},
    }
    return Model(**{**fields, **changes})


def test_a_model_scores_standardised_features_and_survives_its_file():
    model = _model()
    row = [float(i * i) for i in range(len(FEATURES))]
    expected = model.intercept + sum(
        c * (x - m) / s for c, x, m, s in zip(model.coef, row, model.mean, model.scale, strict=True)
    )
    assert model.logits([row])[0] == pytest.approx(expected)
    assert Model.from_json(model.to_json()) == model


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"format": "something-else"}',
        b'{"format": "chirp-ranker/1", "version": "x"}',
    ],
)
def test_a_file_that_is_no_model_is_refused(raw):
    with pytest.raises(ModelError):
        Model.from_json(raw)


def test_a_model_of_other_features_or_a_zero_scale_is_refused():
    with pytest.raises(ModelError, match="features"):
        _model(features=FEATURES[:-1])
    with pytest.raises(ModelError, match="scale"):
        _model(scale=(0.0,) * len(FEATURES))


@given(st.lists(st.integers(min_value=1, max_value=4), max_size=40))
def test_no_author_twice_in_a_row_while_another_is_left(authors):
    order = diversified(list(range(len(authors))), authors)
    assert sorted(order) == list(range(len(authors)))
    for place in range(1, len(order)):
        if authors[order[place]] == authors[order[place - 1]]:
            # Allowed only when every candidate left is by that author.
            assert {authors[i] for i in order[place:]} == {authors[order[place]]}


@given(st.lists(st.integers(min_value=1, max_value=4), max_size=40))
def test_each_place_takes_the_best_candidate_the_rule_allows(authors):
    order = diversified(list(range(len(authors))), authors)
    for place, pick in enumerate(order):
        left = order[place:]
        previous = authors[order[place - 1]] if place else None
        allowed = [i for i in left if authors[i] != previous] or left
        assert pick == min(allowed)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 5),  # author
            st.integers(0, 10 * HOUR),  # posted
            st.integers(0, 10_000),  # likes
            st.integers(0, 500),  # retweets
            st.integers(0, 500),  # replies
            st.integers(0, 4),  # proof
            st.booleans(),
            st.booleans(),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_the_feature_matrix_is_each_candidates_features(rows):
    """Serving computes many at once (feature_matrix), training one at a time (features)."""
    affinity = {1: (1.5, 0.0, 0.25), 3: (0.0, 2.0, 0.0)}
    now = 12 * HOUR
    candidates = [
        Candidate(
            tweet_id=n,
            author_id=author,
            posted_ms=posted,
            likes=likes,
            retweets=retweets,
            replies=replies,
            is_reply=reply,
            is_quote=quote,
            has_media=media,
            retweeted_by=9 if retweeted else None,
            proof=tuple(range(proof)),
        )
        for n, (
            author,
            posted,
            likes,
            retweets,
            replies,
            proof,
            reply,
            quote,
            media,
            retweeted,
        ) in enumerate(rows)
    ]
    matrix = feature_matrix(
        1,
        affinity,
        now,
        author_ids=[c.author_id for c in candidates],
        posted_ms=[c.posted_ms for c in candidates],
        likes=[c.likes for c in candidates],
        retweets=[c.retweets for c in candidates],
        replies=[c.replies for c in candidates],
        proofs=[len(c.proof) for c in candidates],
        replies_to=[c.is_reply for c in candidates],
        quotes=[c.is_quote for c in candidates],
        media=[c.has_media for c in candidates],
        retweeted=[c.retweeted_by is not None for c in candidates],
    )
    expected = [features(c, 1, affinity, now) for c in candidates]
    assert matrix.shape == (len(candidates), len(FEATURES))
    for got, want in zip(matrix.tolist(), expected, strict=True):
        assert got == pytest.approx(want, rel=1e-12, abs=0)


@given(st.integers(min_value=EPOCH_MS + 100 * HOUR, max_value=EPOCH_MS + 10**12))
def test_served_candidates_are_of_the_window_training_takes(now):
    """Serving reads the timeline's entries newer than candidates_after (sort keys are ids);
    training keeps the tweets made from candidates_since on: the same ones."""
    since, low = candidates_since(now), WORKER_BITS + SEQUENCE_BITS
    last_id_before = ((since - 1 - EPOCH_MS) << low) | ((1 << low) - 1)
    first_id_in = (since - EPOCH_MS) << low
    assert last_id_before <= candidates_after(now) < first_id_in
