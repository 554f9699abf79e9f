"""Why a command is refused, in the domain's words; the API maps each kind to a status."""

from __future__ import annotations

from enum import Enum


class Refusal(Enum):
    """The kinds of refusal, each of which a client handles differently."""

    UNAUTHENTICATED = "unauthenticated"  # the actor has no account (any more)
    FORBIDDEN = "forbidden"  # the actor may not do this to that target
    NOT_FOUND = "not-found"  # the target does not exist
    CONFLICT = "conflict"  # the target is taken (a username)
    INVALID = "invalid"  # the command contradicts itself or the state (self-follow)


class DomainError(Exception):
    """A command refused by a rule: `code` names the rule (a stable slug clients may test),
    `title` is its short name and `detail` says what was wrong with this command."""

    def __init__(self, refusal: Refusal, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.refusal, self.code, self.title, self.detail = refusal, code, title, detail


def not_found(what: str) -> DomainError:
    return DomainError(Refusal.NOT_FOUND, "not-found", "Not Found", f"{what} does not exist")
