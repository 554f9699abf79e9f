"""The home timeline."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, Cursor, Limit, ServicesDep
from api.routes import page
from schemas.api import Problem, TweetPage

router = APIRouter(prefix="/api/v1/timeline", tags=["timeline"])


@router.get("/home", response_model=TweetPage,
            responses={code: {"model": Problem} for code in (401, 422, 503)})
async def home_timeline(user: CurrentUser, services: ServicesDep,
                        cursor: Cursor = None, limit: Limit = 20):
    """Tweets of the people you follow, and yours, newest first."""
    tweets, last = await services.timelines.home(
        user.user_id, cursor, limit, services.settings.read_your_writes_timeout_ms / 1000)
    return page(tweets, last)
