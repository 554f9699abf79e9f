"""Reading notifications and the mentions timeline, hydrated as timelines are: the users and
tweets of a page in as few round trips as the caches allow (api/hydration.py)."""

from __future__ import annotations

from collections.abc import Sequence

from api.consistency import wait_for_own_writes
from api.hydration import Hydrator
from projections.notification_plan import MENTIONS_TIMELINE_KINDS, USER_KINDS, Kind
from projections.read_models import ReadModels
from projections.targets import ReadModel, group_of
from projections.timeline_entries import Entry
from schemas.types import rfc3339
from streams.ids import id_time


class Notifications:
    def __init__(self, models: ReadModels, hydrator: Hydrator) -> None:
        self.models, self.hydrator = models, hydrator

    async def caught_up(self, user_id: int, wait_seconds: float) -> None:
        """Wait (bounded) until the notifications agent has applied the user's own writes:
        after marking read, the next read shows it."""
        group = group_of(self.models.settings, ReadModel.NOTIFICATIONS)
        await wait_for_own_writes(self.models.progress, user_id, wait_seconds, group)

    async def page(
        self, user_id: int, kinds: Sequence[Kind], before: int | None, limit: int
    ) -> tuple[list[dict], int | None]:
        """A page of the user's notifications, newest first, and the cursor position of the
        next (None at the end). Users a block stands between the user and, and users the
        user mutes, are left out: their tweets (mentions, replies, quotes), and them among
        the actors (a notification left with none of its actors shown is left out)."""
        groups = await self.models.notifications.page(user_id, kinds, before, limit)
        tweet_ids = [g.target_id for g in groups if g.kind not in USER_KINDS]
        rendered = {
            int(tweet["tweet_id"]): tweet
            for tweet in await self.hydrator.render(
                [Entry(tweet_id, tweet_id) for tweet_id in tweet_ids], user_id, mutes=True
            )
        }
        seen = await self.hydrator.visibility(
            user_id, {a for g in groups for a in g.actor_ids}, mutes=True
        )
        notifications = []
        for group in groups:
            tweet = rendered.get(group.target_id) if group.kind not in USER_KINDS else None
            if group.kind not in USER_KINDS and tweet is None:
                continue  # its tweet is gone (the agent takes the group out too) or hidden
            hidden = [a for a in group.actor_ids if a in seen.hidden]
            if hidden and len(hidden) == len(group.actor_ids):
                continue
            shown = [a for a in group.actor_ids if a in seen.users and a not in seen.hidden]
            notifications.append(
                {
                    "id": f"{group.kind}:{group.target_id}:{group.span}",
                    "type": str(group.kind),
                    "latest_id": str(group.latest_id),
                    "created_at": rfc3339(id_time(group.latest_id)),
                    "read": group.read,
                    "actor_count": group.actor_count - len(hidden),
                    "actors": [seen.users[a].summary for a in shown],
                    "tweet": tweet,
                }
            )
        return notifications, groups[-1].latest_id if len(groups) == limit else None

    async def mentions(
        self, user_id: int, before: int | None, limit: int
    ) -> tuple[list[dict], int | None]:
        """Tweets that mention, answer or quote the user, newest first (but those of users a
        block stands between the user and, or whom the user mutes)."""
        tweet_ids = await self.models.notifications.tweets_addressing(
            user_id, MENTIONS_TIMELINE_KINDS, before, limit
        )
        tweets = await self.hydrator.render([Entry(t, t) for t in tweet_ids], user_id, mutes=True)
        return tweets, tweet_ids[-1] if len(tweet_ids) == limit else None
