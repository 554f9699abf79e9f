"""Password hashing (argon2id) and bearer tokens (JWT, HS256)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cachetools import TTLCache

from api.problems import ProblemError

_ALGORITHM = "HS256"
VERIFIED_CACHE_SIZE = 10_000
VERIFIED_CACHE_SECONDS = 60


class Passwords:
    """argon2id hashing off the event loop; verifying costs the same whether or not a user
    exists."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified against when the username is unknown, so timing does not reveal it.
        self._decoy = self._hasher.hash("decoy password never accepted")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._decoy, password) and (
                    password_hash is not None
                )
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)


@dataclass(frozen=True)
class Principal:
    """Who is making the request."""

    user_id: int
    username: str


class Tokens:
    """Issues and checks the API's bearer tokens."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        # Tokens verified lately, with their expiry: a client sends the same token with every
        # request, and checking its signature again cost a twentieth of a timeline read.
        self._verified: TTLCache[str, tuple[Principal, int]] = TTLCache(
            maxsize=VERIFIED_CACHE_SIZE, ttl=VERIFIED_CACHE_SECONDS
        )

    def issue(self, user_id: int, username: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "username": username,
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal a token names; ProblemError 401 for an invalid or expired one."""
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        try:
            # Only HS256 is accepted: `none` and any algorithm swap fail here.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["sub", "exp", "iat"]},
            )
            principal = Principal(user_id=int(claims["sub"]), username=str(claims["username"]))
            self._verified[token] = (principal, int(claims["exp"]))
            return principal
        except jwt.ExpiredSignatureError:
            raise unauthorized("the access token has expired") from None
        except (jwt.InvalidTokenError, KeyError, ValueError):
            raise unauthorized("the access token is not valid") from None


class DeletedAccounts:
    """Whether a token's account is deleted: its tokens stop working. Asked of the write model
    at most once a minute per user and process (a deletion answered by another API process
    is so refused here within a minute; by this one, at once)."""

    def __init__(self, lookup: Callable[[int], Awaitable[bool]], seconds: float = 60) -> None:
        self._lookup = lookup
        self._known: TTLCache[int, bool] = TTLCache(maxsize=VERIFIED_CACHE_SIZE, ttl=seconds)

    async def check(self, user_id: int) -> None:
        """ProblemError 401 if the account `user_id` is deleted."""
        deleted = self._known.get(user_id)
        if deleted is None:
            deleted = self._known[user_id] = await self._lookup(user_id)
        if deleted:
            raise unauthorized("the access token's account is deleted")

    def deleted(self, user_id: int) -> None:
        self._known[user_id] = True


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
