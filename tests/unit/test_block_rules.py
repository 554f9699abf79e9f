"""Blocks and mutes in the rules (commands/rules.py), with no server: who may act towards
whom, which events a block or mute records, and the order of a pair's follows and blocks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from commands.errors import DomainError, Refusal
from commands.model import (
    BlockState,
    MuteState,
    PostTweet,
    SetBlock,
    SetEngagement,
    SetFollow,
    SetMute,
    State,
    TweetRecord,
)
from commands.rules import decide, needs
from schemas import events as ev
from streams.ids import SnowflakeIds

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ADA, BOB, CY = 11, 12, 13
TWEET = 500


def run(command, state: State):
    return decide(command, state, SnowflakeIds(worker_id=3).next_id, NOW)


def refusal(command, state: State) -> tuple[Refusal, str, str]:
    with pytest.raises(DomainError) as raised:
        run(command, state)
    return raised.value.refusal, raised.value.code, raised.value.detail


def state(*blocks: tuple[int, int], author: int = BOB) -> State:
    return State(
        users=frozenset({ADA, BOB, CY}),
        tweets={TWEET: TweetRecord(TWEET, author, False)},
        usernames={"bob": BOB, "cy": CY},
        blocks=frozenset(blocks),
    )


def test_a_block_records_an_event_and_the_write_model_row_once():
    command = SetBlock(ADA, BOB, True)
    assert needs(command).blocks and needs(command).pair == (ADA, BOB)
    decision = run(command, state())
    assert isinstance(decision.event, ev.UserBlocked)
    assert (decision.event.blocker_id, decision.event.blocked_id) == (ADA, BOB)
    assert decision.result == BlockState(BOB, True)
    assert decision.changes.blocked == ((ADA, BOB),)
    assert decision.changes.pair_event == ((ADA, BOB), decision.event.event_id)
    # Blocking again, or unblocking someone not blocked, records nothing.
    assert run(command, state((ADA, BOB))).event is None
    assert run(SetBlock(ADA, BOB, False), state()).event is None
    # BOB blocking ADA is a block of its own.
    assert run(command, state((BOB, ADA))).changes.blocked == ((ADA, BOB),)


def test_an_unblock_lifts_the_block_only():
    decision = run(SetBlock(ADA, BOB, False), state((ADA, BOB)))
    assert isinstance(decision.event, ev.UserUnblocked)
    assert decision.changes.unblocked == ((ADA, BOB),)
    # Every event of a pair moves its clock, so the pair's next one has a later id.
    assert decision.changes.pair_event == ((ADA, BOB), decision.event.event_id)
    assert decision.changes.blocked == ()


@pytest.mark.parametrize("command", [SetBlock, SetMute])
def test_blocking_or_muting_needs_another_user_who_exists(command):
    verb = "block" if command is SetBlock else "mute"
    assert refusal(command(ADA, ADA, True), state())[:2] == (Refusal.INVALID, f"self-{verb}")
    assert refusal(command(ADA, 99, True), state())[:2] == (Refusal.NOT_FOUND, "not-found")


def test_a_mute_is_recorded_every_time_and_changes_only_the_pairs_clock():
    for muting, event_type in ((True, ev.UserMuted), (False, ev.UserUnmuted)):
        decision = run(SetMute(ADA, BOB, muting), state())
        assert isinstance(decision.event, event_type)
        assert (decision.event.muter_id, decision.event.muted_id) == (ADA, BOB)
        assert decision.result == MuteState(BOB, muting)
        # Its id is after the pair's last (the runner's clock), and becomes the pair's last.
        pair_event = ((ADA, BOB), decision.event.event_id)
        assert decision.changes == type(decision.changes)(pair_event=pair_event)
    assert not needs(SetMute(ADA, BOB, True)).blocks
    assert needs(SetMute(BOB, ADA, True)).pair == (ADA, BOB)


@pytest.mark.parametrize("blocks", [(BOB, ADA), (ADA, BOB)])
def test_a_block_either_way_refuses_follows_replies_quotes_likes_and_retweets(blocks):
    refused = [
        SetFollow(ADA, BOB, True),
        PostTweet(ADA, "hi", reply_to=TWEET),
        PostTweet(ADA, "look", quote_of=TWEET),
        SetEngagement(SetEngagement.LIKE, ADA, TWEET, True),
        SetEngagement(SetEngagement.RETWEET, ADA, TWEET, True),
    ]
    for command in refused:
        assert needs(command).blocks
        refused_as, code, detail = refusal(command, state(blocks))
        assert (refused_as, code) == (Refusal.FORBIDDEN, "blocked")
        assert ("blocks you" if blocks == (BOB, ADA) else "you block") in detail
        # A third user's block of either changes nothing.
        assert run(command, state((CY, BOB), (ADA, CY))).event is not None
    # What takes something back stays possible: unfollow, unlike, unretweet.
    for command in (
        SetFollow(ADA, BOB, False),
        SetEngagement(SetEngagement.LIKE, ADA, TWEET, False),
        SetEngagement(SetEngagement.RETWEET, ADA, TWEET, False),
    ):
        assert run(command, state(blocks)).event is not None


def test_a_mention_of_a_user_blocked_either_way_notifies_no_one():
    for blocks in [(BOB, ADA)], [(ADA, BOB)]:
        event = run(PostTweet(ADA, "hi @bob and @cy"), state(*blocks)).event
        assert isinstance(event, ev.TweetPosted)
        assert event.mentions == ("bob", "cy") and event.mentioned_ids == (CY,)


def test_a_follow_and_a_block_of_one_pair_take_ids_after_the_pairs_last_one():
    assert needs(SetFollow(BOB, ADA, True)).pair == (ADA, BOB)
    assert needs(SetFollow(BOB, ADA, False)).pair == (ADA, BOB)  # it may withdraw a request
    ahead = SnowflakeIds(worker_id=900, clock=lambda: NOW.timestamp() + 5).next_id()
    ids = SnowflakeIds(worker_id=3, clock=lambda: NOW.timestamp())
    # The runner's next_id: later than the pair's clock, though this process's clock lags.
    for command in (SetFollow(ADA, BOB, True), SetBlock(ADA, BOB, True)):
        decision = decide(command, state(), lambda: ids.next_id(after=ahead), NOW)
        assert decision.event is not None and decision.event.event_id > ahead
        assert decision.changes.pair_event == ((ADA, BOB), decision.event.event_id)
    later = list(itertools.islice(iter(ids.next_id, None), 3))
    assert later == sorted(later) and later[0] > ahead
