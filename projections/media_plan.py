"""The media read model's side of a batch, planned as plain data (docs/media.md).

Each kind of media event sets its own columns of an upload's row, to the value of the kind's
last event in the batch: applying a batch again (at least once) or a later batch after it
ends in the same row. Whatever arrives first creates the row: on a partial log a rendition
may come before its upload (replay from a position).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas import events as ev

MEDIA_EVENTS = (ev.MediaUploaded, ev.MediaProcessed, ev.MediaDescribed, ev.MediaDeleted)


@dataclass
class MediaPlan:
    # media id -> the row's values each kind of event sets
    uploaded: dict[int, ev.MediaUploaded] = field(default_factory=dict)
    processed: dict[int, ev.MediaProcessed] = field(default_factory=dict)
    described: dict[int, ev.MediaDescribed] = field(default_factory=dict)
    attached: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # (owner, tweet, pos)
    deleted: dict[int, int] = field(default_factory=dict)  # media -> owner
    posted: set[int] = field(default_factory=set)  # tweets posted with media in the batch

    def __bool__(self) -> bool:
        return any((self.uploaded, self.processed, self.described, self.attached, self.deleted))


def plan_media(events: list[ev.Event]) -> MediaPlan:
    """What `events` (in log order) set in the media read model."""
    plan = MediaPlan()
    for event in events:
        match event:
            case ev.MediaUploaded():
                plan.uploaded[event.media_id] = event
            case ev.MediaProcessed():
                plan.processed[event.media_id] = event
            case ev.MediaDescribed():
                plan.described[event.media_id] = event
            case ev.MediaDeleted():
                plan.deleted[event.media_id] = event.owner_id
            case ev.TweetPosted(media_ids=media_ids) if media_ids:
                plan.posted.add(event.tweet_id)
                for position, media_id in enumerate(media_ids):
                    plan.attached[media_id] = (event.author_id, event.tweet_id, position)
    return plan
