"""Whom a signed-in searcher's results favour (projections/search_ranking.Personal): the
authors they follow, and those whose tweets they liked, retweeted or replied to lately."""

from __future__ import annotations

import time
from datetime import timedelta

from api.deps import Services
from projections.redis_cache import loaded_members
from projections.search_ranking import Personal

# "Lately": engagements older than this do not boost an author any more.
ENGAGED_WITHIN = timedelta(days=30)


async def personal_boost(services: Services, viewer_id: int) -> Personal:
    """Both sets in one round trip (they share the viewer's slot); the following set is
    loaded from the graph if it is not cached."""
    models = services.models
    keys = models.keys
    since_ms = int((time.time() - ENGAGED_WITHIN.total_seconds()) * 1000)
    async with models.redis.pipeline(transaction=False) as pipe:
        pipe.smembers(keys.following(viewer_id))
        pipe.zrangebyscore(keys.engaged_authors(viewer_id), since_ms, "+inf")
        following, engaged = await pipe.execute()
    followed = await services.timelines.hydrator.filled(
        keys.following(viewer_id),
        loaded_members(following),
        lambda: models.graph.following(viewer_id),
    )
    return Personal(frozenset(followed), frozenset(int(author) for author in engaged))
