"""Request and response bodies of the REST API (never event models)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from schemas.types import Id, IdString, Timestamp, bounded_text

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,15}$")]
DisplayName = Annotated[str, bounded_text(50, single_line=True, not_blank=True)]
Bio = Annotated[str, bounded_text(160)]
Content = Annotated[str, bounded_text(280, not_blank=True)]
# Media per tweet, as on Twitter.
MAX_ATTACHMENTS = 4
# Profile edits: an empty string clears a field (but the display name, which must stay).
BioEdit = Annotated[str, bounded_text(160, may_be_empty=True)]
Location = Annotated[str, bounded_text(30, single_line=True, may_be_empty=True)]
# An http(s) URL in visible ASCII (an international name goes in its punycode form): the
# same pattern in the schema and the check, so clients and fuzzers see exactly the rule.
WEBSITE_PATTERN = (
    r"^(https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?([/?#][!-~]*)?)?$"
)
WEBSITE_MAX_LENGTH = 100


def _check_website(value: str) -> str:
    if len(value) > WEBSITE_MAX_LENGTH:
        raise ValueError(f"must be at most {WEBSITE_MAX_LENGTH} characters, not {len(value)}")
    if not re.fullmatch(WEBSITE_PATTERN, value):
        raise ValueError("must be an http:// or https:// URL (or empty, to clear it)")
    return value


Website = Annotated[
    str,
    AfterValidator(_check_website),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": WEBSITE_MAX_LENGTH,
            "pattern": WEBSITE_PATTERN,
            "examples": ["https://example.com/ada"],
        }
    ),
]
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


class ProfileUpdate(RequestModel):
    """A profile edit: only the fields sent change; null is the same as leaving one out."""

    display_name: DisplayName | None = None
    bio: BioEdit | None = Field(default=None, description="empty to clear")
    location: Location | None = Field(default=None, description="empty to clear")
    website: Website | None = Field(
        default=None, description="an http:// or https:// URL; empty to clear"
    )
    protected: bool | None = Field(
        default=None,
        description="true: your tweets reach only followers you approve (follow requests)",
    )


class UserCreated(BaseModel):
    user_id: Id
    username: str
    access_token: str


class TokenRequest(RequestModel):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class AccountDeletion(RequestModel):
    """Deleting your account: your password confirms it."""

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
    media_ids: list[IdString] = Field(
        default=[],
        max_length=MAX_ATTACHMENTS,
        description="uploads to attach, in the order shown: at most 4, each completed by you "
        "and attached to no other tweet (docs/media.md)",
    )

    @field_validator("media_ids")
    @classmethod
    def _distinct(cls, media_ids: list[int]) -> list[int]:
        if len(set(media_ids)) != len(media_ids):
            raise ValueError("a media item can be attached once")
        return media_ids


class TweetCreated(BaseModel):
    tweet_id: Id
    created_at: Timestamp


class FollowState(BaseModel):
    user_id: Id
    following: bool
    requested: bool = Field(
        default=False, description="a follow request waits for the protected account's approval"
    )


class FollowRequestAnswer(BaseModel):
    user_id: Id
    approved: bool


class BlockState(BaseModel):
    user_id: Id
    blocking: bool


class MuteState(BaseModel):
    user_id: Id
    muting: bool


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


class MentionEntity(BaseModel):
    username: str
    user_id: Id


class Entities(BaseModel):
    hashtags: list[str] = Field(
        description="case-folded, without the '#', in order of first appearance"
    )
    mentions: list[MentionEntity] = Field(
        description="the users the tweet's @names named when it was posted, in order; a name "
        "no account held then stays plain text (not listed)"
    )


class MediaAttachment(BaseModel):
    """An attached upload as clients show it; the URLs are public and never change (cache
    them), and null while the renditions are being made (`processing`)."""

    media_id: Id
    type: Literal["image", "animated_gif", "video"]
    width: int | None = Field(description="of the upload, in pixels (null for a video)")
    height: int | None
    alt_text: str = Field(description="for screen readers; empty when not set")
    processing: bool
    url: str | None = Field(
        description="the image at up to 2,048 px a side (an animated GIF: animated WebP; a "
        "video: the MP4 as uploaded)"
    )
    preview_url: str | None = Field(description="up to 680 px a side, for timelines")
    thumb_url: str | None = Field(description="150 x 150 px, centre-cropped")


class UnavailableTweet(BaseModel):
    """A tweet shown by its id alone: it was deleted (or is not in the read models yet)."""

    tweet_id: Id
    unavailable: Literal[True] = True
    reply_to: Id | None = Field(
        default=None, description="in a conversation: what it replied to, if known"
    )


class EmbeddedTweet(BaseModel):
    """A tweet as it is rendered everywhere: alone, or quoted inside another."""

    tweet_id: Id
    user: UserSummary
    content: str
    like_count: int
    retweet_count: int
    reply_count: int
    quote_count: int
    entities: Entities
    liked_by_me: bool
    retweeted_by_me: bool
    created_at: Timestamp
    reply_to: Id | None = None
    quote_of: Id | None = Field(default=None, description="set on a quote tweet: what it quotes")
    media: list[MediaAttachment] = Field(default=[], description="attached uploads, in order")


class RankReason(BaseModel):
    kind: Literal["liked", "retweeted"]
    user: UserSummary


class TweetPublic(EmbeddedTweet):
    retweeted_by: UserSummary | None = Field(
        default=None, description="set when this entry is a retweet: who retweeted it"
    )
    reason: RankReason | None = Field(
        default=None,
        description="the ranked home timeline only: someone you follow and engage with who "
        "liked or retweeted it (social proof); null when no one did",
    )
    quoted_tweet: EmbeddedTweet | UnavailableTweet | None = Field(
        default=None,
        description="a quote tweet's quoted tweet, one level deep (its own quote is only "
        "named by `quote_of`), or unavailable once deleted",
    )


class TweetContext(BaseModel):
    ancestors: list[TweetPublic | UnavailableTweet] = Field(
        description="what the tweet replies to, from the conversation's root down to its parent"
    )
    tweet: TweetPublic
    descendants: list[TweetPublic | UnavailableTweet] = Field(
        description="the replies below the tweet, depth first (each reply followed by its own "
        "replies, siblings oldest first), one page; a deleted reply with replies below it is "
        "shown unavailable"
    )
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page of descendants; null at the end"
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
    location: str = Field(description="empty when not set")
    website: str = Field(description="empty when not set")
    created_at: Timestamp
    followers_count: int
    following_count: int
    tweet_count: int
    protected: bool = Field(
        default=False, description="its tweets reach only the followers it approves"
    )


class UserSuggestion(UserSummary):
    followed_by_followees: int = Field(
        description="how many of the users you follow follow this one (0: a most-followed user "
        "suggested to fill the page)"
    )
    followers_count: int


class SuggestionPage(BaseModel):
    users: list[UserSuggestion] = Field(description="best first")


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
    latest_count: int = Field(description="those of them in the window's latest slide")
    velocity: float = Field(
        description="how fast the rate of mentions grows: the latest slide's pace against "
        "the rest of the window's, over the latter (docs/trending.md); 0 for a steady tag"
    )


class TrendsPublic(BaseModel):
    window_start: Timestamp | None = Field(
        description="the window counted; null when nothing is trending"
    )
    window_end: Timestamp | None
    region: str = Field(description="`global`, or the region's ISO 3166 country code")
    trends: list[TrendPublic] = Field(
        description="by count, highest first (`sort=velocity`: fastest rising first)"
    )


class NotificationPublic(BaseModel):
    id: str = Field(description="stable: the group's type, target and span")
    type: Literal["mention", "reply", "quote", "like", "retweet", "follow", "follow_request"]
    latest_id: Id = Field(
        description="the newest action's id: orders the list; POST /notifications/read up_to it"
    )
    created_at: Timestamp = Field(description="when the newest action happened")
    read: bool
    actor_count: int = Field(description="how many users did it (likes of one tweet: all)")
    actors: list[UserSummary] = Field(description="the newest of them first (up to 3)")
    tweet: TweetPublic | None = Field(
        description="the tweet it is about: liked, retweeted, or the mention, reply or quote;"
        " null for a follow or a follow request"
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


# ---- media (docs/media.md) ----------------------------------------------------------------

# The largest upload of any type (a video); each type has its own bound (commands/media.py).
MAX_MEDIA_BYTES = 64 * 1024 * 1024
MAX_ALT_TEXT = 1000


class MediaCreate(RequestModel):
    # What an upload may declare itself as; what it *is* is decided by its bytes.
    content_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"]
    byte_size: int = Field(ge=1, le=MAX_MEDIA_BYTES, description="the exact size to upload")


class MediaUploadTicket(BaseModel):
    media_id: Id
    upload_url: str = Field(description="PUT the bytes here, with upload_headers, no token")
    upload_method: Literal["PUT"] = "PUT"
    upload_headers: dict[str, str]
    expires_at: Timestamp


class MediaPublic(BaseModel):
    media_id: Id
    media_type: str = Field(description="what the bytes are, whatever was declared")
    byte_size: int
    width: int | None = None
    height: int | None = None


class MediaDescription(RequestModel):
    alt_text: Annotated[str, bounded_text(MAX_ALT_TEXT, may_be_empty=True)] = Field(
        description="what the image shows, for people who cannot see it; empty removes it"
    )


class MediaDescribedPublic(BaseModel):
    media_id: Id
    alt_text: str
