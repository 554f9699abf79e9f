"""Dependencies of the routes, as Annotated aliases.

All are `async def`: FastAPI runs plain `def` dependencies on a thread pool, a hop that
cost a tenth of a home-timeline read."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.consistency import wait_for_own_writes
from api.login_limits import LoginLimits
from api.notifications import Notifications
from api.problems import ProblemError
from api.ranked import RankedTimeline
from api.rate_limits import WriteLimits
from api.security import DeletedAccounts, Passwords, Principal, Tokens, unauthorized
from api.streaming import LiveHub
from api.timelines import Timelines
from commands.model import Command
from commands.runner import Answer, CommandRunner, Render
from commands.write_model import WriteModel
from infra.object_store import ObjectStore
from infra.settings import Settings
from projections.read_models import ReadModels
from projections.search import SearchIndex
from projections.timeline_entries import decode_cursor
from schemas.types import parse_id


@dataclass
class Services:
    """Everything a route may use, built once per process by the composition root."""

    settings: Settings
    write_model: WriteModel
    commands: CommandRunner
    tokens: Tokens
    deleted_accounts: DeletedAccounts
    passwords: Passwords
    limits: WriteLimits
    logins: LoginLimits
    readiness_checks: dict
    models: ReadModels
    timelines: Timelines
    ranked: RankedTimeline
    notifications: Notifications
    search: SearchIndex
    live: LiveHub
    objects: ObjectStore


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]

# An IPv6 client usually holds a whole /64: counted as one address, it cannot step around
# the per-address limits by changing the last 64 bits.
_IPV6_PREFIX = 64


async def client_address(request: Request) -> str:
    """The client's address as the login and sign-up limits count it: the peer's, or the one
    a trusted proxy names in X-Forwarded-For (CHIRP_FORWARDED_ALLOW_IPS decides which)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return str(address)


ClientAddress = Annotated[str, Depends(client_address)]

bearer = HTTPBearer(auto_error=False, description="the access_token from registration or login")


async def current_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("send 'Authorization: Bearer <access_token>'")
    principal = services.tokens.verify(credentials.credentials)
    await services.deleted_accounts.check(principal.user_id)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


async def optional_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller if a token is sent (and valid), else None: reads work without one."""
    if credentials is None:
        return None
    return await current_user(services, credentials)


OptionalUser = Annotated[Principal | None, Depends(optional_user)]


async def reader(services: ServicesDep, user: OptionalUser) -> Principal | None:
    """The caller, once the projections have applied the caller's own writes."""
    if user is not None:
        await wait_for_own_writes(
            services.models.progress,
            user.user_id,
            services.settings.read_your_writes_timeout_ms / 1000,
        )
    return user


Reader = Annotated[Principal | None, Depends(reader)]


async def notifications_reader(services: ServicesDep, user: CurrentUser) -> Principal:
    """The signed-in caller, once the notifications agent has applied the caller's own
    writes (a mark read shows at the next read)."""
    await services.notifications.caught_up(
        user.user_id, services.settings.read_your_writes_timeout_ms / 1000
    )
    return user


NotificationsReader = Annotated[Principal, Depends(notifications_reader)]


async def signed_in_reader(services: ServicesDep, user: CurrentUser) -> Principal:
    """The signed-in caller (401 without a token), once the projections have applied the
    caller's own writes."""
    await reader(services, user)
    return user


SignedInReader = Annotated[Principal, Depends(signed_in_reader)]


def cursor_position(name: str, value: str | None) -> int | None:
    """The position a cursor this API issued stands for; 422 for anything else."""
    if value is None:
        return None
    try:
        return decode_cursor(value)
    except ValueError:
        raise ProblemError(
            422, "invalid-cursor", "Invalid Cursor", f"{name}: not a cursor this API issued"
        ) from None


async def cursor(
    cursor: Annotated[
        str | None, Query(max_length=64, description="from a previous page's next_cursor")
    ] = None,
) -> int | None:
    return cursor_position("cursor", cursor)


async def since(
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="a page's prev_cursor: only what is newer than it (pull to "
            "refresh), newest first, paged with `cursor` down to it",
        ),
    ] = None,
) -> int | None:
    return cursor_position("since", since)


Cursor = Annotated[int | None, Depends(cursor)]
Since = Annotated[int | None, Depends(since)]
Limit = Annotated[int, Query(ge=1, le=100, description="items per page")]

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="retries with the same key take effect once"),
    ] = None,
) -> str | None:
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise ProblemError(
            400,
            "bad-idempotency-key",
            "Bad Idempotency-Key",
            "an Idempotency-Key is 1 to 255 visible ASCII characters",
        )
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


_ID_PATH = Path(pattern=r"^[0-9]{1,19}$", description="a decimal 64-bit id")


def _parse_path_id(name: str, value: str) -> int:
    try:
        return parse_id(value)
    except ValueError as error:
        raise ProblemError(
            422, "validation-error", "Validation Error", f"{name}: {error}"
        ) from None


async def _user_id(user_id: Annotated[str, _ID_PATH]) -> int:
    return _parse_path_id("user_id", user_id)


async def _tweet_id(tweet_id: Annotated[str, _ID_PATH]) -> int:
    return _parse_path_id("tweet_id", tweet_id)


async def _media_id(media_id: Annotated[str, _ID_PATH]) -> int:
    return _parse_path_id("media_id", media_id)


UserIdPath = Annotated[int, Depends(_user_id)]
MediaIdPath = Annotated[int, Depends(_media_id)]
UsernamePath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_]{1,15}$", description="a username, any case")
]
TweetIdPath = Annotated[int, Depends(_tweet_id)]


# Runs a command as the current request: its Idempotency-Key and fingerprint.
RunCommand = Callable[[Command, Render], Awaitable[Answer]]


async def run_command(services: ServicesDep, request: Request, key: IdempotencyKey) -> RunCommand:
    async def run(command: Command, render: Render) -> Answer:
        fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
        return await services.commands.run(
            command, render, idempotency_key=key, fingerprint=fingerprint
        )

    return run


RunCommandDep = Annotated[RunCommand, Depends(run_command)]


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests 'the same request' for an Idempotency-Key."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
