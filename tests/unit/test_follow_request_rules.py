"""Protected accounts and follow requests in the rules (commands/rules.py), with no server."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from commands.errors import DomainError, Refusal
from commands.model import (
    AnswerFollowRequest,
    FollowRequestAnswered,
    FollowState,
    PostTweet,
    ProfileFields,
    SetBlock,
    SetEngagement,
    SetFollow,
    State,
    TweetRecord,
    UpdateProfile,
)
from commands.rules import decide, needs
from schemas import events as ev
from streams.ids import SnowflakeIds

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ADA, BOB = 11, 12  # ADA's account is protected


def run(command, state: State):
    return decide(command, state, SnowflakeIds(worker_id=3).next_id, NOW)


def state(*requests: tuple[int, int], protected=frozenset({ADA})) -> State:
    return State(users=frozenset({ADA, BOB}), protected=protected, requests=frozenset(requests))


def test_following_a_protected_account_asks_once_and_an_unfollow_withdraws():
    decision = run(SetFollow(BOB, ADA, True), state())
    assert isinstance(decision.event, ev.FollowRequested)
    assert decision.result == FollowState(ADA, False, requested=True)
    assert decision.changes.requested == ((BOB, ADA),)
    assert decision.changes.pair_event == ((ADA, BOB), decision.event.event_id)
    # Asking again while it waits records nothing.
    again = run(SetFollow(BOB, ADA, True), state((BOB, ADA)))
    assert again.event is None and again.result == FollowState(ADA, False, requested=True)
    # An unfollow withdraws it, and ends the follow if there is one (a follower who asked
    # again: the write model does not know follows).
    withdrawn = run(SetFollow(BOB, ADA, False), state((BOB, ADA)))
    assert isinstance(withdrawn.event, ev.UserUnfollowed)
    assert withdrawn.event.actor_id == BOB and withdrawn.changes.unrequested == ((BOB, ADA),)
    # A follow through a request left from when the account was protected closes it.
    opened = run(SetFollow(BOB, ADA, True), state((BOB, ADA), protected=frozenset()))
    assert isinstance(opened.event, ev.UserFollowed)
    assert opened.changes.unrequested == ((BOB, ADA),)
    # A public account is followed at once; the protected account follows anyone at once.
    assert isinstance(run(SetFollow(ADA, BOB, True), state()).event, ev.UserFollowed)
    assert isinstance(run(SetFollow(BOB, ADA, True), state(protected=frozenset())).event,
                      ev.UserFollowed)  # fmt: skip


@pytest.mark.parametrize("approve, event_type", [(True, ev.UserFollowed),
                                                  (False, ev.FollowRequestDeclined)])  # fmt: skip
def test_the_owner_answers_a_waiting_request(approve, event_type):
    command = AnswerFollowRequest(ADA, BOB, approve)
    assert needs(command).pair == (ADA, BOB)
    decision = run(command, state((BOB, ADA)))
    assert isinstance(decision.event, event_type)
    assert (decision.event.actor_id, decision.event.follower_id) == (ADA, BOB)
    assert decision.event.followee_id == ADA
    assert decision.result == FollowRequestAnswered(BOB, approve)
    assert decision.changes.unrequested == ((BOB, ADA),)
    assert decision.changes.pair_event == ((ADA, BOB), decision.event.event_id)
    with pytest.raises(DomainError) as raised:
        run(command, state())
    assert raised.value.refusal == Refusal.NOT_FOUND


def test_a_block_closes_the_requests_between_the_two():
    decision = run(SetBlock(ADA, BOB, True), state((BOB, ADA)))
    assert decision.changes.unrequested == ((BOB, ADA),)


def test_protection_is_compared_with_the_write_model_and_marks_posts():
    edit = UpdateProfile(ADA, ProfileFields(protected=True), ProfileFields("Ada", "", "", ""))
    assert run(edit, state()).event is None  # protected already
    off = run(UpdateProfile(ADA, ProfileFields(protected=False), None), state())
    assert isinstance(off.event, ev.ProfileUpdated) and off.event.protected is False
    assert off.changes.protection == (ADA, False)
    on = run(UpdateProfile(BOB, ProfileFields(protected=True, bio="hi"), None), state())
    assert (on.event.protected, on.event.bio) == (True, "hi")
    # Other fields alone leave protection out of the event.
    bio = run(UpdateProfile(ADA, ProfileFields(bio="x"), None), state())
    assert bio.event.protected is None and bio.changes.protection is None
    assert run(PostTweet(ADA, "hi"), state()).event.protected is True
    assert run(PostTweet(BOB, "hi"), state()).event.protected is False


def test_a_protected_accounts_tweet_is_retweeted_and_quoted_by_its_author_only():
    tweets = {1: TweetRecord(1, ADA, False)}
    protected = State(users=frozenset({ADA, BOB}), protected=frozenset({ADA}), tweets=tweets)
    for command in (
        SetEngagement(SetEngagement.RETWEET, BOB, 1, True),
        PostTweet(BOB, "x", quote_of=1),
    ):
        with pytest.raises(DomainError) as refused:
            run(command, protected)
        assert (refused.value.refusal, refused.value.code) == (Refusal.FORBIDDEN, "protected-tweet")
    # Its author may; likes, replies and undoing a retweet stay open; an open account's may.
    assert isinstance(run(SetEngagement(SetEngagement.RETWEET, ADA, 1, True), protected).event,
                      ev.TweetRetweeted)  # fmt: skip
    assert isinstance(run(SetEngagement(SetEngagement.LIKE, BOB, 1, True), protected).event,
                      ev.TweetLiked)  # fmt: skip
    assert isinstance(run(SetEngagement(SetEngagement.RETWEET, BOB, 1, False), protected).event,
                      ev.TweetUnretweeted)  # fmt: skip
    assert run(PostTweet(BOB, "x", reply_to=1), protected).event.reply_to == 1
    opened = dataclasses.replace(protected, protected=frozenset())
    assert run(PostTweet(BOB, "x", quote_of=1), opened).event.quote_of == 1
