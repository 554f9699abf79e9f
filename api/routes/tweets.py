"""Posting and deleting tweets, likes and retweets; reading tweets and their conversations."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.conversations import conversation
from api.deps import CurrentUser, Cursor, Limit, Reader, RunCommandDep, ServicesDep, TweetIdPath
from api.problems import not_found
from api.routes import json_body, page, problem_responses, respond
from commands.model import DeleteTweet, EngagementState, Posted, PostTweet, SetEngagement
from commands.runner import Answer
from projections.timeline_entries import Entry
from schemas.api import (
    LikesPublic,
    LikeState,
    RetweetState,
    TweetContext,
    TweetCreate,
    TweetCreated,
    TweetPage,
    TweetPublic,
)

router = APIRouter(prefix="/api/v1/tweets", tags=["tweets"])
_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503)


@router.post("", status_code=201, response_model=TweetCreated, responses=_ERRORS)
async def post_tweet(body: TweetCreate, user: CurrentUser, run: RunCommandDep):
    """Post a tweet, a reply with `reply_to`, or a quote tweet with `quote_of`, with up to 4
    of your completed uploads (`media_ids`). Mentions (`@username`) of existing users are
    resolved when the tweet is posted."""
    command = PostTweet(
        user.user_id, body.content, body.reply_to, body.quote_of, tuple(body.media_ids)
    )
    answer = await run(command, _posted)
    return respond(answer, {"Location": f"/api/v1/tweets/{answer.body['tweet_id']}"})


def _posted(result: Posted) -> Answer:
    created = TweetCreated(tweet_id=result.tweet_id, created_at=result.created_at)
    return Answer(201, created.model_dump(mode="json"))


@router.delete("/{tweet_id}", status_code=204, responses=_ERRORS)
async def delete_tweet(tweet_id: TweetIdPath, user: CurrentUser, run: RunCommandDep):
    """Delete one of your own tweets (deleting it again changes nothing)."""
    return respond(await run(DeleteTweet(user.user_id, tweet_id), lambda _: Answer(204, None)))


def _add_engagement_routes(
    kind: str, state: type[LikeState] | type[RetweetState], flag: str
) -> None:
    """POST and DELETE /tweets/{id}/<kind>: record the engagement, or take it back."""

    def render(result: EngagementState) -> Answer:
        body = state(tweet_id=result.tweet_id, **{flag: result.on})
        return Answer(200, body.model_dump(mode="json"))

    def endpoint(on: bool, summary: str):
        async def handle(tweet_id: TweetIdPath, user: CurrentUser, run: RunCommandDep):
            return respond(await run(SetEngagement(kind, user.user_id, tweet_id, on), render))

        handle.__doc__ = summary
        return handle

    path = f"/{{tweet_id}}/{kind}"
    router.add_api_route(
        path,
        endpoint(True, f"{kind.capitalize()} a tweet (idempotent)."),
        methods=["POST"],
        response_model=state,
        responses=_ERRORS,
        name=kind,
    )
    router.add_api_route(
        path,
        endpoint(False, f"Undo a {kind} (idempotent)."),
        methods=["DELETE"],
        response_model=state,
        responses=_ERRORS,
        name=f"un{kind}",
    )


_add_engagement_routes(SetEngagement.LIKE, LikeState, "liked")
_add_engagement_routes(SetEngagement.RETWEET, RetweetState, "retweeted")


_READ_ERRORS = problem_responses(401, 403, 404, 422, 503)


@router.get("/{tweet_id}", response_model=TweetPublic, responses=_READ_ERRORS)
async def get_tweet(tweet_id: TweetIdPath, viewer: Reader, services: ServicesDep):
    """One tweet with its counts. 403 `blocked` where a block stands between you and its
    author, `protected` for a protected account's tweet you do not follow."""
    reader = viewer.user_id if viewer else None
    tweets = await _visible_tweet(services, reader, tweet_id)
    rendered = await services.timelines.hydrator.render([Entry(tweet_id, tweet_id)], reader, tweets)
    if not rendered:
        raise not_found(f"tweet {tweet_id}")
    return json_body(rendered[0])


async def _visible_tweet(services, viewer: int | None, tweet_id: int) -> dict:
    """The live tweet (by id, as Hydrator.tweets gives it), if the viewer may see its
    author's tweets: else 404, or 403 saying why."""
    hydrator = services.timelines.hydrator
    tweets = await hydrator.tweets([tweet_id])
    if tweet_id not in tweets:
        raise not_found(f"tweet {tweet_id}")
    await hydrator.require_visible(viewer, tweets[tweet_id].author_id)
    return tweets


@router.get("/{tweet_id}/replies", response_model=TweetPage, responses=_READ_ERRORS)
async def replies(
    request: Request,
    tweet_id: TweetIdPath,
    viewer: Reader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Direct replies to a tweet, oldest first (the whole thread: `/context`)."""
    read = services.models.tweets.replies
    return await _linked_page(request, services, viewer, tweet_id, read, cursor, limit)


@router.get("/{tweet_id}/quotes", response_model=TweetPage, responses=_READ_ERRORS)
async def quotes(
    request: Request,
    tweet_id: TweetIdPath,
    viewer: Reader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Quote tweets of a tweet, oldest first."""
    read = services.models.tweets.quotes
    return await _linked_page(request, services, viewer, tweet_id, read, cursor, limit)


async def _linked_page(request, services, viewer, tweet_id: int, read, cursor, limit: int):
    """A page of the live tweets that `read` finds linked to a live tweet (its replies or
    quotes), but those of users the viewer may not see (a short page, then)."""
    reader = viewer.user_id if viewer else None
    await _visible_tweet(services, reader, tweet_id)
    found = await read(tweet_id, cursor, limit)
    rendered = await services.timelines.hydrator.render(
        [Entry(t.tweet_id, t.tweet_id) for t in found], reader
    )
    return page(request, rendered, found[-1].tweet_id if len(found) == limit else None)


@router.get("/{tweet_id}/context", response_model=TweetContext, responses=_READ_ERRORS)
async def context(
    tweet_id: TweetIdPath,
    viewer: Reader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """A tweet's conversation: its ancestors from the root down to its parent, the tweet, and
    its descendants depth first (each reply followed by its own replies, siblings oldest
    first), paged by `cursor`; deleted tweets in the chain, and tweets of users you may not
    see, are shown unavailable among the ancestors and left out of the descendants."""
    reader = viewer.user_id if viewer else None
    await _visible_tweet(services, reader, tweet_id)
    found = await conversation(
        services.models, services.timelines.hydrator, tweet_id, reader, cursor, limit
    )
    if found is None:
        raise not_found(f"tweet {tweet_id}")
    return json_body(found)


@router.get("/{tweet_id}/likes", response_model=LikesPublic, responses=_READ_ERRORS)
async def likes(tweet_id: TweetIdPath, viewer: Reader, services: ServicesDep, limit: Limit = 10):
    """How many like a tweet, and the first to like it (but users a block stands between
    you and)."""
    reader = viewer.user_id if viewer else None
    tweet = (await _visible_tweet(services, reader, tweet_id))[tweet_id]
    assert tweet.counts is not None  # Hydrator.tweets counts every tweet it returns
    likers = await services.models.engagements.likers(tweet_id, limit)
    users = await services.timelines.hydrator.listed(likers, reader)
    return {
        "tweet_id": str(tweet_id),
        "like_count": tweet.counts.likes,
        "first_likers": [users[i] for i in likers if i in users],
    }
