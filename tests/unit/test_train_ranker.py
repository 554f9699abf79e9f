"""Training the ranker from the log: the history the features are taken from, examples without
the future, and a model that learns readers' tastes (operations/ranker_history.py,
operations/train_ranker.py, bench/ranking_workload.py)."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from bench.ranking_workload import ranking_log
from operations.ranker_history import CANDIDATES, History, event_ms
from operations.train_ranker import LABEL_WINDOW_MS, examples, exported_events, train
from projections.ranking import FEATURES, HalfLives, Kind, Model
from schemas import events as ev
from streams.ids import SnowflakeIds

START = datetime(2026, 11, 1, tzinfo=UTC)
HALF = HalfLives()


class Log:
    """Events at chosen moments (minutes after START), with ids made at those moments."""

    def __init__(self) -> None:
        self.now = START.timestamp()
        self.ids = SnowflakeIds(1, clock=lambda: self.now)
        self.events: list[ev.Event] = []

    def at(self, minutes: float, make, **fields) -> ev.Event:
        self.now = (START + timedelta(minutes=minutes)).timestamp()
        event_id = self.ids.next_id()
        stamp = {"event_id": event_id, "occurred_at": datetime.fromtimestamp(self.now, UTC)}
        if make is ev.TweetPosted:
            fields = {"tweet_id": event_id, "content": "hi", **fields}
        event = make(**stamp, actor_id=next(iter(fields.values())), **fields)
        self.events.append(event)
        return event


def test_the_candidates_are_the_home_timeline_newest_first_each_tweet_once():
    log = Log()
    log.at(0, ev.UserFollowed, follower_id=1, followee_id=2)
    log.at(0, ev.UserFollowed, follower_id=1, followee_id=3)
    old = log.at(1, ev.TweetPosted, author_id=2)
    gone = log.at(2, ev.TweetPosted, author_id=2)
    stranger = log.at(3, ev.TweetPosted, author_id=4)
    own = log.at(4, ev.TweetPosted, author_id=1)
    log.at(5, ev.TweetDeleted, author_id=2, tweet_id=gone.tweet_id)
    log.at(6, ev.TweetRetweeted, user_id=3, tweet_id=stranger.tweet_id, author_id=4)
    log.at(7, ev.TweetRetweeted, user_id=3, tweet_id=old.tweet_id, author_id=2)
    log.at(8, ev.TweetLiked, user_id=3, tweet_id=old.tweet_id, author_id=2)
    history = History()
    for event in log.events:
        history.apply(event)
    now = event_ms(log.events[-1]) + 1
    entries = history.entries(1, now)
    assert [(e.tweet_id, e.retweeted_by) for e in entries] == [
        (old.tweet_id, 3),  # its retweet is its newest entry
        (stranger.tweet_id, 3),
        (own.tweet_id, None),
    ]
    candidate = history.candidate(entries[0], {})
    assert (candidate.likes, candidate.retweets, candidate.retweeted_by) == (1, 1, 3)
    # Nothing posted or retweeted from a moment on is an entry at that moment.
    assert [(e.tweet_id, e.retweeted_by) for e in history.entries(1, event_ms(own))] == [
        (old.tweet_id, None)
    ]


def test_social_proof_is_what_the_closest_followees_liked_or_retweeted_lately():
    log = Log()
    for followee in (2, 3, 4):
        log.at(0, ev.UserFollowed, follower_id=1, followee_id=followee)
    mine = {a: log.at(1, ev.TweetPosted, author_id=a) for a in (2, 3, 4)}
    # The viewer engages with 3 twice, with 4 once, never with 2: 3 is the closest.
    log.at(2, ev.TweetLiked, user_id=1, tweet_id=mine[3].tweet_id, author_id=3)
    log.at(3, ev.TweetRetweeted, user_id=1, tweet_id=mine[3].tweet_id, author_id=3)
    log.at(4, ev.TweetLiked, user_id=1, tweet_id=mine[4].tweet_id, author_id=4)
    stranger = log.at(5, ev.TweetPosted, author_id=9)
    seen = log.at(6, ev.TweetPosted, author_id=2)
    for friend in (2, 3, 4):  # 2 likes it too, but the viewer never engaged with 2
        log.at(7 + friend, ev.TweetLiked, user_id=friend, tweet_id=seen.tweet_id, author_id=2)
    log.at(12, ev.TweetRetweeted, user_id=4, tweet_id=stranger.tweet_id, author_id=9)
    long_ago = log.at(13, ev.TweetPosted, author_id=2)
    log.at(14, ev.TweetLiked, user_id=3, tweet_id=long_ago.tweet_id, author_id=2)
    history = History()
    for event in log.events:
        history.apply(event)
    now = event_ms(log.events[-1]) + 1
    entries, rows = history.features(1, now, HALF)
    proof = {
        e.tweet_id: row[FEATURES.index("social_proof")]
        for e, row in zip(entries, rows, strict=True)
    }
    assert proof[seen.tweet_id] == pytest.approx(math.log1p(2))  # 3 and 4
    assert proof[stranger.tweet_id] == pytest.approx(math.log1p(1))  # 4's retweet
    assert proof[mine[2].tweet_id] == 0.0


def test_the_candidates_stop_at_the_cap():
    log = Log()
    log.at(0, ev.UserFollowed, follower_id=1, followee_id=2)
    for n in range(CANDIDATES + 5):
        log.at(1 + n / 100, ev.TweetPosted, author_id=2)
    history = History()
    for event in log.events:
        history.apply(event)
    entries = history.entries(1, event_ms(log.events[-1]) + 1)
    assert len(entries) == CANDIDATES
    assert entries[0].tweet_id == log.events[-1].tweet_id


def test_a_viewer_keeps_the_latest_engagements_that_stand():
    log = Log()
    tweets = [log.at(n, ev.TweetPosted, author_id=2) for n in range(4)]
    for n, tweet in enumerate(tweets):
        log.at(10 + n, ev.TweetLiked, user_id=1, tweet_id=tweet.tweet_id, author_id=2)
    log.at(20, ev.TweetUnliked, user_id=1, tweet_id=tweets[3].tweet_id, author_id=2)
    log.at(21, ev.TweetPosted, author_id=1, reply_to=tweets[0].tweet_id, reply_to_author_id=2)
    history = History(engagements_per_viewer=3)
    for event in log.events:
        history.apply(event)
    kept = [(e.kind, e.tweet_id) for e in history.viewer_engagements(1)]
    assert kept == [
        (Kind.LIKE, tweets[1].tweet_id),
        (Kind.LIKE, tweets[2].tweet_id),
        (Kind.REPLY, tweets[0].tweet_id),
    ]


def test_a_moment_sees_the_past_only_and_is_labelled_by_the_window_after_it():
    log = Log()
    log.at(0, ev.UserFollowed, follower_id=1, followee_id=2)
    first = log.at(1, ev.TweetPosted, author_id=2)
    second = log.at(2, ev.TweetPosted, author_id=2)
    # A session at minute 10: two likes; then, past the label window, another session.
    log.at(10, ev.TweetLiked, user_id=1, tweet_id=first.tweet_id, author_id=2)
    log.at(11, ev.TweetLiked, user_id=1, tweet_id=second.tweet_id, author_id=2)
    third = log.at(100, ev.TweetPosted, author_id=2)
    log.at(200, ev.TweetRetweeted, user_id=1, tweet_id=third.tweet_id, author_id=2)
    found = examples(log.events, HALF, holdout=0.5)
    moments = found.training + found.held_out
    assert [m.at_ms for m in moments] == [event_ms(log.events[3]), event_ms(log.events[-1])]
    opening, later = moments
    # At the first moment, neither like has happened: no affinity, no likes.
    row = dict(zip(FEATURES, opening.rows[0], strict=True))
    assert (row["affinity_like"], row["likes"]) == (0.0, 0.0)
    assert opening.labels().tolist() == [1, 1]
    # At the later one, both likes count towards the author, and only the retweeted is engaged.
    assert later.labels().tolist() == [1, 0, 0]
    assert dict(zip(FEATURES, later.rows[0], strict=True))["affinity_like"] > 0
    assert later.at_ms - opening.at_ms > LABEL_WINDOW_MS


def test_an_export_file_reads_back_the_events(tmp_path):
    log = Log()
    log.at(0, ev.UserFollowed, follower_id=1, followee_id=2)
    log.at(1, ev.TweetPosted, author_id=2)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(ev.encode(e) for e in log.events) + b'\n{"type": "Nope"}\n')
    assert exported_events(path) == (log.events, 1)


def _texts(rng: random.Random) -> list[str]:
    topics = [f"#topic{n}" for n in range(40)]
    return [f"text {n} {rng.choice(topics)}" for n in range(4000)]


def _edges(rng: random.Random) -> list[tuple[int, int]]:
    authors = list(range(1000, 1400))
    return [
        (reader, author)
        for reader in range(1, 121)
        for author in rng.sample(authors, rng.randrange(25, 60))
    ]


@pytest.fixture(scope="module")
def trained():
    rng = random.Random(3)
    events = ranking_log(_edges(rng), _texts(rng), readers=120, days=6, posts_per_day=900)
    return train(examples(events, HALF))


def test_the_ranker_learns_tastes_the_shuffled_control_does_not(trained):
    model, report, control = trained
    # The simulated readers favour some authors: the ranker finds them, chronology does not.
    assert report.ndcg_model > report.ndcg_chronological
    assert report.ndcg_shuffled_control < report.ndcg_chronological
    assert report.auc > 0.6
    assert model.coef[FEATURES.index("affinity_like")] > 0
    assert model.metrics == report.as_dict()
    assert Model.from_json(model.to_json()) == model
    assert control.version.endswith("-shuffled")


def test_chirp_train_ranker_trains_from_an_export_and_writes_the_model(tmp_path):
    rng = random.Random(4)
    events = ranking_log(_edges(rng), _texts(rng), readers=60, days=4, posts_per_day=500)
    export = tmp_path / "events.jsonl"
    export.write_bytes(b"\n".join(ev.encode(e) for e in events) + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "train-ranker", "--events", str(export),
         "-o", str(tmp_path / "models")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    [path] = (tmp_path / "models").glob("ranker-*.json")
    model = Model.from_json(path.read_bytes())
    assert model.metrics == report and report["test_moments"] > 0
    assert f"read {len(events):,} events" in done.stderr and str(path) in done.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "operations.cli", "train-ranker", "--events", str(export),
         "--holdout", "1.5"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "--holdout" in refused.stderr
