"""The write model: the few facts the API checks strongly before it accepts a command.

Everything else Chirp knows is projected from the event log by agents. These facts cannot
wait for a projection: a username must be unique the moment it is granted, a login needs a
password hash (which never travels in an event), a delete must know the tweet's author, and a
retried request must find the answer the first attempt got. A command's rows and its event are
written in one transaction (commands/runner.py): the event is written in the same transaction,
into an outbox (`unconfirmed_events`), and produced after the commit: a write that commits
always reaches the log, and one that does not commit never does. An event the broker does not
acknowledge (a stalled broker may still append it when it resumes) stays in the outbox and is
sent again, with the same ids, until it is acknowledged: before the actor's next command, and
by the API's relay. Applying an event twice changes no read model, so the write takes effect
exactly once.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from commands.model import Changes, MediaRecord, Needs, State


class WriteUnconfirmed(RuntimeError):
    """The write's event was sent but not acknowledged in time: it is kept, and takes effect
    once the broker acknowledges it (a retry with the same Idempotency-Key then gets the
    answer)."""


@dataclass(frozen=True)
class Account:
    user_id: int
    username: str
    password_hash: str
    deleted: bool = False  # deleted: it cannot log in, and its username is held


@dataclass(frozen=True)
class StoredResponse:
    """The answer a request with an Idempotency-Key got the first time."""

    fingerprint: str
    status: int
    body: Any


class WriteTransaction(Protocol):
    """One command's view of the write model; nothing it writes outlives a rollback."""

    async def claim_idempotency_key(self, scope: str, key: str) -> StoredResponse | None:
        """Claim `key` for this command, or return the response it already got.

        Waits while another transaction holds the same key, so concurrent retries of one
        request run one after the other and all but the first replay its answer.
        """

    async def store_response(self, scope: str, key: str, response: StoredResponse) -> None: ...

    async def load(
        self, needs: Needs, actor: str, older_than_seconds: float
    ) -> tuple[State, list[tuple[int, bytes]]]:
        """What a decision needs, and what `unconfirmed(actor, older_than_seconds)` returns,
        read together."""

    async def apply(self, changes: Changes) -> str | None:
        """Write a decision's changes; or, if its new account's username is taken
        (case-insensitively), write nothing and return why: `username-taken`, or
        `username-reserved` while a deleted account holds it."""

    async def create_key(self, user_id: int, key: bytes) -> bytes:
        """Store `key` as the account's key unless it has one; the key it has now."""

    async def keep_unconfirmed(self, actor: str, event_id: int, event: bytes) -> None:
        """Put the command's event in the outbox: it leaves once acknowledged."""

    async def unconfirmed(
        self, actor: str, older_than_seconds: float | None = None
    ) -> list[tuple[int, bytes]]:
        """The actor's events in the outbox (those older than that, if given) in id order,
        locked until this transaction ends."""


class WriteModel(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[WriteTransaction]: ...

    async def account(self, username: str) -> Account | None:
        """The account holding `username`, matched case-insensitively (a deleted one too)."""

    async def deleted(self, user_id: int) -> bool:
        """Whether the account `user_id` is deleted (False for one that never was)."""

    async def media(self, media_id: int) -> MediaRecord | None:
        """The upload `media_id`, as the write model holds it now."""

    async def media_due(
        self, orphan_seconds: float, grace_seconds: float, limit: int
    ) -> list[tuple[int, int]]:
        """(media, owner) of uploads due for removal (commands/media_sweeper.py)."""

    async def removed_media(self, limit: int) -> list[int]:
        """Removed uploads whose rows remain (their files may too)."""

    async def forget_media(self, media_ids: list[int]) -> None:
        """Drop the rows of removed uploads whose files are gone."""

    async def allocate_worker_id(self) -> int:
        """A Snowflake worker id that no other running process of this deployment holds."""

    async def ping(self) -> None: ...

    async def actors_with_unconfirmed(self, older_than_seconds: float) -> list[str]:
        """Actors with an event in the outbox for longer than this."""

    async def confirmed(self, event_ids: list[int]) -> None:
        """These events are acknowledged: out of the outbox, or, where the outbox waits for
        the archive, marked acknowledged there (no relay sends them again) until the archive
        holds them. Called again and again, with no ids too: acknowledged events the archive
        now holds leave then, whichever process acknowledged them."""
