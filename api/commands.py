"""Running a write: check, record, produce, answer only after the broker's acknowledgement."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from api.problems import ProblemError
from projections.write_model import StoredResponse, WriteModel, WriteTransaction, WriteUnconfirmed
from schemas.events import Event, decode, encode
from streams.ids import SnowflakeIds
from streams.producer import EventNotAcknowledged, EventProducer

log = logging.getLogger("chirp.api.commands")


@dataclass(frozen=True)
class Outcome:
    """What a command decided: the answer, and the event to record (None: nothing changes)."""

    status: int
    body: Any
    event: Event | None = None


# A command's decision: checks against the write model, writes to it, builds the event.
Decide = Callable[[WriteTransaction, SnowflakeIds], Awaitable[Outcome]]


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool = False


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, list] = {}

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]


@dataclass
class CommandRunner:
    write_model: WriteModel
    producer: EventProducer
    ids: SnowflakeIds
    # Called with (actor id, where the event landed) once the broker acknowledged it.
    after_ack: Callable[[int | None, Any], Awaitable[None]] | None = None
    _actors: KeyedLocks = field(default_factory=KeyedLocks)

    async def run(self, decide: Decide, *, actor_id: int | None, idempotency_key: str | None,
                  fingerprint: str) -> Answer:
        """Run one command in one write-model transaction.

        Order matters: the write-model rows are written first, then the event is produced,
        and the transaction commits only after the broker acknowledged the event. An event
        never sent rolls everything back; one sent but not acknowledged in time commits as
        unconfirmed (WriteUnconfirmed). A retry with the same Idempotency-Key replays the
        stored answer instead of producing a second event.
        """
        scope = _scope(actor_id)
        unconfirmed = False
        async with self.write_model.transaction() as tx:
            stored = None
            if idempotency_key is not None:
                stored = await tx.claim_idempotency_key(scope, idempotency_key)
            # Ids are taken and events enqueued under the actor's lock, so one actor's events
            # reach their partition in id order: unconfirmed ones first.
            async with self._actor_lock(actor_id):
                await self._send_unconfirmed(tx, scope)
                if stored is not None:
                    return _replay(stored, fingerprint)
                outcome = await decide(tx, self.ids)
                acked = await self.producer.enqueue(outcome.event) if outcome.event else None
            if acked is not None:
                try:
                    landed = await self.producer.wait(acked)
                except EventNotAcknowledged:
                    # Sent, so perhaps on the log: kept, and sent again until acknowledged.
                    await tx.keep_unconfirmed(scope, outcome.event.event_id,
                                              encode(outcome.event))
                    unconfirmed = True
                else:
                    if self.after_ack is not None:
                        await self.after_ack(actor_id, landed)
            if idempotency_key is not None:
                await tx.store_response(scope, idempotency_key, StoredResponse(
                    fingerprint=fingerprint, status=outcome.status, body=outcome.body))
        if unconfirmed:
            raise WriteUnconfirmed(outcome.event.event_id)
        return Answer(outcome.status, outcome.body)

    async def _send_unconfirmed(self, tx: WriteTransaction, scope: str) -> None:
        """Send the scope's unconfirmed events again; raises EventNotAcknowledged unless the
        broker acknowledges every one."""
        pending = await tx.unconfirmed(scope)
        for _, raw in pending:
            await self.producer.wait(await self.producer.enqueue(decode(raw)))
        if pending:
            await tx.confirmed([event_id for event_id, _ in pending])
            log.info("%d unconfirmed event(s) of %s acknowledged now", len(pending), scope)

    async def send_unconfirmed_forever(self, interval_seconds: float = 1.0) -> None:
        """The relay: unconfirmed events of actors who write no more are sent again too."""
        older_than = self.producer.timeout_ms / 1000
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                for scope in await self.write_model.actors_with_unconfirmed(older_than):
                    actor_id = None if scope == "anonymous" else int(scope.split(":", 1)[1])
                    async with self.write_model.transaction() as tx, self._actor_lock(actor_id):
                        await self._send_unconfirmed(tx, scope)
            except Exception as error:  # noqa: BLE001 - the log or the database is down: later
                log.warning("unconfirmed events not sent yet: %s", error)

    def _actor_lock(self, actor_id: int | None):
        if actor_id is None:
            return _no_lock()
        return self._actors.hold(actor_id)


def _scope(actor_id: int | None) -> str:
    return f"user:{actor_id}" if actor_id is not None else "anonymous"


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def _replay(stored: StoredResponse, fingerprint: str) -> Answer:
    if stored.fingerprint != fingerprint:
        raise ProblemError(
            422, "idempotency-key-reused", "Idempotency-Key Reused",
            "this Idempotency-Key was used with a different request; use a new key")
    return Answer(stored.status, stored.body, replayed=True)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests 'the same request' for an Idempotency-Key."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
