"""Blocks and mutes: make and lift them, and list your own (docs/safety.md)."""

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
from commands.model import BlockState as BlockResult
from commands.model import MuteState as MuteResult
from commands.model import SetBlock, SetMute
from commands.runner import Answer
from schemas.api import BlockState, MuteState, UserPage

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
