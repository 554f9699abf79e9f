"""The home timeline."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, Cursor, Limit, Reader, ServicesDep
from api.routes import page
from schemas.api import Problem, TweetPage

router = APIRouter(prefix="/api/v1/timeline", tags=["timeline"])


@router.get("/home", response_model=TweetPage,
            responses={code: {"model": Problem} for code in (401, 422, 503)})
async def home_timeline(user: CurrentUser, _: Reader, services: ServicesDep,
                        cursor: Cursor = None, limit: Limit = 20):
    """Tweets of the people you follow, and yours, newest first."""
    tweets, last = await services.timelines.home(user.user_id, cursor, limit)
    return page(tweets, last)
