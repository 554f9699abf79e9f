"""Hybrid fan-out decisions: push to followers' timelines, or leave readers to pull.

Pushing costs one write per follower; for an author with millions of followers that is too
much per tweet, so authors at or above the celebrity threshold are not pushed and readers
merge their recents at read time (Twitter's published design). When fan-out falls behind,
the threshold is lowered so that more authors take the cheap path until the lag recovers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CelebrityThreshold:
    """The threshold in force, lowered while fan-out lag (by event time) exceeds a bound."""

    normal: int
    lowered: int
    lag_bound_seconds: float
    # Restore only once the lag is well under the bound, so the threshold does not flap.
    restore_fraction: float = 0.5
    is_lowered: bool = field(default=False, init=False)

    def observe(self, lag_seconds: float) -> int:
        """Take one lag measurement; return the threshold for the next decisions."""
        if lag_seconds > self.lag_bound_seconds:
            self.is_lowered = True
        elif lag_seconds < self.lag_bound_seconds * self.restore_fraction:
            self.is_lowered = False
        return self.current

    @property
    def current(self) -> int:
        return self.lowered if self.is_lowered else self.normal


def should_push(follower_count: int, threshold: int) -> bool:
    """Push an author's tweets to followers unless the author is a celebrity."""
    return follower_count < threshold
