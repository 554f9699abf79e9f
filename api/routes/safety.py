"""Who reaches you: blocks and mutes, made, lifted and listed; follow requests to your
protected account, listed and answered (docs/safety.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import (
    CurrentUser,
    Cursor,
    Limit,
    RunCommandDep,
    ServicesDep,
    SignedInReader,
    UserIdPath,
)
from api.routes import hydrated_user_page, problem_responses, respond
from commands.model import AnswerFollowRequest, FollowRequestAnswered, SetBlock, SetMute
from commands.model import BlockState as BlockResult
from commands.model import MuteState as MuteResult
from commands.runner import Answer
from schemas.api import BlockState, FollowRequestAnswer, MuteState, UserPage

router = APIRouter(prefix="/api/v1", tags=["safety"])
_ERRORS = problem_responses(401, 404, 422, 429, 503)
_READ_ERRORS = problem_responses(401, 422, 503)


def _block_state(result: BlockResult) -> Answer:
    state = BlockState(user_id=result.user_id, blocking=result.blocking)
    return Answer(200, state.model_dump(mode="json"))


def _mute_state(result: MuteResult) -> Answer:
    state = MuteState(user_id=result.user_id, muting=result.muting)
    return Answer(200, state.model_dump(mode="json"))


@router.post("/users/{user_id}/block", response_model=BlockState, responses=_ERRORS)
async def block(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Block a user (idempotent): follows both ways end, and from then on neither of you
    can follow, reply to, quote, like or retweet the other."""
    return respond(await run(SetBlock(user.user_id, user_id, True), _block_state))


@router.delete("/users/{user_id}/block", response_model=BlockState, responses=_ERRORS)
async def unblock(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Lift a block (idempotent). Nothing the block ended comes back by itself."""
    return respond(await run(SetBlock(user.user_id, user_id, False), _block_state))


@router.post("/users/{user_id}/mute", response_model=MuteState, responses=_ERRORS)
async def mute(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Mute a user (idempotent; they are not told)."""
    return respond(await run(SetMute(user.user_id, user_id, True), _mute_state))


@router.delete("/users/{user_id}/mute", response_model=MuteState, responses=_ERRORS)
async def unmute(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Lift a mute (idempotent)."""
    return respond(await run(SetMute(user.user_id, user_id, False), _mute_state))


@router.get("/blocks", response_model=UserPage, responses=_READ_ERRORS)
async def blocks(
    request: Request,
    user: SignedInReader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """The users you block, by id, with your own blocks so far."""
    ids = await services.models.graph.blocked_page(user.user_id, cursor, limit)
    return await hydrated_user_page(request, services, ids, limit)


@router.get("/mutes", response_model=UserPage, responses=_READ_ERRORS)
async def mutes(
    request: Request,
    user: SignedInReader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """The users you mute, by id, with your own mutes so far."""
    ids = await services.models.graph.muted_page(user.user_id, cursor, limit)
    return await hydrated_user_page(request, services, ids, limit)


@router.get("/follow_requests", response_model=UserPage, responses=_READ_ERRORS)
async def follow_requests(
    request: Request,
    user: SignedInReader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Who asks to follow your protected account, by id."""
    ids = await services.models.graph.follow_request_page(user.user_id, cursor, limit)
    return await hydrated_user_page(request, services, ids, limit)


def _answered(result: FollowRequestAnswered) -> Answer:
    answer = FollowRequestAnswer(user_id=result.user_id, approved=result.approved)
    return Answer(200, answer.model_dump(mode="json"))


@router.post(
    "/follow_requests/{user_id}/authorize", response_model=FollowRequestAnswer, responses=_ERRORS
)
async def authorize_follow_request(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Approve a follow request: the user follows you from now on. `404` when no request
    from that user waits."""
    return respond(await run(AnswerFollowRequest(user.user_id, user_id, True), _answered))


@router.post(
    "/follow_requests/{user_id}/reject", response_model=FollowRequestAnswer, responses=_ERRORS
)
async def reject_follow_request(user_id: UserIdPath, user: CurrentUser, run: RunCommandDep):
    """Decline a follow request (the user is not told). `404` when none waits."""
    return respond(await run(AnswerFollowRequest(user.user_id, user_id, False), _answered))
