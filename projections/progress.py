"""How far the agents have got: the positions each group of agents has applied, and the
read-your-writes ledger. Readers wait on them (api/consistency.py), a replay hands over by
them, a restart resumes from them (operations/durability.py)."""

from __future__ import annotations

from typing import Protocol

from streams.topics import Partition


class Progress(Protocol):
    async def advance(
        self,
        positions: dict[Partition, int],
        group: str | None = None,
        event_ids: dict[Partition, int] | None = None,
    ) -> None:
        """Record how far a group of agents (the primary projections by default) has applied
        each partition (an offset only ever grows), and the id of the last event applied
        there where `event_ids` has it."""

    async def applied_events(self, group: str | None = None) -> dict[Partition, int]:
        """The id of the last event a group applied, per partition, where it was recorded."""

    async def positions(
        self, places: list[Partition], group: str | None = None
    ) -> dict[Partition, int]:
        """How far a group has applied each of `places`: the last applied offset, -1 where
        none is recorded."""

    async def applied(self, group: str | None = None) -> dict[str, int]:
        """Every recorded position of a group: "topic:partition" -> last applied offset."""

    async def remember_write(
        self, user_id: int, topic: str, partition: int, offset: int, ttl_seconds: int
    ) -> None:
        """Where the user's last write to a partition landed (for `ttl_seconds`)."""

    async def last_writes(self, user_id: int) -> dict[Partition, int]:
        """Where the user's recent writes landed, per partition."""
