"""Liveness, and readiness: of each dependency, of each group of routes, and of the process
as a load balancer should see it (docs/observability.md has the table)."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import ServicesDep

router = APIRouter(tags=["health"])
_CHECK_TIMEOUT_S = 2.0


class Role(StrEnum):
    WRITES = "writes"
    READS = "reads"
    SEARCH = "search"


# What each group of routes cannot answer without. Writes use Redis too, but only where they
# go on without it: the write limits and the read-your-writes ledger let a write through, the
# login limits count in the process (api/rate_limits.py, api/consistency.py,
# api/login_limits.py).
NEEDS: dict[Role, frozenset[str]] = {
    Role.WRITES: frozenset({"postgres", "kafka"}),
    Role.READS: frozenset({"postgres", "redis"}),
    Role.SEARCH: frozenset({"search", "postgres", "redis"}),
}
# What the role-less probe, the load balancer's, needs: what every route needs. A dependency
# only some routes need is shared by every API process, so taking this one out of rotation
# for it would turn a partial outage into a whole one, and send its traffic nowhere better.
EVERY_ROUTE_NEEDS = frozenset.intersection(*NEEDS.values())


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(
    services: ServicesDep,
    role: Annotated[
        Role | None, Query(description="a group of routes; without it, what every route needs")
    ] = None,
):
    """Each dependency's state, and whether each group of routes can answer; 503 when `role`
    (or, without one, every route) cannot."""
    names = list(services.readiness_checks)
    results = await asyncio.gather(
        *(
            asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
            for check in services.readiness_checks.values()
        ),
        return_exceptions=True,
    )
    checks = {
        name: "ok" if not isinstance(result, BaseException) else f"failing: {type(result).__name__}"
        for name, result in zip(names, results, strict=True)
    }

    def ready(needs: frozenset[str]) -> bool:
        return all(checks[name] == "ok" for name in needs)

    roles = {
        group.value: "ready" if ready(needs) else "not ready" for group, needs in NEEDS.items()
    }
    serving = ready(NEEDS[role] if role is not None else EVERY_ROUTE_NEEDS)
    return JSONResponse(
        {"status": "ready" if serving else "not ready", "checks": checks, "roles": roles},
        status_code=200 if serving else 503,
    )
