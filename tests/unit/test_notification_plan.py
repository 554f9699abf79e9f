"""Whom events notify, and how a batch's plan folds each key's events (pure: no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from projections.notification_plan import Action, Kind, plan_notifications, tweet_actions
from schemas import events as ev

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DAY = 86_400
ADA, BOB, CY = 1, 2, 3


def _post(**fields) -> ev.TweetPosted:
    return ev.TweetPosted(
        event_id=900,
        occurred_at=AT,
        actor_id=ADA,
        tweet_id=90,
        author_id=ADA,
        content="x",
        **fields,
    )


def _like(event_id: int, user: int, cls=ev.TweetLiked, author: int | None = BOB, at=AT):
    return cls(
        event_id=event_id,
        occurred_at=at,
        actor_id=user,
        tweet_id=50,
        user_id=user,
        author_id=author,
    )


def test_a_tweet_notifies_each_user_once_reply_before_quote_before_mention_never_its_author():
    post = _post(
        reply_to=10, reply_to_author_id=BOB, quote_of=11, quote_of_author_id=CY,
        mentions=("bob", "cy", "ada"), mentioned_ids=(BOB, CY, ADA),
    )  # fmt: skip
    assert tweet_actions(post) == [
        Action(BOB, Kind.REPLY, 90, ADA, 0, 900),
        Action(CY, Kind.QUOTE, 90, ADA, 0, 900),
    ]
    assert tweet_actions(_post(mentions=("ada",), mentioned_ids=(ADA,))) == []


def test_likes_group_by_span_and_nobody_is_notified_of_their_own():
    plan = plan_notifications(
        [_like(1, ADA), _like(2, CY, at=AT + timedelta(days=1)), _like(3, BOB)], DAY
    )
    span = int(AT.timestamp()) // DAY
    assert plan.adds == [
        Action(BOB, Kind.LIKE, 50, ADA, span, 1),
        Action(BOB, Kind.LIKE, 50, CY, span + 1, 2),
    ]


def test_a_like_recorded_before_likes_named_the_author_notifies_no_one():
    assert plan_notifications([_like(1, ADA, author=None)], DAY).empty


def test_each_key_folds_to_its_last_word_and_an_undo_first_takes_the_old_row_out():
    like, unlike, again = _like(1, ADA), _like(2, ADA, ev.TweetUnliked), _like(3, ADA)
    assert plan_notifications([like, like], DAY).adds == plan_notifications([like], DAY).adds
    undone = plan_notifications([like, unlike], DAY)
    assert (undone.adds, undone.removals) == ([], [(50, Kind.LIKE, ADA)])
    redone = plan_notifications([like, unlike, again], DAY)
    assert [a.event_id for a in redone.adds] == [3] and redone.removals == [(50, Kind.LIKE, ADA)]


def test_follows_deletes_and_reads():
    follow = ev.UserFollowed(
        event_id=5, occurred_at=AT, actor_id=ADA, follower_id=ADA, followee_id=BOB
    )
    delete = ev.TweetDeleted(event_id=6, occurred_at=AT, actor_id=BOB, tweet_id=50, author_id=BOB)
    reads = [
        ev.NotificationsRead(event_id=7 + n, occurred_at=AT, actor_id=BOB, user_id=BOB, up_to=up)
        for n, up in enumerate((40, 30))
    ]
    plan = plan_notifications([follow, delete, *reads], DAY)
    assert plan.adds == [Action(BOB, Kind.FOLLOW, BOB, ADA, int(AT.timestamp()) // DAY, 5)]
    assert plan.deleted_tweets == {50}
    assert plan.reads == {BOB: 40}


def test_a_follow_request_notifies_until_it_is_answered_or_withdrawn():
    span = int(AT.timestamp()) // DAY

    def event(cls, event_id: int, follower: int, actor: int | None = None):
        return cls(
            event_id=event_id,
            occurred_at=AT,
            actor_id=actor or follower,
            follower_id=follower,
            followee_id=BOB,
        )

    asked = [event(ev.FollowRequested, 1, ADA), event(ev.FollowRequested, 2, CY)]
    plan = plan_notifications(asked, DAY)
    assert plan.adds == [
        Action(BOB, Kind.FOLLOW_REQUEST, BOB, ADA, span, 1),
        Action(BOB, Kind.FOLLOW_REQUEST, BOB, CY, span, 2),
    ]
    # Approved (a follow whose actor is the followee), declined, withdrawn (an unfollow).
    for answer in (
        event(ev.UserFollowed, 3, ADA, actor=BOB),
        event(ev.FollowRequestDeclined, 3, ADA, actor=BOB),
        event(ev.UserUnfollowed, 3, ADA),
    ):
        plan = plan_notifications([asked[0], answer], DAY)
        assert (BOB, Kind.FOLLOW_REQUEST, ADA) in plan.removals
        assert not [a for a in plan.adds if a.kind == Kind.FOLLOW_REQUEST]
        follows = [a for a in plan.adds if a.kind == Kind.FOLLOW]
        assert follows == (
            [Action(BOB, Kind.FOLLOW, BOB, ADA, span, 3)]
            if isinstance(answer, ev.UserFollowed)
            else []
        )
