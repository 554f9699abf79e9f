"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep

router = APIRouter(tags=["health"])
_CHECK_TIMEOUT_S = 2.0


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep):
    """Every dependency answers; 503 names the ones that do not."""
    names = list(services.readiness_checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(check(), _CHECK_TIMEOUT_S) for check in services.readiness_checks.values()),
        return_exceptions=True)
    checks = {name: "ok" if not isinstance(result, BaseException) else f"failing: {type(result).__name__}"
              for name, result in zip(names, results)}
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)
