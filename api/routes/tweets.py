"""Posting and deleting tweets, likes and retweets."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter

from api.commands import Outcome
from api.deps import CommandDep, CurrentUser, TweetIdPath
from api.problems import ProblemError, not_found
from api.routes import respond
from schemas import events as ev
from schemas.api import LikeState, Problem, RetweetState, TweetCreate, TweetCreated
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

    answer = await command.run(decide, user.user_id)
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
                           state: type[LikeState] | type[RetweetState], flag: str) -> None:
    """POST and DELETE /tweets/{id}/<action>: record the engagement, or take it back."""

    def endpoint(event_type: type[ev.Event], value: bool, summary: str):
        async def handle(tweet_id: TweetIdPath, user: CurrentUser, command: CommandDep):
            decide = _engagement_command(tweet_id, user, event_type,
                                         state(tweet_id=tweet_id, **{flag: value}))
            return respond(await command.run(decide, user.user_id))

        handle.__doc__ = summary
        return handle

    path = f"/{{tweet_id}}/{action}"
    router.add_api_route(path, endpoint(done, True, f"{action.capitalize()} a tweet (idempotent)."),
                         methods=["POST"], response_model=state, responses=_ERRORS,
                         name=action)
    router.add_api_route(path, endpoint(undone, False, f"Undo a {action} (idempotent)."),
                         methods=["DELETE"], response_model=state, responses=_ERRORS,
                         name=f"un{action}")


_add_engagement_routes("like", ev.TweetLiked, ev.TweetUnliked, LikeState, "liked")
_add_engagement_routes("retweet", ev.TweetRetweeted, ev.TweetUnretweeted, RetweetState, "retweeted")
