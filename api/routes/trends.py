"""Trending hashtags, from the Flink job's windows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.problems import ProblemError
from api.routes import problem_responses
from projections.trends import current_trends, sorted_rows
from schemas.api import TrendPublic, TrendsPublic
from schemas.regions import GLOBAL

router = APIRouter(prefix="/api/v1", tags=["trends"])


@router.get("/trends", response_model=TrendsPublic, responses=problem_responses(422))
async def trends(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many")] = 10,
    sort: Annotated[
        Literal["count", "velocity"],
        Query(description="`count`: most mentioned first; `velocity`: fastest rising first"),
    ] = "count",
    region: Annotated[
        str,
        Query(
            min_length=2,
            max_length=6,
            description="`global` (every tweet), or a region's ISO 3166 country code (`IN`): "
            "the tweets of accounts whose profile location names it",
        ),
    ] = GLOBAL,
):
    """The current top hashtags of the newest sliding window (the job keeps the top 50 by
    count), with counts and velocity: most mentioned first, or with `sort=velocity` those
    whose rate of mentions grows fastest (docs/trending.md)."""
    settings = services.settings
    region = GLOBAL if region.lower() == GLOBAL else region.upper()
    if region != GLOBAL and region not in settings.trend_regions:
        known = ", ".join(sorted(settings.trend_regions))
        raise ProblemError(
            422,
            "unknown-region",
            "Unknown Region",
            f"{region!r} is not a region trends are kept for: global, {known}",
        )
    window = await current_trends(
        services.models.trends, datetime.now(UTC), settings.trends_stale_after, region
    )
    if window is None:
        return TrendsPublic(window_start=None, window_end=None, region=region, trends=[])
    return TrendsPublic(
        window_start=window.start,
        window_end=window.end,
        region=region,
        trends=[TrendPublic(**row.model_dump()) for row in sorted_rows(window, sort)[:limit]],
    )
