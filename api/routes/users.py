"""Registration, and following other users."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import (
    ClientAddress,
    CurrentUser,
    Cursor,
    Limit,
    Reader,
    RunCommandDep,
    ServicesDep,
    Since,
    UserIdPath,
)
from api.problems import not_found
from api.routes import hydrated_user_page, page, problem_responses, respond
from commands.model import FollowState as FollowResult
from commands.model import Register, Registered, SetFollow
from commands.runner import Answer
from schemas.api import (
    FollowState,
    TweetPage,
    UserCreate,
    UserCreated,
    UserPage,
    UserPublic,
)

router = APIRouter(prefix="/api/v1/users", tags=["users"])
_ERRORS = problem_responses(400, 401, 404, 409, 413, 415, 422, 503)
# A follow of a user blocked either way is refused (docs/safety.md).
_FOLLOW_ERRORS = problem_responses(400, 401, 403, 404, 413, 415, 422, 503)


@router.post("", status_code=201, response_model=UserCreated, responses=_ERRORS)
async def register(
    body: UserCreate, services: ServicesDep, run: RunCommandDep, address: ClientAddress
):
    """Create an account; the answer carries an access token. 429 past the sign-ups an
    address may start in an hour."""
    # Before the hash: past the limit, a flood costs no password hash.
    quota = await services.limits.take("signups", address)
    password_hash = await services.passwords.hash(body.password)

    def render(result: Registered) -> Answer:
        token = services.tokens.issue(result.user_id, result.username)
        created = UserCreated(user_id=result.user_id, username=result.username, access_token=token)
        return Answer(201, created.model_dump(mode="json"))

    answer = await run(
        Register(body.username, body.display_name, body.bio or "", password_hash), render
    )
    return respond(
        answer,
        {
            "Location": f"/api/v1/users/{answer.body['user_id']}",
            **(quota.headers() if quota is not None else {}),
        },
    )


def _follow_state(result: FollowResult) -> Answer:
    state = FollowState(
        user_id=result.user_id, following=result.following, requested=result.requested
    )
    return Answer(200, state.model_dump(mode="json"))


@router.post("/{user_id}/follow", response_model=FollowState, responses=_FOLLOW_ERRORS)
async def follow(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Follow a user (idempotent). A protected account approves its followers: the answer
    then says `requested` (a follow request waits), and `DELETE` withdraws it."""
    return respond(await run(SetFollow(user.user_id, user_id, True), _follow_state))


@router.delete("/{user_id}/follow", response_model=FollowState, responses=_ERRORS)
async def unfollow(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Stop following a user (idempotent)."""
    return respond(await run(SetFollow(user.user_id, user_id, False), _follow_state))


_READ_ERRORS = problem_responses(401, 403, 404, 422, 503)


@router.get("/{user_id}", response_model=UserPublic, responses=_READ_ERRORS)
async def profile(user_id: UserIdPath, viewer: Reader, services: ServicesDep):
    """A user's profile with follower, following and tweet counts (a protected account's
    too); 403 `blocked` where a block stands between you and the user."""
    await services.timelines.hydrator.require_visible(
        viewer.user_id if viewer else None, user_id, tweets=False
    )
    found = (await services.models.graph.profiles([user_id])).get(user_id)
    if found is None:
        raise not_found(f"user {user_id}")
    return UserPublic.model_validate(found, from_attributes=True)


@router.get("/{user_id}/tweets", response_model=TweetPage, responses=_READ_ERRORS)
async def user_timeline(
    request: Request,
    user_id: UserIdPath,
    viewer: Reader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
    since: Since = None,
):
    """A user's tweets and retweets, newest first. With `since` (a page's `prev_cursor`),
    only what is newer than that page. 403 `blocked` where a block stands between you and
    the user, `protected` for a protected account you do not follow."""
    reader = viewer.user_id if viewer else None
    await services.timelines.hydrator.require_visible(reader, user_id)
    found = await services.timelines.user(user_id, reader, cursor, limit, since)
    return page(
        request,
        found.tweets,
        found.next_sort_key,
        first_sort_key=found.first_sort_key,
        since=since,
        newer=True,
    )


async def _user_page(
    request: Request, services, viewer, user_id: int, cursor: int | None, limit: int, fetch
) -> Response:
    reader = viewer.user_id if viewer else None
    # Through the user cache: this runs on every graph-list read.
    await services.timelines.hydrator.require_visible(reader, user_id, tweets=False)
    ids = await fetch(user_id, cursor, limit)
    return await hydrated_user_page(request, services, ids, limit, viewer=reader)


@router.get("/{user_id}/followers", response_model=UserPage, responses=_READ_ERRORS)
async def followers(
    request: Request,
    user_id: UserIdPath,
    viewer: Reader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Who follows a user (but users a block stands between you and)."""
    return await _user_page(
        request, services, viewer, user_id, cursor, limit, services.models.graph.follower_page
    )


@router.get("/{user_id}/following", response_model=UserPage, responses=_READ_ERRORS)
async def following(
    request: Request,
    user_id: UserIdPath,
    viewer: Reader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Whom a user follows (but users a block stands between you and)."""
    return await _user_page(
        request, services, viewer, user_id, cursor, limit, services.models.graph.following_page
    )
