"""Posting and deleting tweets, likes and retweets."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter

from api.commands import Outcome
from api.deps import CommandDep, CurrentUser, Cursor, Limit, Reader, ServicesDep, TweetIdPath
from api.problems import ProblemError, not_found
from api.routes import json_body, page, respond
from projections.timeline_entries import Entry
from schemas import events as ev
from schemas.api import (LikesPublic, LikeState, Problem, RetweetState, TweetCreate, TweetCreated,
                         TweetPage, TweetPublic)
from schemas.entities import extract_hashtags, extract_mentions
from streams.ids import id_time

router = APIRouter(prefix="/api/v1/tweets", tags=["tweets"])
_ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 404, 413, 415, 422, 503)}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@router.post("", status_code=201, response_model=TweetCreated, responses=_ERRORS)
async def post_tweet(body: TweetCreate, user: CurrentUser, command: CommandDep):
    """Post a tweet, or a reply with `reply_to`."""

    async def decide(tx, ids) -> Outcome:
        if body.reply_to is not None:
            parent = await tx.tweet(body.reply_to)
            if parent is None or parent.deleted:
                raise ProblemError(422, "reply-target-missing", "Reply Target Missing",
                                   f"reply_to: tweet {body.reply_to} does not exist")
        tweet_id = ids.next_id()
        await tx.record_tweet(tweet_id, user.user_id)
        event = ev.TweetPosted(
            event_id=ids.next_id(), occurred_at=id_time(tweet_id), actor_id=user.user_id,
            tweet_id=tweet_id, author_id=user.user_id, content=body.content,
            reply_to=body.reply_to, hashtags=extract_hashtags(body.content),
            mentions=extract_mentions(body.content))
        created = TweetCreated(tweet_id=tweet_id, created_at=event.occurred_at)
        return Outcome(201, created.model_dump(mode="json"), event)

    answer = await command.run(decide, user.user_id, rate_limit="tweets")
    return respond(answer, {"Location": f"/api/v1/tweets/{answer.body['tweet_id']}"})


@router.delete("/{tweet_id}", status_code=204, responses=_ERRORS)
async def delete_tweet(tweet_id: TweetIdPath, user: CurrentUser, command: CommandDep):
    """Delete one of your own tweets (deleting it again changes nothing)."""

    async def decide(tx, ids) -> Outcome:
        tweet = await tx.tweet(tweet_id, for_update=True)
        if tweet is None:
            raise not_found(f"tweet {tweet_id}")
        if tweet.author_id != user.user_id:
            raise ProblemError(403, "not-your-tweet", "Forbidden",
                               "only the author can delete a tweet")
        if tweet.deleted:
            return Outcome(204, None)
        await tx.mark_tweet_deleted(tweet_id)
        event = ev.TweetDeleted(event_id=ids.next_id(), occurred_at=_now(),
                                actor_id=user.user_id, tweet_id=tweet_id,
                                author_id=user.user_id)
        return Outcome(204, None, event)

    return respond(await command.run(decide, user.user_id))


def _engagement_command(tweet_id: int, user: CurrentUser, event_type: type[ev.Event],
                        state: LikeState | RetweetState):
    async def decide(tx, ids) -> Outcome:
        tweet = await tx.tweet(tweet_id)
        if tweet is None or tweet.deleted:
            raise not_found(f"tweet {tweet_id}")
        fields = {"author_id": tweet.author_id} if "author_id" in event_type.model_fields else {}
        event = event_type(event_id=ids.next_id(), occurred_at=_now(), actor_id=user.user_id,
                           tweet_id=tweet_id, user_id=user.user_id, **fields)
        return Outcome(200, state.model_dump(mode="json"), event)

    return decide


def _add_engagement_routes(action: str, done: type[ev.Event], undone: type[ev.Event],
                           state: type[LikeState] | type[RetweetState], flag: str,
                           rate_limit: str) -> None:
    """POST and DELETE /tweets/{id}/<action>: record the engagement (within the user's
    `rate_limit`), or take it back."""

    def endpoint(event_type: type[ev.Event], value: bool, summary: str):
        async def handle(tweet_id: TweetIdPath, user: CurrentUser, command: CommandDep):
            decide = _engagement_command(tweet_id, user, event_type,
                                         state(tweet_id=tweet_id, **{flag: value}))
            return respond(await command.run(decide, user.user_id,
                                             rate_limit=rate_limit if value else None))

        handle.__doc__ = summary
        return handle

    path = f"/{{tweet_id}}/{action}"
    router.add_api_route(path, endpoint(done, True, f"{action.capitalize()} a tweet (idempotent)."),
                         methods=["POST"], response_model=state, responses=_ERRORS,
                         name=action)
    router.add_api_route(path, endpoint(undone, False, f"Undo a {action} (idempotent)."),
                         methods=["DELETE"], response_model=state, responses=_ERRORS,
                         name=f"un{action}")


_add_engagement_routes("like", ev.TweetLiked, ev.TweetUnliked, LikeState, "liked", "likes")
# A retweet is a tweet of the user's, as far as the limits go.
_add_engagement_routes("retweet", ev.TweetRetweeted, ev.TweetUnretweeted, RetweetState,
                       "retweeted", "tweets")


_READ_ERRORS = {code: {"model": Problem} for code in (401, 404, 422, 503)}


@router.get("/{tweet_id}", response_model=TweetPublic, responses=_READ_ERRORS)
async def get_tweet(tweet_id: TweetIdPath, viewer: Reader, services: ServicesDep):
    """One tweet with its counts."""
    rendered = await services.timelines.hydrator.render(
        [Entry(tweet_id, tweet_id)], viewer.user_id if viewer else None)
    if not rendered:
        raise not_found(f"tweet {tweet_id}")
    return json_body(rendered[0])


@router.get("/{tweet_id}/replies", response_model=TweetPage, responses=_READ_ERRORS)
async def replies(tweet_id: TweetIdPath, viewer: Reader, services: ServicesDep,
                  cursor: Cursor = None, limit: Limit = 20):
    """Replies to a tweet, oldest first."""
    if not await services.timelines.hydrator.tweets([tweet_id]):
        raise not_found(f"tweet {tweet_id}")
    found = await services.models.tweets.replies(tweet_id, cursor, limit)
    rendered = await services.timelines.hydrator.render(
        [Entry(t.tweet_id, t.tweet_id) for t in found], viewer.user_id if viewer else None)
    return page(rendered, found[-1].tweet_id if len(found) == limit else None)


@router.get("/{tweet_id}/likes", response_model=LikesPublic, responses=_READ_ERRORS)
async def likes(tweet_id: TweetIdPath, _: Reader, services: ServicesDep,
                limit: Limit = 10):
    """How many like a tweet, and the first to like it."""
    hydrator = services.timelines.hydrator
    tweet = (await hydrator.tweets([tweet_id])).get(tweet_id)
    if tweet is None:
        raise not_found(f"tweet {tweet_id}")
    likers = await services.models.engagements.likers(tweet_id, limit)
    users = await hydrator.users(likers)
    return {"tweet_id": str(tweet_id), "like_count": tweet.counts.likes,
            "first_likers": [users[i] for i in likers if i in users]}
