"""The pure planning of a batch: what each family's events do to their tables, in log order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from projections.engagement_plan import Retweeted, Unretweeted, plan_engagements
from projections.engagements import RetweetRow
from projections.graph_plan import PairChange, ProfileChange, edited_users, plan_graph
from projections.timeline_entries import Entry
from projections.timeline_writes import Push, Removal, TimelineWrites
from projections.tweet_plan import Deleted, Posted, plan_tweets
from projections.tweet_store import TweetState
from schemas import events as ev

T0 = datetime(2026, 11, 1, tzinfo=UTC)
_ids = iter(range(1, 10**6))


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def post(
    tweet_id: int, author: int = 1, reply_to: int | None = None, quote_of: int | None = None
) -> ev.TweetPosted:
    return ev.TweetPosted(
        event_id=tweet_id,
        occurred_at=at(tweet_id),
        actor_id=author,
        tweet_id=tweet_id,
        author_id=author,
        content="hi @ada @nobody",
        reply_to=reply_to,
        mentions=("ada", "nobody"),
        mentioned_ids=(41,),
        quote_of=quote_of,
        quote_of_author_id=None if quote_of is None else 2,
    )


def delete(tweet_id: int, author: int = 1) -> ev.TweetDeleted:
    return ev.TweetDeleted(
        event_id=next(_ids) + 1000,
        occurred_at=at(50),
        actor_id=author,
        tweet_id=tweet_id,
        author_id=author,
    )


def test_a_post_and_its_deletion_in_one_batch_leave_a_deleted_row_counted_and_uncounted():
    plan = plan_tweets([post(7, reply_to=3), delete(7)], stored={})
    assert plan.new_rows[7].deleted and plan.deletions == set()
    assert plan.counted == plan.uncounted == {(7, 1)}  # inserted, then updated: net nothing
    assert plan.replies == plan.unreplies == {(3, 7)}
    assert [type(step) for step in plan.steps] == [Posted, Deleted]
    assert plan.steps[1].reply_to == 3


def test_a_post_redelivered_after_its_deletion_changes_nothing():
    plan = plan_tweets([post(7)], stored={7: TweetState(deleted=True, reply_to=None)})
    assert plan.steps == [] and not plan.counted and not plan.new_rows


def test_a_deletion_without_its_post_leaves_a_tombstone_that_a_later_post_cannot_revive():
    plan = plan_tweets([delete(8, author=2), post(8, author=2)], stored={})
    assert plan.new_rows[8].deleted and plan.new_rows[8].content == ""
    assert plan.new_rows[8].created_at == at(50)  # the deletion's time, not the clock's
    assert not plan.counted and [type(step) for step in plan.steps] == [Deleted]


def test_deleting_a_stored_reply_marks_it_and_names_its_parent():
    plan = plan_tweets([delete(9)], stored={9: TweetState(deleted=False, reply_to=4)})
    assert plan.deletions == {9} and plan.unreplies == {(4, 9)}


def test_a_quote_is_stored_with_what_it_quotes_and_its_mentioned_ids_and_counted_once():
    plan = plan_tweets([post(7, quote_of=3), post(7, quote_of=3)], stored={})
    assert plan.new_rows[7].quote_of == 3 and plan.new_rows[7].mentioned_ids == (41,)
    assert plan.quotes == {(3, 7)} and plan.unquotes == set()


def test_deleting_a_stored_quote_takes_its_quote_back_even_when_deleted_again():
    stored = {9: TweetState(deleted=False, reply_to=None, quote_of=4)}
    plan = plan_tweets([delete(9), delete(9)], stored=stored)
    assert plan.deletions == {9} and plan.unquotes == {(4, 9)}
    assert [step.quote_of for step in plan.steps] == [4, 4]


def test_a_quote_posted_and_deleted_in_one_batch_adds_and_removes_its_quote_row():
    plan = plan_tweets([post(7, quote_of=3), delete(7)], stored={})
    assert plan.quotes == plan.unquotes == {(3, 7)}  # inserted, then deleted: net nothing
    assert plan.new_rows[7].deleted and plan.steps[1].quote_of == 3


def test_a_redelivered_quote_after_its_deletion_changes_nothing():
    stored = {7: TweetState(deleted=True, reply_to=None, quote_of=3)}
    plan = plan_tweets([post(7, quote_of=3)], stored=stored)
    assert plan.steps == [] and not plan.quotes


def like(kind, seconds: int, tweet: int = 5, user: int = 2):
    return kind(
        event_id=next(_ids), occurred_at=at(seconds), actor_id=user, tweet_id=tweet, user_id=user
    )


def test_likes_fold_to_their_last_word_with_the_time_of_the_like_that_stands():
    plan = plan_engagements(
        [
            like(ev.TweetLiked, 1),
            like(ev.TweetUnliked, 2),
            like(ev.TweetLiked, 3),
            like(ev.TweetLiked, 4),
        ],
        stored={},
    )
    assert plan.unlikes == {(5, 2)} and plan.likes == {(5, 2): at(3)}
    only_unliked = plan_engagements([like(ev.TweetLiked, 1), like(ev.TweetUnliked, 2)], stored={})
    assert only_unliked.unlikes == {(5, 2)} and only_unliked.likes == {}


def retweet(kind, event_id: int, tweet: int = 5, user: int = 2):
    return kind(
        event_id=event_id,
        occurred_at=at(event_id),
        actor_id=user,
        tweet_id=tweet,
        user_id=user,
        author_id=1,
    )


def test_a_retweet_keeps_the_first_retweets_place_and_an_unretweet_withdraws_it():
    plan = plan_engagements(
        [
            retweet(ev.TweetRetweeted, 10),
            retweet(ev.TweetRetweeted, 11),
            retweet(ev.TweetUnretweeted, 12),
            retweet(ev.TweetUnretweeted, 13),
            retweet(ev.TweetRetweeted, 14),
        ],
        stored={},
    )
    assert [step.sort_key for step in plan.steps] == [10, 10, 10, 10, 14]
    assert [type(step) for step in plan.steps] == [
        Retweeted,
        Retweeted,
        Unretweeted,
        Unretweeted,
        Retweeted,
    ]
    assert plan.retweets == {(5, 2): RetweetRow(14, active=True)}
    assert plan.retweet_deltas == {5: 1}  # +1 -1 +1


def test_an_unretweet_of_a_stored_inactive_retweet_withdraws_again_without_counting():
    plan = plan_engagements(
        [retweet(ev.TweetUnretweeted, 20)], stored={(5, 2): RetweetRow(3, active=False)}
    )
    assert plan.steps == [Unretweeted(plan.steps[0].event, 3)]
    assert plan.retweets == {} and plan.retweet_deltas == {}


def test_a_profile_edit_before_its_registration_changes_nothing_after_it_changes_the_new_row():
    register = ev.UserRegistered(
        event_id=1, occurred_at=at(1), actor_id=4, user_id=4, username="ada", display_name="Ada"
    )
    early = ev.ProfileUpdated(event_id=2, occurred_at=at(0), actor_id=4, user_id=4, bio="early")
    late = ev.ProfileUpdated(
        event_id=3, occurred_at=at(2), actor_id=4, user_id=4, display_name="Ada L."
    )
    plan = plan_graph([early, register, late], stored_users=set())
    assert plan.new_users[4].display_name == "Ada L." and plan.new_users[4].bio == ""
    stored = plan_graph([early, late], stored_users={4})
    assert stored.profile_changes == {4: ProfileChange("Ada L.", "early")}


def test_profile_edits_fold_location_and_website_and_an_empty_value_clears():
    edits = [
        ev.ProfileUpdated(
            event_id=2, occurred_at=at(1), actor_id=4, user_id=4, location="Paris", website="x"
        ),
        ev.ProfileUpdated(event_id=3, occurred_at=at(2), actor_id=4, user_id=4, website=""),
    ]
    stored = plan_graph(edits, stored_users={4})
    assert stored.profile_changes == {4: ProfileChange(location="Paris", website="")}
    assert edited_users(stored) == {4}
    register = ev.UserRegistered(
        event_id=1, occurred_at=at(0), actor_id=4, user_id=4, username="ada", display_name="Ada"
    )
    new = plan_graph([register, *edits], stored_users=set()).new_users[4]
    assert (new.location, new.website) == ("Paris", "")


def test_follows_fold_to_the_last_word_per_edge():
    def edge(kind, n):
        return kind(event_id=n, occurred_at=at(n), actor_id=1, follower_id=1, followee_id=2)

    plan = plan_graph([edge(ev.UserFollowed, 1), edge(ev.UserUnfollowed, 2)], stored_users=set())
    assert plan.unfollows == {(1, 2)} and plan.follows == {}
    plan = plan_graph([edge(ev.UserUnfollowed, 1), edge(ev.UserFollowed, 2)], stored_users=set())
    assert plan.follows == {(1, 2): 2} and plan.unfollows == set()


def test_blocks_and_mutes_fold_to_the_last_word_per_pair_and_keep_the_last_block():
    def block(kind, n, blocker=1, blocked=2):
        return kind(
            event_id=n, occurred_at=at(n), actor_id=blocker, blocker_id=blocker, blocked_id=blocked
        )

    def mute(kind, n):
        return kind(event_id=n, occurred_at=at(n), actor_id=1, muter_id=1, muted_id=2)

    plan = plan_graph(
        [
            block(ev.UserBlocked, 1),
            block(ev.UserUnblocked, 2),
            block(ev.UserBlocked, 3, blocker=2, blocked=1),
            mute(ev.UserMuted, 4),
            mute(ev.UserUnmuted, 5),
        ],
        stored_users=set(),
    )
    # Lifted at the end, but the block still ends the follows made before it.
    assert plan.blocks == {(1, 2): PairChange(2, False, 1), (2, 1): PairChange(3, True, 3)}
    assert plan.mutes == {(1, 2): PairChange(5, False)}
    only_unblock = plan_graph([block(ev.UserUnblocked, 7)], stored_users=set())
    assert only_unblock.blocks == {(1, 2): PairChange(7, False, 0)}


def test_pushes_merge_per_group_and_a_removal_writes_the_pushes_it_touches_first():
    writes = TimelineWrites()
    a, b, c = Entry(1, 1), Entry(2, 2), Entry(3, 3)
    followers = lambda: ["h:2", "h:3"]  # noqa: E731
    writes.push("followers 1", followers, [a], cap=5)
    writes.push("followers 1", followers, [b], cap=5)
    writes.remove(["r:9"], [c])  # touches no pending push: they stay merged
    writes.push("followers 1", followers, [a], cap=5, partial=True)
    writes.remove(["h:3"], [a])
    writes.push("followers 1", followers, [c], cap=5)
    writes.push("nobody", lambda: [], [c], cap=5)  # no timelines: nothing to write
    assert writes.finish() == [
        Removal(["r:9"], [c]),
        Push(["h:2", "h:3"], [a, b], 5, True),
        Removal(["h:3"], [a]),
        Push(["h:2", "h:3"], [c], 5),
    ]
