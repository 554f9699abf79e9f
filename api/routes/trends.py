"""Trending hashtags, from the Flink job's windows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from projections.trends import current_trends, sorted_rows
from schemas.api import TrendPublic, TrendsPublic

router = APIRouter(prefix="/api/v1", tags=["trends"])


@router.get("/trends", response_model=TrendsPublic)
async def trends(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many")] = 10,
    sort: Annotated[
        Literal["count", "velocity"],
        Query(description="`count`: most mentioned first; `velocity`: fastest rising first"),
    ] = "count",
):
    """The current top hashtags of the newest sliding window (the job keeps the top 50 by
    count), with counts and velocity: most mentioned first, or with `sort=velocity` those
    whose rate of mentions grows fastest (docs/trending.md)."""
    settings = services.settings
    window = await current_trends(
        services.models.trends, datetime.now(UTC), settings.trends_stale_after
    )
    if window is None:
        return TrendsPublic(window_start=None, window_end=None, trends=[])
    return TrendsPublic(
        window_start=window.start,
        window_end=window.end,
        trends=[TrendPublic(**row.model_dump()) for row in sorted_rows(window, sort)[:limit]],
    )
