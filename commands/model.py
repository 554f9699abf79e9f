"""Commands, the state a decision reads, and decisions: plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from schemas.events import Event

if TYPE_CHECKING:
    from commands.media import Arrived


@dataclass(frozen=True)
class TweetRecord:
    """What the write model keeps of a tweet."""

    tweet_id: int
    author_id: int
    deleted: bool


@dataclass(frozen=True)
class MediaRecord:
    """What the write model keeps of an upload: whose it is, what it was declared as,
    whether its bytes were checked (MediaUploaded), the tweet it is attached to, when that
    tweet was deleted (`released_at`) and whether it is removed (MediaDeleted; its row
    leaves once its files are gone)."""

    media_id: int
    owner_id: int
    declared_type: str
    declared_bytes: int
    uploaded: bool = False
    created_at: datetime | None = None  # None: not stored yet
    attached_to: int | None = None
    released_at: datetime | None = None
    removed: bool = False


# ---- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """Something a user asks for. `actor_id` None: nobody is signed in (registration)."""

    @property
    def actor_id(self) -> int | None:
        return None

    @property
    def draws(self) -> str | None:
        """The per-user write limit (api/rate_limits.py) a new event of this command draws
        a token from; None for none: taking something back draws none."""
        return None


@dataclass(frozen=True)
class Register(Command):
    username: str
    display_name: str
    bio: str
    password_hash: str


@dataclass(frozen=True)
class DeleteAccount(Command):
    """Delete the actor's account (its password confirmed by the route): the account is
    marked deleted, its username held, and UserDeleted removes the person from every read
    model (docs/safety.md)."""

    user_id: int

    @property
    def actor_id(self) -> int:
        return self.user_id


@dataclass(frozen=True)
class PostTweet(Command):
    author_id: int
    content: str
    reply_to: int | None = None
    quote_of: int | None = None
    media_ids: tuple[int, ...] = ()

    @property
    def actor_id(self) -> int:
        return self.author_id

    @property
    def draws(self) -> str | None:
        return "tweets"


@dataclass(frozen=True)
class DeleteTweet(Command):
    user_id: int
    tweet_id: int

    @property
    def actor_id(self) -> int:
        return self.user_id


@dataclass(frozen=True)
class SetFollow(Command):
    """Follow (`following` True) or unfollow another user."""

    follower_id: int
    followee_id: int
    following: bool

    @property
    def actor_id(self) -> int:
        return self.follower_id

    @property
    def draws(self) -> str | None:
        return "follows" if self.following else None


@dataclass(frozen=True)
class AnswerFollowRequest(Command):
    """The owner of a protected account approves (a follow) or declines a follow request."""

    owner_id: int
    requester_id: int
    approve: bool

    @property
    def actor_id(self) -> int:
        return self.owner_id


@dataclass(frozen=True)
class SetBlock(Command):
    """Block (`blocking` True) or unblock another user."""

    blocker_id: int
    blocked_id: int
    blocking: bool

    @property
    def actor_id(self) -> int:
        return self.blocker_id

    @property
    def draws(self) -> str | None:
        return "follows" if self.blocking else None


@dataclass(frozen=True)
class SetMute(Command):
    """Mute (`muting` True) or unmute another user."""

    muter_id: int
    muted_id: int
    muting: bool

    @property
    def actor_id(self) -> int:
        return self.muter_id

    @property
    def draws(self) -> str | None:
        return "follows" if self.muting else None


@dataclass(frozen=True)
class SetEngagement(Command):
    """Like or retweet a tweet (`on` True), or take that back."""

    LIKE: ClassVar[str] = "like"
    RETWEET: ClassVar[str] = "retweet"

    kind: str  # LIKE or RETWEET
    user_id: int
    tweet_id: int
    on: bool

    @property
    def actor_id(self) -> int:
        return self.user_id

    @property
    def draws(self) -> str | None:
        # A retweet is a tweet of the user's, as far as the limits go.
        if not self.on:
            return None
        return "likes" if self.kind == self.LIKE else "tweets"


@dataclass(frozen=True)
class MarkNotificationsRead(Command):
    """Mark the user's notifications read up to a notification's `latest_id` (None: all of
    them, up to now)."""

    user_id: int
    up_to: int | None = None

    @property
    def actor_id(self) -> int:
        return self.user_id


@dataclass(frozen=True)
class StartUpload(Command):
    """Reserve a media id for an upload the user is about to make (no event: nothing is
    uploaded yet, and a reservation never completed expires)."""

    user_id: int
    content_type: str
    byte_size: int

    @property
    def actor_id(self) -> int:
        return self.user_id


@dataclass(frozen=True)
class CompleteUpload(Command):
    """Accept the bytes that arrived for an upload, as `inspect` found them (None: none)."""

    user_id: int
    media_id: int
    arrived: Arrived | None

    @property
    def actor_id(self) -> int:
        return self.user_id


@dataclass(frozen=True)
class DescribeMedia(Command):
    """Set (or, with "", remove) the alt text of one of the user's uploads."""

    user_id: int
    media_id: int
    alt_text: str

    @property
    def actor_id(self) -> int:
        return self.user_id


@dataclass(frozen=True)
class RemoveMedia(Command):
    """Remove an upload that is due: never attached for `orphan_seconds` since it was
    reserved, or its tweet deleted `grace_seconds` ago. Run by the media sweeper
    (commands/media_sweeper.py) as the owner; an upload no longer due is left alone."""

    owner_id: int
    media_id: int
    orphan_seconds: float
    grace_seconds: float

    @property
    def actor_id(self) -> int:
        return self.owner_id


@dataclass(frozen=True)
class ProfileFields:
    """The editable fields of a profile; in an edit, None leaves a field as it is."""

    display_name: str | None = None
    bio: str | None = None
    location: str | None = None
    website: str | None = None
    protected: bool | None = None


@dataclass(frozen=True)
class UpdateProfile(Command):
    """Change some of the actor's profile fields. `current` is the profile as the reader's
    read model holds it once the actor's own writes are applied there, or None when that is
    not known (the wait ran out): every field given then counts as a change. Protection is
    compared with the write model's, which holds it strongly."""

    user_id: int
    edit: ProfileFields
    current: ProfileFields | None
    # The trends region the edit's location names (schemas/regions.py), when it sets one.
    region: str | None = None

    @property
    def actor_id(self) -> int:
        return self.user_id


# ---- state and decisions --------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What a decision reads from the write model: these accounts (by id, and by lower-cased
    username) and tweets (locked until the transaction ends, if `lock_tweets`)."""

    users: frozenset[int] = frozenset()
    tweets: frozenset[int] = frozenset()
    lock_tweets: bool = False
    usernames: frozenset[str] = frozenset()
    media: frozenset[int] = frozenset()  # always locked
    # The blocks among the users the decision names (by id, by username, or as the tweets'
    # authors).
    blocks: bool = False
    # Two users whose follows, follow requests and blocks must be decided one at a time, in
    # the order of their event ids (locked; `State.pair_clock` is the pair's last such event,
    # `State.requests` their pending follow requests).
    pair: tuple[int, int] | None = None
    # The user whose key seals the decision's event (schemas/sealing.py), read with the rest.
    key_of: int | None = None


@dataclass(frozen=True)
class State:
    """The write model as a decision sees it: of the accounts and tweets asked for, those
    that exist."""

    users: frozenset[int] = frozenset()
    # Of `users` and the authors of `tweets`, the protected accounts.
    protected: frozenset[int] = frozenset()
    # Of `users`, the trends region of those that have one (schemas/regions.py).
    regions: Mapping[int, str] = field(default_factory=dict)
    tweets: Mapping[int, TweetRecord] = field(default_factory=dict)
    # Lower-cased username -> user id, of the usernames asked for that an account holds.
    usernames: Mapping[str, int] = field(default_factory=dict)
    media: Mapping[int, MediaRecord] = field(default_factory=dict)
    # (blocker, blocked) of the blocks between the actor and the users asked for.
    blocks: frozenset[tuple[int, int]] = frozenset()
    # The last follow, request or block event of `Needs.pair` (0: none): the decision's ids
    # are later.
    pair_clock: int = 0
    # (follower, followee) of the pair's pending follow requests.
    requests: frozenset[tuple[int, int]] = frozenset()
    # The key of `Needs.key_of` (None: that account has none yet).
    key: bytes | None = None

    def blocked_either_way(self, user_id: int, other_id: int) -> bool:
        return (user_id, other_id) in self.blocks or (other_id, user_id) in self.blocks


@dataclass(frozen=True)
class NewAccount:
    user_id: int
    username: str
    password_hash: str


@dataclass(frozen=True)
class Changes:
    """The write model's rows a decision adds or changes (beside the event's outbox row)."""

    account: NewAccount | None = None  # reserved only if the username is free
    tweets: tuple[TweetRecord, ...] = ()
    deleted: tuple[int, ...] = ()
    media: tuple[MediaRecord, ...] = ()  # new uploads
    uploaded: tuple[int, ...] = ()  # media whose bytes were accepted
    attached: tuple[tuple[int, int], ...] = ()  # (media, tweet) attachments
    removed: tuple[int, ...] = ()  # media removed (their files go next)
    blocked: tuple[tuple[int, int], ...] = ()  # (blocker, blocked) blocks made
    unblocked: tuple[tuple[int, int], ...] = ()  # and lifted
    pair_event: tuple[tuple[int, int], int] | None = None  # (pair, event id): its new clock
    requested: tuple[tuple[int, int], ...] = ()  # (follower, followee) requests made
    unrequested: tuple[tuple[int, int], ...] = ()  # and closed
    protection: tuple[int, bool] | None = None  # (user, protected) when it changes
    region: tuple[int, str | None] | None = None  # (user, trends region) when it changes
    deleted_account: int | None = None  # the account deleted


# ---- results: what the caller is told -------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    user_id: int
    username: str


@dataclass(frozen=True)
class AccountDeleted:
    user_id: int


@dataclass(frozen=True)
class Posted:
    tweet_id: int
    created_at: datetime


@dataclass(frozen=True)
class Deleted:
    tweet_id: int


@dataclass(frozen=True)
class FollowState:
    user_id: int
    following: bool
    requested: bool = False  # a follow request waits for a protected account's approval


@dataclass(frozen=True)
class FollowRequestAnswered:
    user_id: int
    approved: bool


@dataclass(frozen=True)
class BlockState:
    user_id: int
    blocking: bool


@dataclass(frozen=True)
class MuteState:
    user_id: int
    muting: bool


@dataclass(frozen=True)
class EngagementState:
    kind: str
    tweet_id: int
    on: bool


@dataclass(frozen=True)
class NotificationsMarked:
    up_to: int


@dataclass(frozen=True)
class ProfileEdited:
    user_id: int
    changed: ProfileFields  # the fields that changed (None: unchanged); all None: no event
    protected: bool = False  # whether the account is protected after the edit


@dataclass(frozen=True)
class UploadStarted:
    media_id: int


@dataclass(frozen=True)
class MediaAccepted:
    media_id: int
    media_type: str
    byte_size: int
    width: int | None
    height: int | None


@dataclass(frozen=True)
class MediaDescribedResult:
    media_id: int
    alt_text: str


@dataclass(frozen=True)
class MediaRemoved:
    media_id: int
    removed: bool  # False: it was not due (or gone already)


Result = (
    Registered
    | AccountDeleted
    | Posted
    | Deleted
    | FollowState
    | FollowRequestAnswered
    | BlockState
    | MuteState
    | EngagementState
    | NotificationsMarked
    | ProfileEdited
    | UploadStarted
    | MediaAccepted
    | MediaDescribedResult
    | MediaRemoved
)


@dataclass(frozen=True)
class Decision:
    """A command decided: its result, the event to record (None: nothing changes, as for
    deleting a tweet deleted already) and the write model's changes."""

    result: Result
    event: Event | None = None
    changes: Changes = Changes()
