"""The rules of each command (commands/rules.py), with no server: a state in, a decision or
a refusal out."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from commands.errors import DomainError, Refusal
from commands.model import (
    AccountDeleted,
    Changes,
    DeleteAccount,
    Deleted,
    DeleteTweet,
    EngagementState,
    FollowState,
    MediaRecord,
    Needs,
    Posted,
    PostTweet,
    ProfileEdited,
    ProfileFields,
    Register,
    Registered,
    RemoveMedia,
    SetEngagement,
    SetFollow,
    State,
    TweetRecord,
    UpdateProfile,
)
from commands.rules import decide, needs
from schemas import events as ev
from streams.ids import SnowflakeIds, id_time

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ADA, BOB = 11, 12
TWEET = 500


def run(command, state: State):
    return decide(command, state, SnowflakeIds(worker_id=3).next_id, NOW)


def refusal(command, state: State) -> tuple[Refusal, str]:
    with pytest.raises(DomainError) as raised:
        run(command, state)
    return raised.value.refusal, raised.value.code


def users(*ids: int) -> State:
    return State(users=frozenset(ids))


def with_tweet(*ids: int, author=BOB, deleted=False) -> State:
    return State(users=frozenset(ids), tweets={TWEET: TweetRecord(TWEET, author, deleted)})


def test_every_command_needs_its_actor_and_an_actor_without_an_account_acts_as_nobody():
    for command in (
        PostTweet(ADA, "hi"),
        DeleteTweet(ADA, TWEET),
        SetFollow(ADA, BOB, True),
        SetEngagement(SetEngagement.LIKE, ADA, TWEET, True),
        UpdateProfile(ADA, ProfileFields(bio="hi"), None),
    ):
        assert ADA in needs(command).users
        assert refusal(command, with_tweet(BOB)) == (Refusal.UNAUTHENTICATED, "unauthorized")


def test_a_post_takes_a_tweet_id_whose_time_is_its_created_at_and_records_the_tweet():
    decision = run(PostTweet(ADA, "Hello #Chirp @bob"), users(ADA))
    event = decision.event
    assert isinstance(event, ev.TweetPosted) and isinstance(decision.result, Posted)
    assert decision.result == Posted(event.tweet_id, id_time(event.tweet_id))
    assert event.occurred_at == id_time(event.tweet_id)
    assert event.event_id != event.tweet_id
    assert (event.hashtags, event.mentions) == (("chirp",), ("bob",))
    assert decision.changes.tweets == (TweetRecord(event.tweet_id, ADA, False),)
    assert needs(PostTweet(ADA, "hi")) == Needs(users=frozenset({ADA}), key_of=ADA)


def test_mentions_resolve_to_the_users_that_exist_when_the_tweet_is_posted():
    command = PostTweet(ADA, "@Bob meet @nobody and @ada, @BOB again")
    assert needs(command).usernames == {"bob", "nobody", "ada"}
    state = State(users=frozenset({ADA}), usernames={"bob": BOB, "ada": ADA})
    event = run(command, state).event
    assert event.mentions == ("bob", "nobody", "ada")
    # An unknown name stays plain text; the author's own mention is kept (it notifies no one).
    assert event.mentioned_ids == (BOB, ADA)


@pytest.mark.parametrize(
    "field, problem", [("reply_to", "reply-target-missing"), ("quote_of", "quote-target-missing")]
)
def test_a_reply_or_a_quote_needs_a_live_tweet_and_names_its_author(field, problem):
    command = PostTweet(ADA, "yes", **{field: TWEET})
    assert needs(command).tweets == {TWEET}
    event = run(command, with_tweet(ADA)).event
    assert getattr(event, field) == TWEET
    assert getattr(event, f"{field}_author_id") == BOB
    for state in (users(ADA), with_tweet(ADA, deleted=True)):
        assert refusal(command, state) == (Refusal.INVALID, problem)


def test_a_reply_may_quote_another_tweet():
    command = PostTweet(ADA, "both", reply_to=TWEET, quote_of=TWEET + 1)
    assert needs(command).tweets == {TWEET, TWEET + 1}
    state = State(
        users=frozenset({ADA}),
        tweets={
            TWEET: TweetRecord(TWEET, BOB, False),
            TWEET + 1: TweetRecord(TWEET + 1, ADA, False),
        },
    )
    event = run(command, state).event
    assert (event.reply_to_author_id, event.quote_of_author_id) == (BOB, ADA)


def test_only_the_author_deletes_a_tweet_and_deleting_it_again_changes_nothing():
    delete = DeleteTweet(BOB, TWEET)
    assert needs(delete) == Needs(
        users=frozenset({BOB}), tweets=frozenset({TWEET}), lock_tweets=True
    )
    decision = run(delete, with_tweet(BOB))
    assert isinstance(decision.event, ev.TweetDeleted) and decision.changes.deleted == (TWEET,)
    again = run(delete, with_tweet(BOB, deleted=True))
    assert (again.result, again.event) == (Deleted(TWEET), None)
    assert refusal(DeleteTweet(ADA, TWEET), with_tweet(ADA)) == (
        Refusal.FORBIDDEN,
        "not-your-tweet",
    )
    assert refusal(delete, users(BOB)) == (Refusal.NOT_FOUND, "not-found")


@pytest.mark.parametrize(
    "following, event_type", [(True, ev.UserFollowed), (False, ev.UserUnfollowed)]
)
def test_following_needs_another_user_who_exists(following, event_type):
    command = SetFollow(ADA, BOB, following)
    assert needs(command).users == {ADA, BOB}
    decision = run(command, users(ADA, BOB))
    assert isinstance(decision.event, event_type)
    assert (decision.event.follower_id, decision.event.followee_id) == (ADA, BOB)
    assert decision.result == FollowState(BOB, following)
    assert refusal(command, users(ADA)) == (Refusal.NOT_FOUND, "not-found")
    assert refusal(SetFollow(ADA, ADA, following), users(ADA)) == (Refusal.INVALID, "self-follow")


@pytest.mark.parametrize(
    "kind, on, event_type",
    [
        (SetEngagement.LIKE, True, ev.TweetLiked),
        (SetEngagement.LIKE, False, ev.TweetUnliked),
        (SetEngagement.RETWEET, True, ev.TweetRetweeted),
        (SetEngagement.RETWEET, False, ev.TweetUnretweeted),
    ],
)
def test_engagements_need_a_live_tweet_and_name_its_author_where_the_event_has_one(
    kind, on, event_type
):
    command = SetEngagement(kind, ADA, TWEET, on)
    decision = run(command, with_tweet(ADA))
    assert isinstance(decision.event, event_type)
    assert (decision.event.user_id, decision.event.tweet_id) == (ADA, TWEET)
    if "author_id" in event_type.model_fields:
        assert decision.event.author_id == BOB
    assert decision.result == EngagementState(kind, TWEET, on)
    for state in (users(ADA), with_tweet(ADA, deleted=True)):
        assert refusal(command, state) == (Refusal.NOT_FOUND, "not-found")


def test_registration_reserves_the_account_under_a_new_user_id():
    decision = run(Register("ada", "Ada", "", "hash"), State())
    event = decision.event
    assert isinstance(event, ev.UserRegistered) and event.actor_id == event.user_id
    assert decision.result == Registered(event.user_id, "ada")
    account = decision.changes.account
    assert (account.user_id, account.username, account.password_hash) == (
        event.user_id,
        "ada",
        "hash",
    )
    assert needs(Register("ada", "Ada", "", "hash")) == Needs()


def test_only_new_writes_draw_from_a_limit():
    assert PostTweet(ADA, "x").draws == "tweets"
    assert SetEngagement(SetEngagement.RETWEET, ADA, TWEET, True).draws == "tweets"
    assert SetEngagement(SetEngagement.LIKE, ADA, TWEET, True).draws == "likes"
    assert SetFollow(ADA, BOB, True).draws == "follows"
    taking_back = [
        SetFollow(ADA, BOB, False),
        DeleteTweet(ADA, TWEET),
        SetEngagement(SetEngagement.LIKE, ADA, TWEET, False),
        SetEngagement(SetEngagement.RETWEET, ADA, TWEET, False),
        Register("ada", "Ada", "", "hash"),
    ]
    assert [command.draws for command in taking_back] == [None] * len(taking_back)


def test_ids_come_from_the_source_given_so_decisions_repeat():
    counter = itertools.count(1 << 40)
    decision = decide(PostTweet(ADA, "hi"), users(ADA), lambda: next(counter), NOW)
    assert (decision.event.tweet_id, decision.event.event_id) == (1 << 40, (1 << 40) + 1)


CURRENT = ProfileFields("Ada", "maths", "London", "https://ada.example")


def test_a_profile_edit_records_only_the_fields_that_change():
    edit = ProfileFields(display_name="Ada", bio="poetry", location="", website=None)
    decision = run(UpdateProfile(ADA, edit, CURRENT), users(ADA))
    event = decision.event
    assert isinstance(event, ev.ProfileUpdated) and event.user_id == ADA == event.actor_id
    # The same display name is no change; an empty location clears it; None leaves it.
    assert (event.display_name, event.bio, event.location, event.website) == (
        None,
        "poetry",
        "",
        None,
    )
    assert decision.result == ProfileEdited(ADA, ProfileFields(bio="poetry", location=""))
    assert decision.changes.account is None and decision.changes.tweets == ()


def test_a_profile_edit_that_changes_nothing_records_nothing():
    for edit in (ProfileFields(), ProfileFields("Ada", "maths"), CURRENT):
        decision = run(UpdateProfile(ADA, edit, CURRENT), users(ADA))
        assert decision.event is None
        assert decision.result == ProfileEdited(ADA, ProfileFields())


def test_a_profile_edit_against_an_unknown_profile_records_every_field_sent():
    edit = ProfileFields("Ada", website="")
    decision = run(UpdateProfile(ADA, edit, None), users(ADA))
    assert isinstance(decision.event, ev.ProfileUpdated)
    assert (decision.event.display_name, decision.event.website) == ("Ada", "")
    assert decision.result == ProfileEdited(ADA, edit)
    # Sending nothing is no change even then.
    assert run(UpdateProfile(ADA, ProfileFields(), None), users(ADA)).event is None


def test_only_an_existing_account_edits_its_profile():
    edit = UpdateProfile(ADA, ProfileFields(bio="x"), CURRENT)
    assert needs(edit) == Needs(users=frozenset({ADA}), key_of=ADA)
    assert refusal(edit, users(BOB)) == (Refusal.UNAUTHENTICATED, "unauthorized")


def test_deleting_an_account_records_its_deletion_once_and_a_deleted_account_acts_as_nobody():
    command = DeleteAccount(ADA)
    assert needs(command) == Needs(users=frozenset({ADA}))
    decision = run(command, users(ADA))
    assert decision.result == AccountDeleted(ADA)
    assert isinstance(decision.event, ev.UserDeleted)
    assert (decision.event.user_id, decision.event.actor_id) == (ADA, ADA)
    assert decision.changes == Changes(deleted_account=ADA)
    # The write model reads a deleted account as none: deleting it again, or anything else
    # its token asks for, is refused as from nobody.
    assert refusal(command, users()) == (Refusal.UNAUTHENTICATED, "unauthorized")
    assert refusal(PostTweet(ADA, "still here?"), users()) == (
        Refusal.UNAUTHENTICATED,
        "unauthorized",
    )


def test_the_sweeper_still_removes_the_uploads_of_a_deleted_account():
    upload = MediaRecord(
        7, ADA, "image/png", 10, uploaded=True, created_at=NOW, attached_to=TWEET, released_at=NOW
    )
    command = RemoveMedia(ADA, 7, orphan_seconds=60, grace_seconds=0)
    decision = run(command, State(media={7: upload}))  # ADA's account is deleted: not in users
    assert isinstance(decision.event, ev.MediaDeleted)
    assert decision.changes == Changes(removed=(7,))


def test_a_location_sets_the_trends_region_and_each_post_carries_it():
    in_india = State(users=frozenset({ADA}), regions={ADA: "IN"})
    moved = run(
        UpdateProfile(ADA, ProfileFields(location="Paris, France"), CURRENT, "FR"), users(ADA)
    )
    assert moved.changes.region == (ADA, "FR")
    # A location naming no region clears it; the same region, or no location sent, is no change.
    cleared = run(UpdateProfile(ADA, ProfileFields(location="Mars"), CURRENT, None), in_india)
    assert cleared.changes.region == (ADA, None)
    for edit, region in (
        (ProfileFields(location="Delhi, India"), "IN"),
        (ProfileFields(bio="x"), None),
    ):
        assert run(UpdateProfile(ADA, edit, CURRENT, region), in_india).changes.region is None
    # Sent again unchanged (no event), the location still sets a region the account lacks.
    again = run(UpdateProfile(ADA, ProfileFields(location="London"), CURRENT, "GB"), users(ADA))
    assert again.event is None and again.changes.region == (ADA, "GB")
    posted = run(PostTweet(ADA, "#chai"), in_india).event
    assert isinstance(posted, ev.TweetPosted) and posted.region == "IN"
    assert run(PostTweet(ADA, "#tea"), users(ADA)).event.region is None
