"""The rules of each command, as pure functions: what a decision reads (`needs`) and what it
decides from that (`decide`): the result, the event and the write model's changes, or a
DomainError. Ids and the clock come in as arguments, so a decision is repeatable in tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import singledispatch

from commands.errors import DomainError, Refusal, not_found
from commands.media_keys import original_key
from commands.model import (
    AccountDeleted,
    AnswerFollowRequest,
    BlockState,
    Changes,
    Command,
    CompleteUpload,
    Decision,
    DeleteAccount,
    Deleted,
    DeleteTweet,
    DescribeMedia,
    EngagementState,
    FollowRequestAnswered,
    FollowState,
    MarkNotificationsRead,
    MediaAccepted,
    MediaDescribedResult,
    MediaRecord,
    MediaRemoved,
    MuteState,
    Needs,
    NewAccount,
    NotificationsMarked,
    Posted,
    PostTweet,
    ProfileEdited,
    ProfileFields,
    Register,
    Registered,
    RemoveMedia,
    Result,
    SetBlock,
    SetEngagement,
    SetFollow,
    SetMute,
    StartUpload,
    State,
    TweetRecord,
    UpdateProfile,
    UploadStarted,
)
from schemas import events as ev
from schemas.entities import extract_hashtags, extract_mentions
from streams.ids import id_time

NextId = Callable[[], int]
# Media per tweet, as on Twitter (and as the API's TweetCreate says).
MAX_ATTACHMENTS = 4

_ENGAGEMENT_EVENTS: dict[
    tuple[str, bool],
    type[ev.TweetLiked | ev.TweetUnliked | ev.TweetRetweeted | ev.TweetUnretweeted],
] = {
    (SetEngagement.LIKE, True): ev.TweetLiked,
    (SetEngagement.LIKE, False): ev.TweetUnliked,
    (SetEngagement.RETWEET, True): ev.TweetRetweeted,
    (SetEngagement.RETWEET, False): ev.TweetUnretweeted,
}


def needs(command: Command) -> Needs:
    """The accounts and tweets `decide` reads for `command`: always the actor's account (a
    token of an account that is no more acts as nobody)."""
    actor = frozenset() if command.actor_id is None else frozenset({command.actor_id})
    match command:
        case PostTweet():
            tweets = frozenset(t for t in (command.reply_to, command.quote_of) if t is not None)
            usernames = frozenset(extract_mentions(command.content))
            return Needs(
                users=actor,
                key_of=command.author_id,
                tweets=tweets,
                usernames=usernames,
                # Locked: two posts attaching one upload must not both take it.
                media=frozenset(command.media_ids),
                # Only a post naming other users (replied to, quoted, mentioned) reads blocks:
                # a plain post, the common one, adds no statement to its transaction.
                blocks=bool(tweets or usernames),
            )
        case DeleteTweet(tweet_id=tweet_id):
            # Locked: two deletes of one tweet must not both emit an event.
            return Needs(users=actor, tweets=frozenset({tweet_id}), lock_tweets=True)
        case SetFollow(follower_id=follower, followee_id=followee, following=following):
            # A follow, a follow request and a block of one pair are decided one at a time
            # (the graph orders them by their ids); an unfollow may withdraw a request.
            return Needs(users=actor | {followee}, blocks=following, pair=_pair(follower, followee))
        case AnswerFollowRequest(owner_id=owner, requester_id=requester):
            return Needs(users=actor | {requester}, pair=_pair(owner, requester))
        case SetBlock(blocker_id=blocker, blocked_id=blocked):
            return Needs(users=actor | {blocked}, blocks=True, pair=_pair(blocker, blocked))
        case SetMute(muter_id=muter, muted_id=muted):
            # Under the pair's clock too: a mute and an unmute made on two API processes
            # whose clocks disagree still get ids in the order they were decided.
            return Needs(users=actor | {muted}, pair=_pair(muter, muted))
        case SetEngagement(tweet_id=tweet_id, on=on):
            return Needs(users=actor, tweets=frozenset({tweet_id}), blocks=on)
        case DescribeMedia(media_id=media_id, user_id=user_id):
            return Needs(users=actor, media=frozenset({media_id}), key_of=user_id)
        case CompleteUpload(media_id=media_id):
            # Locked: two completions of one upload must not both emit an event.
            return Needs(users=actor, media=frozenset({media_id}))
        case UpdateProfile(user_id=user_id):
            return Needs(users=actor, key_of=user_id)
        case RemoveMedia(media_id=media_id):
            return Needs(users=actor, media=frozenset({media_id}))
    return Needs(users=actor)


def _pair(user_id: int, other_id: int) -> tuple[int, int]:
    return (min(user_id, other_id), max(user_id, other_id))


def _pair_event(user_id: int, other_id: int, event: ev.Event) -> tuple[tuple[int, int], int]:
    """The pair's clock moved to `event` (Changes.pair_event)."""
    return (_pair(user_id, other_id), event.event_id)


def decide(command: Command, state: State, next_id: NextId, now: datetime) -> Decision:
    """Decide `command` against `state` (read as `needs(command)` says)."""
    # An upload of a deleted account is still removed (the sweeper acts as its owner).
    if (
        command.actor_id is not None
        and command.actor_id not in state.users
        and not isinstance(command, RemoveMedia)
    ):
        raise DomainError(
            Refusal.UNAUTHENTICATED,
            "unauthorized",
            "Unauthorized",
            "the access token's user does not exist",
        )
    return _decide(command, state, next_id, now)


@singledispatch
def _decide(command: Command, state: State, next_id: NextId, now: datetime) -> Decision:
    raise TypeError(f"no rule for {type(command).__name__}")


@_decide.register
def _register(command: Register, state: State, next_id: NextId, now: datetime) -> Decision:
    # The username's uniqueness is the write model's to enforce, when the account is
    # reserved (the runner refuses the command if it is taken).
    user_id = next_id()
    event = ev.UserRegistered(
        event_id=next_id(),
        occurred_at=now,
        actor_id=user_id,
        user_id=user_id,
        username=command.username,
        display_name=command.display_name,
        bio=command.bio,
    )
    account = NewAccount(user_id, command.username, command.password_hash)
    return Decision(Registered(user_id, command.username), event, Changes(account=account))


def username_taken(username: str) -> DomainError:
    return DomainError(
        Refusal.CONFLICT,
        "username-taken",
        "Username Taken",
        f"the username {username!r} is already taken",
    )


def username_reserved(username: str) -> DomainError:
    return DomainError(
        Refusal.CONFLICT,
        "username-reserved",
        "Username Reserved",
        f"the username {username!r} belonged to an account deleted lately: it is reserved"
        " for a while after the deletion (docs/safety.md)",
    )


@_decide.register
def _delete_account(
    command: DeleteAccount, state: State, next_id: NextId, now: datetime
) -> Decision:
    event = ev.UserDeleted(
        event_id=next_id(), occurred_at=now, actor_id=command.user_id, user_id=command.user_id
    )
    return Decision(
        AccountDeleted(command.user_id), event, Changes(deleted_account=command.user_id)
    )


@_decide.register
def _post(command: PostTweet, state: State, next_id: NextId, now: datetime) -> Decision:
    parent = _live_tweet(state, command.reply_to, "reply_to", "reply-target-missing", "Reply")
    quoted = _live_tweet(state, command.quote_of, "quote_of", "quote-target-missing", "Quote")
    for target, kind in ((parent, "reply to"), (quoted, "quote")):
        if target is not None:
            _not_blocked(state, command.author_id, target.author_id, kind)
    _not_protected(state, command.author_id, quoted, "quoted")
    _check_attachments(state, command)
    mentions = extract_mentions(command.content)
    # A user blocked either way is not notified of the mention (the tweet still names them).
    mentioned_ids = tuple(
        state.usernames[name]
        for name in mentions
        if name in state.usernames
        and not state.blocked_either_way(command.author_id, state.usernames[name])
    )
    tweet_id = next_id()
    # The tweet's time is its id's: created_at and the id's order always agree.
    event = ev.TweetPosted(
        event_id=next_id(),
        occurred_at=id_time(tweet_id),
        actor_id=command.author_id,
        tweet_id=tweet_id,
        author_id=command.author_id,
        content=command.content,
        reply_to=command.reply_to,
        hashtags=extract_hashtags(command.content),
        mentions=mentions,
        mentioned_ids=mentioned_ids,
        reply_to_author_id=parent.author_id if parent else None,
        quote_of=command.quote_of,
        quote_of_author_id=quoted.author_id if quoted else None,
        media_ids=command.media_ids,
        protected=command.author_id in state.protected,
        region=state.regions.get(command.author_id),
    )
    return Decision(
        Posted(tweet_id, event.occurred_at),
        event,
        Changes(
            tweets=(TweetRecord(tweet_id, command.author_id, False),),
            attached=tuple((media_id, tweet_id) for media_id in command.media_ids),
        ),
    )


def _check_attachments(state: State, command: PostTweet) -> None:
    """Each upload a post attaches: the author's, completed, attached to no tweet yet; at
    most MAX_ATTACHMENTS, each once."""
    media_ids = command.media_ids
    if len(media_ids) > MAX_ATTACHMENTS or len(set(media_ids)) != len(media_ids):
        raise DomainError(
            Refusal.INVALID,
            "too-many-attachments",
            "Too Many Attachments",
            f"a tweet attaches at most {MAX_ATTACHMENTS} media items, each once",
        )
    for media_id in media_ids:
        record = own_media(state, command.author_id, media_id)
        if not record.uploaded:
            raise DomainError(
                Refusal.INVALID,
                "media-not-uploaded",
                "Media Not Uploaded",
                f"media {media_id}: complete its upload before attaching it",
            )
        if record.attached_to is not None:
            raise DomainError(
                Refusal.CONFLICT,
                "media-attached",
                "Media Already Attached",
                f"media {media_id} is attached to tweet {record.attached_to}; upload it again",
            )


def _live_tweet(
    state: State, tweet_id: int | None, field: str, problem: str, kind: str
) -> TweetRecord | None:
    """The tweet a post replies to or quotes (None if it names none); refused if it is not
    there or deleted."""
    if tweet_id is None:
        return None
    tweet = state.tweets.get(tweet_id)
    if tweet is None or tweet.deleted:
        raise DomainError(
            Refusal.INVALID,
            problem,
            f"{kind} Target Missing",
            f"{field}: tweet {tweet_id} does not exist",
        )
    return tweet


@_decide.register
def _delete(command: DeleteTweet, state: State, next_id: NextId, now: datetime) -> Decision:
    tweet = state.tweets.get(command.tweet_id)
    if tweet is None:
        raise not_found(f"tweet {command.tweet_id}")
    if tweet.author_id != command.user_id:
        raise DomainError(
            Refusal.FORBIDDEN, "not-your-tweet", "Forbidden", "only the author can delete a tweet"
        )
    if tweet.deleted:  # deleting it again changes nothing
        return Decision(Deleted(command.tweet_id))
    event = ev.TweetDeleted(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.user_id,
        tweet_id=command.tweet_id,
        author_id=command.user_id,
    )
    return Decision(Deleted(command.tweet_id), event, Changes(deleted=(command.tweet_id,)))


def _other_user(state: State, user_id: int, other_id: int, verb: str) -> None:
    """Refuse acting on oneself or on a user who does not exist."""
    if other_id == user_id:
        raise DomainError(
            Refusal.INVALID,
            f"self-{verb}",
            f"Cannot {verb.capitalize()} Yourself",
            f"a user cannot {verb} or un{verb} themselves",
        )
    if other_id not in state.users:
        raise not_found(f"user {other_id}")


def _not_blocked(state: State, user_id: int, other_id: int, action: str) -> None:
    """Refuse `action` towards `other_id` if either of the two blocks the other."""
    if (other_id, user_id) in state.blocks:
        detail = f"user {other_id} blocks you: you cannot {action} them or their tweets"
    elif (user_id, other_id) in state.blocks:
        detail = f"you block user {other_id}: unblock them to {action} them or their tweets"
    else:
        return
    raise DomainError(Refusal.FORBIDDEN, "blocked", "Blocked", detail)


def _not_protected(state: State, user_id: int, tweet: TweetRecord | None, done: str) -> None:
    """Refuse spreading a protected account's tweet (a retweet, a quote) beyond the followers
    it approved, as Twitter does; its author may."""
    if tweet is None or tweet.author_id == user_id or tweet.author_id not in state.protected:
        return
    raise DomainError(
        Refusal.FORBIDDEN,
        "protected-tweet",
        "Protected Tweet",
        f"user {tweet.author_id}'s tweets are protected: they cannot be {done}",
    )


EdgeEvent = type[
    ev.UserFollowed | ev.UserUnfollowed | ev.FollowRequested | ev.FollowRequestDeclined
]


@_decide.register
def _follow(command: SetFollow, state: State, next_id: NextId, now: datetime) -> Decision:
    _other_user(state, command.follower_id, command.followee_id, "follow")
    follower, followee = command.follower_id, command.followee_id
    edge = (follower, followee)
    if command.following:
        _not_blocked(state, follower, followee, "follow")
    # A protected account approves its followers: the follow waits as a request (asking
    # again while it waits records nothing).
    requested = command.following and followee in state.protected
    result = FollowState(followee, command.following and not requested, requested=requested)
    event_type: EdgeEvent
    if requested:
        if edge in state.requests:
            return Decision(result)
        event_type, changes = ev.FollowRequested, Changes(requested=(edge,))
    elif edge in state.requests:
        # A follow (the account is not protected any more) closes a waiting request, and
        # so does an unfollow: it withdraws the request, and ends the follow if there is
        # one (the write model does not know follows: a follower may have asked again).
        # The write model's requests stay what the graph shows.
        event_type = ev.UserFollowed if command.following else ev.UserUnfollowed
        changes = Changes(unrequested=(edge,))
    else:
        # Not deduplicated here: following twice is one follow in every projection.
        event_type = ev.UserFollowed if command.following else ev.UserUnfollowed
        changes = Changes()
    return _edge_decision(result, event_type, follower, edge, changes, next_id, now)


@_decide.register
def _answer_request(
    command: AnswerFollowRequest, state: State, next_id: NextId, now: datetime
) -> Decision:
    owner, requester = command.owner_id, command.requester_id
    edge = (requester, owner)
    if edge not in state.requests:
        raise not_found(f"a follow request from user {requester}")
    event_type = ev.UserFollowed if command.approve else ev.FollowRequestDeclined
    result = FollowRequestAnswered(requester, command.approve)
    return _edge_decision(
        result, event_type, owner, edge, Changes(unrequested=(edge,)), next_id, now
    )


def _edge_decision(
    result: Result,
    event_type: EdgeEvent,
    actor: int,
    edge: tuple[int, int],
    changes: Changes,
    next_id: NextId,
    now: datetime,
) -> Decision:
    """The decision recording `event_type` of a (follower, followee) edge, made by `actor`:
    every event of a pair moves the pair's clock."""
    follower, followee = edge
    event = event_type(
        event_id=next_id(),
        occurred_at=now,
        actor_id=actor,
        follower_id=follower,
        followee_id=followee,
    )
    pair_event = _pair_event(follower, followee, event)
    return Decision(result, event, dataclasses.replace(changes, pair_event=pair_event))


@_decide.register
def _block(command: SetBlock, state: State, next_id: NextId, now: datetime) -> Decision:
    _other_user(state, command.blocker_id, command.blocked_id, "block")
    edge = (command.blocker_id, command.blocked_id)
    result = BlockState(command.blocked_id, command.blocking)
    if (edge in state.blocks) == command.blocking:  # already as asked: nothing to record
        return Decision(result)
    event_type = ev.UserBlocked if command.blocking else ev.UserUnblocked
    event = event_type(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.blocker_id,
        blocker_id=command.blocker_id,
        blocked_id=command.blocked_id,
    )
    if command.blocking:
        # Pending follow requests between the two close with the block.
        reverse = (command.blocked_id, command.blocker_id)
        changes = Changes(
            blocked=(edge,),
            pair_event=_pair_event(command.blocker_id, command.blocked_id, event),
            unrequested=tuple(sorted(state.requests & {edge, reverse})),
        )
    else:
        changes = Changes(
            unblocked=(edge,),
            pair_event=_pair_event(command.blocker_id, command.blocked_id, event),
        )
    return Decision(result, event, changes)


@_decide.register
def _mute(command: SetMute, state: State, next_id: NextId, now: datetime) -> Decision:
    # Mutes are not in the write model (nothing checks them strongly): recorded every time,
    # and muting twice is one mute in every projection. Each moves the pair's clock, so the
    # projections' "latest id wins" is the order they were decided in.
    _other_user(state, command.muter_id, command.muted_id, "mute")
    event_type = ev.UserMuted if command.muting else ev.UserUnmuted
    event = event_type(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.muter_id,
        muter_id=command.muter_id,
        muted_id=command.muted_id,
    )
    changes = Changes(pair_event=_pair_event(command.muter_id, command.muted_id, event))
    return Decision(MuteState(command.muted_id, command.muting), event, changes)


@_decide.register
def _engage(command: SetEngagement, state: State, next_id: NextId, now: datetime) -> Decision:
    tweet = state.tweets.get(command.tweet_id)
    if tweet is None or tweet.deleted:
        raise not_found(f"tweet {command.tweet_id}")
    if command.on:
        _not_blocked(state, command.user_id, tweet.author_id, command.kind)
        if command.kind == SetEngagement.RETWEET:
            _not_protected(state, command.user_id, tweet, "retweeted")
    event_type = _ENGAGEMENT_EVENTS[(command.kind, command.on)]
    fields = {"author_id": tweet.author_id} if "author_id" in event_type.model_fields else {}
    event = event_type(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.user_id,
        tweet_id=command.tweet_id,
        user_id=command.user_id,
        **fields,
    )
    return Decision(EngagementState(command.kind, command.tweet_id, command.on), event)


@_decide.register
def _mark_read(
    command: MarkNotificationsRead, state: State, next_id: NextId, now: datetime
) -> Decision:
    # Without a bound: everything so far (an event id is later than every earlier one).
    event_id = next_id()
    up_to = command.up_to if command.up_to is not None else event_id
    event = ev.NotificationsRead(
        event_id=event_id,
        occurred_at=now,
        actor_id=command.user_id,
        user_id=command.user_id,
        up_to=up_to,
    )
    return Decision(NotificationsMarked(up_to), event)


@_decide.register
def _edit_profile(command: UpdateProfile, state: State, next_id: NextId, now: datetime) -> Decision:
    changed = changed_fields(command.edit, command.current)
    protected = command.edit.protected
    if protected is not None and protected != (command.user_id in state.protected):
        changed = dataclasses.replace(changed, protected=protected)
    else:
        changed = dataclasses.replace(changed, protected=None)
    # The write model's word on protection, which the answer gives (the read model may not
    # have applied the last edit yet).
    now_protected = (
        changed.protected if changed.protected is not None else command.user_id in state.protected
    )
    # A location set anew sets the trends region to what it names (none: no region).
    region = None
    if command.edit.location is not None and command.region != state.regions.get(command.user_id):
        region = (command.user_id, command.region)
    if changed == ProfileFields():  # nothing changes: nothing to record
        return Decision(
            ProfileEdited(command.user_id, changed, now_protected), changes=Changes(region=region)
        )
    event = ev.ProfileUpdated(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.user_id,
        user_id=command.user_id,
        display_name=changed.display_name,
        bio=changed.bio,
        location=changed.location,
        website=changed.website,
        protected=changed.protected,
    )
    protection = None if changed.protected is None else (command.user_id, changed.protected)
    return Decision(
        ProfileEdited(command.user_id, changed, now_protected),
        event,
        Changes(protection=protection, region=region),
    )


def changed_fields(edit: ProfileFields, current: ProfileFields | None) -> ProfileFields:
    """The fields of `edit` that differ from `current` (all it gives, if `current` is None)."""
    if current is None:
        return edit
    return ProfileFields(
        **{
            name: value
            for name, value in vars(edit).items()
            if value is not None and value != getattr(current, name)
        }
    )


@_decide.register
def _start_upload(command: StartUpload, state: State, next_id: NextId, now: datetime) -> Decision:
    # Imported here: Pillow loads only in processes that take uploads.
    from commands.media import declared_refusal

    if refusal := declared_refusal(command.content_type, command.byte_size):
        raise refusal
    media_id = next_id()
    record = MediaRecord(media_id, command.user_id, command.content_type, command.byte_size)
    return Decision(UploadStarted(media_id), changes=Changes(media=(record,)))


@_decide.register
def _complete_upload(
    command: CompleteUpload, state: State, next_id: NextId, now: datetime
) -> Decision:
    from commands.media import arrival_refusal

    record = own_media(state, command.user_id, command.media_id)
    arrived = command.arrived
    if refusal := arrival_refusal(arrived, record.declared_bytes):
        raise refusal
    assert arrived is not None and arrived.media_type is not None  # accepted: it is media
    result = MediaAccepted(
        command.media_id, arrived.media_type, arrived.byte_size, arrived.width, arrived.height
    )
    if record.uploaded:  # completed already: the same answer, no second event
        return Decision(result)
    event = ev.MediaUploaded(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.user_id,
        media_id=command.media_id,
        owner_id=command.user_id,
        media_type=arrived.media_type,
        byte_size=arrived.byte_size,
        width=arrived.width,
        height=arrived.height,
        key=original_key(command.media_id),
    )
    return Decision(result, event, Changes(uploaded=(command.media_id,)))


@_decide.register
def _describe(command: DescribeMedia, state: State, next_id: NextId, now: datetime) -> Decision:
    own_media(state, command.user_id, command.media_id)
    event = ev.MediaDescribed(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.user_id,
        media_id=command.media_id,
        owner_id=command.user_id,
        alt_text=command.alt_text,
    )
    return Decision(MediaDescribedResult(command.media_id, command.alt_text), event)


@_decide.register
def _remove_media(command: RemoveMedia, state: State, next_id: NextId, now: datetime) -> Decision:
    record = state.media.get(command.media_id)
    reason = None if record is None or record.removed else _due(record, command, now)
    if reason is None:
        return Decision(MediaRemoved(command.media_id, False))
    event = ev.MediaDeleted(
        event_id=next_id(),
        occurred_at=now,
        actor_id=command.owner_id,
        media_id=command.media_id,
        owner_id=command.owner_id,
        reason=reason,
    )
    return Decision(
        MediaRemoved(command.media_id, True), event, Changes(removed=(command.media_id,))
    )


def _due(record: MediaRecord, command: RemoveMedia, now: datetime):
    """Why an upload is removed now (MediaDeleted.reason), or None if it is not due."""
    if record.attached_to is None:
        reserved = record.created_at
        if reserved is not None and now - reserved >= timedelta(seconds=command.orphan_seconds):
            return "expired"
    elif record.released_at is not None and now - record.released_at >= timedelta(
        seconds=command.grace_seconds
    ):
        return "tweet-deleted"
    return None


def own_media(state: State, user_id: int, media_id: int) -> MediaRecord:
    """The user's upload `media_id`; refused if there is none (or it is removed), or it is
    someone else's."""
    record = state.media.get(media_id)
    if record is None or record.removed:
        raise not_found(f"media {media_id}")
    if record.owner_id != user_id:
        raise DomainError(
            Refusal.FORBIDDEN,
            "not-your-media",
            "Forbidden",
            "only the uploader can use a media item",
        )
    return record
