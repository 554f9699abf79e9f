"""People: your own profile and its edits, lookup by username, user search, who to follow.

Registered before api/routes/users.py, whose `/{user_id}` would otherwise take `/me`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.consistency import wait_for_own_writes
from api.deps import (
    ClientAddress,
    CurrentUser,
    Limit,
    Reader,
    RunCommandDep,
    ServicesDep,
    SignedInReader,
    UsernamePath,
)
from api.problems import ProblemError, not_found
from api.routes import json_body, problem_responses, respond, user_page
from commands.model import DeleteAccount, ProfileEdited, ProfileFields, UpdateProfile
from commands.runner import Answer
from projections.graph import Profile
from projections.search_query import SearchQueryError
from projections.user_search import MAX_QUERY_LENGTH, find_users, parse_user_query
from schemas.api import AccountDeletion, ProfileUpdate, SuggestionPage, UserPage, UserPublic
from schemas.regions import region_of

router = APIRouter(prefix="/api/v1/users", tags=["users"])
_READ_ERRORS = problem_responses(401, 404, 422, 503)


@router.get("/me", response_model=UserPublic, responses=_READ_ERRORS)
async def my_profile(user: SignedInReader, services: ServicesDep):
    """Your own profile, with your edits so far."""
    return _public(await _profile(services, user.user_id))


@router.patch(
    "/me", response_model=UserPublic, responses=problem_responses(400, 401, 413, 415, 422, 503)
)
async def edit_profile(
    body: ProfileUpdate, user: CurrentUser, services: ServicesDep, run: RunCommandDep
):
    """Change the fields sent (an empty bio, location or website clears it); answers the
    profile as it is now. An edit that changes nothing records nothing. A location that names
    a country trends are kept for puts your later tweets in its trends too."""
    caught_up = await wait_for_own_writes(
        services.models.progress,
        user.user_id,
        services.settings.read_your_writes_timeout_ms / 1000,
    )
    profile = await _profile(services, user.user_id, missing=_not_readable_yet)
    # What the read model holds is the current profile only once it applied the actor's
    # own writes; otherwise every field sent counts as a change (commands/rules.py).
    current = _fields(profile) if caught_up else None
    edit = ProfileFields(**body.model_dump(exclude_none=True))
    # The trends region the location names (docs/trending.md, "Regions").
    region = region_of(edit.location, services.settings.trend_regions)

    def render(result: ProfileEdited) -> Answer:
        changed = {name: value for name, value in vars(result.changed).items() if value is not None}
        changed["protected"] = result.protected  # the write model's, never stale
        return Answer(200, _public(dataclasses.replace(profile, **changed)).model_dump(mode="json"))

    return respond(await run(UpdateProfile(user.user_id, edit, current, region), render))


@router.delete(
    "/me",
    status_code=204,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
)
async def delete_account(
    body: AccountDeletion,
    user: CurrentUser,
    services: ServicesDep,
    run: RunCommandDep,
    address: ClientAddress,
):
    """Delete your account, confirmed by your password (403 `wrong-password` if it is not
    yours; failures count against the login limits, 429 past them). Your tweets, likes,
    retweets, follows, profile, media and notifications leave every read model; your
    username stays reserved for a while; your tokens stop working (docs/safety.md)."""
    await services.logins.check(user.username, address)
    account = await services.write_model.account(user.username)
    mine = account is not None and account.user_id == user.user_id and not account.deleted
    valid = await services.passwords.verify(
        account.password_hash if account is not None and mine else None, body.password
    )
    if not valid:
        await services.logins.failed(user.username, address)
        raise ProblemError(
            403, "wrong-password", "Wrong Password", "the password is not this account's"
        )
    answer = await run(DeleteAccount(user.user_id), lambda _: Answer(204, None))
    services.deleted_accounts.deleted(user.user_id)
    return respond(answer)


@router.get(
    "/by/username/{username}",
    response_model=UserPublic,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def user_by_username(username: UsernamePath, viewer: Reader, services: ServicesDep):
    """A user's profile by username, matched in any case; 403 `blocked` where a block
    stands between you and the user."""
    found = await services.models.graph.profile_by_username(username)
    if found is None:
        raise not_found(f"user @{username}")
    await services.timelines.hydrator.require_visible(
        viewer.user_id if viewer else None, found.user_id, tweets=False
    )
    return _public(found)


@router.get("/search", response_model=UserPage, responses=problem_responses(401, 422, 503))
async def search_users(
    request: Request,
    services: ServicesDep,
    viewer: Reader,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_LENGTH,
            description="the start of a username or display-name words; small typos are "
            "forgiven; a leading @ is ignored",
        ),
    ],
    cursor: Annotated[
        str | None, Query(max_length=256, description="from a previous page's next_cursor")
    ] = None,
    limit: Limit = 20,
):
    """Users matching `q`, most followed first, then best matched (docs/search.md); but
    users a block stands between you and."""
    try:
        found = await find_users(
            services.search.user_candidates,
            services.models.graph.followers_counts,
            parse_user_query(q),
            cursor,
            limit,
        )
    except SearchQueryError as error:
        raise ProblemError(
            422, "invalid-search-query", "Invalid Search Query", str(error)
        ) from None
    users = await services.timelines.hydrator.listed(
        found.user_ids, viewer.user_id if viewer else None
    )
    return user_page(request, found.user_ids, users, found.next_cursor)


@router.get("/suggestions", response_model=SuggestionPage, responses=_READ_ERRORS)
async def who_to_follow(user: SignedInReader, services: ServicesDep, limit: Limit = 20):
    """Users you might follow: those your followees follow most, then the most-followed users
    (all of them when you follow nobody); never yourself or someone you follow."""
    found = await services.models.graph.suggestions(user.user_id, limit)
    users = await services.timelines.hydrator.listed([s.user_id for s in found], user.user_id)
    return json_body(
        {
            "users": [
                users[s.user_id]
                | {
                    "followed_by_followees": s.followed_by_followees,
                    "followers_count": s.followers_count,
                }
                for s in found
                if s.user_id in users
            ]
        }
    )


def _not_readable_yet(user_id: int) -> ProblemError:
    return ProblemError(
        503,
        "profile-unavailable",
        "Service Unavailable",
        "your profile is not readable yet; nothing was recorded, retry later",
        headers={"Retry-After": "2"},
    )


async def _profile(services, user_id: int, missing=lambda user_id: not_found(f"user {user_id}")):
    found = (await services.models.graph.profiles([user_id])).get(user_id)
    if found is None:
        raise missing(user_id)
    return found


def _fields(profile: Profile) -> ProfileFields:
    return ProfileFields(profile.display_name, profile.bio, profile.location, profile.website)


def _public(profile: Profile) -> UserPublic:
    return UserPublic.model_validate(profile, from_attributes=True)
