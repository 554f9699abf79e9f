"""Failed logins per username and per client address, against guessing a password (many
tries at one username) and credential stuffing (one try at each of many usernames).

A username that fails `CHIRP_LOGIN_FAILURES_PER_USERNAME` times within
`CHIRP_LOGIN_FAILURE_WINDOW_SECONDS`, from any address, is locked out, and so is an address
that fails `CHIRP_LOGIN_FAILURES_PER_IP` times, for any usernames (infra/lockouts.py has the
rule and the backoff). The counts are in Redis, shared by every API process; while Redis does
not answer, each process counts on its own (docs/write-path.md says why).
"""

from __future__ import annotations

import logging
import math

from api.problems import ProblemError
from infra.lockouts import Lockouts, LockoutsUnavailable
from infra.metrics import LOGIN_LOCKOUTS
from infra.settings import Settings

log = logging.getLogger("chirp.api.limits")


class LoginLimits:
    """`check` before verifying a password (429 while locked out), then `failed` or
    `succeeded`. Unknown usernames are counted like known ones, so a lockout says nothing of
    whether an account exists."""

    def __init__(self, settings: Settings, shared: Lockouts, local: Lockouts) -> None:
        self._limits = {
            "username": settings.login_failures_per_username,
            "address": settings.login_failures_per_ip,
        }
        self._shared, self._local = shared, local

    def _keys(self, username: str, address: str) -> dict[str, str]:
        # Usernames are unique case-insensitively (the write model): so are their counts.
        keys = {"username": f"username:{username.lower()}", "address": f"address:{address}"}
        return {kind: key for kind, key in keys.items() if self._limits[kind] > 0}

    async def check(self, username: str, address: str) -> None:
        keys = list(self._keys(username, address).values())
        if not keys:
            return
        wait = await self._counted("wait", keys)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ProblemError(
                429,
                "too-many-failed-logins",
                "Too Many Requests",
                f"too many failed logins for this username or from this address; try again "
                f"in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    async def failed(self, username: str, address: str) -> None:
        for kind, key in self._keys(username, address).items():
            if await self._counted("fail", key, self._limits[kind]):
                LOGIN_LOCKOUTS.labels(kind).inc()

    async def succeeded(self, username: str) -> None:
        """A login that succeeded: the username's failures so far are forgotten (not the
        address's: one good password among many guesses does not excuse the others)."""
        key = self._keys(username, "").get("username")
        if key is not None:
            await self._counted("clear", key)

    async def _counted(self, step: str, *args):
        """`step` of the shared lockouts, or of this process's while those are unavailable."""
        try:
            return await getattr(self._shared, step)(*args)
        except LockoutsUnavailable as error:
            log.warning(
                "login limits unavailable (%s): %s counted in this process only", error, step
            )
            return await getattr(self._local, step)(*args)
