"""A batch's timeline pushes and removals, merged into few calls without changing any outcome.

Pushes commute with one another: a timeline that receives entries one push at a time ends as
one that receives them all in one push (the newest `cap` of the union, turned PARTIAL if any
push was partial or a trim cut anything). So pushes of one group (an author's followers, an
author's recents, one reader's home) are merged into one call however many events make
them. A removal does not commute with a push to the same timeline: before a removal that
touches a timeline with merged pushes pending, those are written first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from projections.timeline_entries import Entry


@dataclass
class Push:
    keys: list[str]
    entries: list[Entry]
    cap: int
    partial: bool = False
    counted: bool = False  # deliveries to count (fan-out), not the author's own recents


@dataclass(frozen=True)
class Removal:
    keys: list[str]
    entries: list[Entry]


@dataclass
class TimelineWrites:
    """Timeline writes of a batch in the order to make them (`writes`, after `finish`)."""

    writes: list[Push | Removal] = field(default_factory=list)
    _pending: dict[Hashable, Push] = field(default_factory=dict)
    _pending_keys: set[str] = field(default_factory=set)

    def push(
        self,
        group: Hashable,
        keys: Callable[[], list[str]],
        entries: list[Entry],
        cap: int,
        partial: bool = False,
        counted: bool = False,
    ) -> None:
        """Add `entries` to the timelines `keys()` names (the same whenever `group` is the
        same: it is called only for a group's first push)."""
        if not entries:
            return
        pending = self._pending.get(group)
        if pending is not None:
            pending.entries.extend(entries)
            pending.partial = pending.partial or partial
            return
        named = keys()
        if named:
            self._pending[group] = Push(named, list(entries), cap, partial, counted)
            self._pending_keys.update(named)

    def remove(self, keys: list[str], entries: list[Entry]) -> None:
        if not keys or not entries:
            return
        if not self._pending_keys.isdisjoint(keys):
            self._flush()
        self.writes.append(Removal(list(keys), list(entries)))

    def finish(self) -> list[Push | Removal]:
        self._flush()
        return self.writes

    def _flush(self) -> None:
        for push in self._pending.values():
            # A tweet pushed twice in one batch (a redelivery) is one member.
            push.entries = list(dict.fromkeys(push.entries))
            self.writes.append(push)
        self._pending.clear()
        self._pending_keys.clear()
