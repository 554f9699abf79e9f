"""Request and response bodies of the REST API (never event models)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.types import Id, IdString, Timestamp, bounded_text

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,15}$")]
DisplayName = Annotated[str, bounded_text(50, single_line=True, not_blank=True)]
Bio = Annotated[str, bounded_text(160)]
Content = Annotated[str, bounded_text(280, not_blank=True)]
# Passwords are hashed, never normalised or stored; the cap bounds the hashing work.
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class RequestModel(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)


class UserCreate(RequestModel):
    username: Username
    display_name: DisplayName
    password: Password
    bio: Bio | None = None


class UserCreated(BaseModel):
    user_id: Id
    username: str
    access_token: str


class TokenRequest(RequestModel):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class TweetCreate(RequestModel):
    content: Content
    reply_to: IdString | None = Field(
        default=None, description="id of the tweet this one replies to"
    )
    quote_of: IdString | None = Field(
        default=None, description="id of the tweet this one quotes (a quote tweet)"
    )


class TweetCreated(BaseModel):
    tweet_id: Id
    created_at: Timestamp


class FollowState(BaseModel):
    user_id: Id
    following: bool


class LikeState(BaseModel):
    tweet_id: Id
    liked: bool


class RetweetState(BaseModel):
    tweet_id: Id
    retweeted: bool


class Problem(BaseModel):
    """An RFC 9457 problem detail, served as application/problem+json."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict] | None = None


class UserSummary(BaseModel):
    id: Id
    username: str
    display_name: str


class TweetPublic(BaseModel):
    tweet_id: Id
    user: UserSummary
    content: str
    like_count: int
    retweet_count: int
    reply_count: int
    liked_by_me: bool
    retweeted_by_me: bool
    created_at: Timestamp
    reply_to: Id | None = None
    retweeted_by: UserSummary | None = Field(
        default=None, description="set when this entry is a retweet: who retweeted it"
    )


class TweetPage(BaseModel):
    tweets: list[TweetPublic]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )
    prev_cursor: str | None = Field(
        default=None,
        description="timelines only: pass as `since` for what is newer than this page (pull to "
        "refresh); null on an empty page without `since`",
    )


class UserPublic(BaseModel):
    user_id: Id
    username: str
    display_name: str
    bio: str
    created_at: Timestamp
    followers_count: int
    following_count: int
    tweet_count: int


class UserPage(BaseModel):
    users: list[UserSummary]
    next_cursor: str | None


class LikesPublic(BaseModel):
    tweet_id: Id
    like_count: int
    first_likers: list[UserSummary]


class TrendPublic(BaseModel):
    hashtag: str = Field(description="case-folded, without the '#'")
    rank: int
    count: int = Field(description="tweets with this hashtag in the window")
    previous_count: int = Field(description="the same in the window one slide earlier")
    velocity: float = Field(
        description="growth against the previous window: (count - previous_count) / "
        "max(previous_count, 1)"
    )


class TrendsPublic(BaseModel):
    window_start: Timestamp | None = Field(
        description="the window counted; null when nothing is trending"
    )
    window_end: Timestamp | None
    trends: list[TrendPublic] = Field(description="by count, highest first")


class NotificationPublic(BaseModel):
    id: str = Field(description="stable: the group's type, target and span")
    type: Literal["mention", "reply", "quote", "like", "retweet", "follow"]
    latest_id: Id = Field(
        description="the newest action's id: orders the list; POST /notifications/read up_to it"
    )
    created_at: Timestamp = Field(description="when the newest action happened")
    read: bool
    actor_count: int = Field(description="how many users did it (likes of one tweet: all)")
    actors: list[UserSummary] = Field(description="the newest of them first (up to 3)")
    tweet: TweetPublic | None = Field(
        description="the tweet it is about: liked, retweeted, or the mention, reply or quote;"
        " null for a follow"
    )


class NotificationPage(BaseModel):
    notifications: list[NotificationPublic]
    next_cursor: str | None


class UnreadCount(BaseModel):
    unread_count: int


class NotificationsReadRequest(RequestModel):
    up_to: IdString | None = Field(
        default=None,
        description="a notification's latest_id: it and every older one are read (default:"
        " every notification so far)",
    )


class NotificationsReadState(BaseModel):
    up_to: Id
