"""Errors as RFC 9457 problem details (application/problem+json), never a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands.errors import DomainError, Refusal
from commands.write_model import WriteUnconfirmed
from projections.search import SearchEngineError
from streams.producer import EventNotAcknowledged

log = logging.getLogger("chirp.api")
PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "urn:chirp:problem:"


class ProblemError(Exception):
    """Raise to answer with a problem detail."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: list | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers, self.errors = headers or {}, errors


def problem_response(request: Request, problem: ProblemError) -> JSONResponse:
    body = {
        "type": _TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "instance": request.url.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not Found", f"{what} does not exist")


# A refused command's status, by the kind of refusal.
REFUSAL_STATUS = {
    Refusal.UNAUTHENTICATED: 401,
    Refusal.FORBIDDEN: 403,
    Refusal.NOT_FOUND: 404,
    Refusal.CONFLICT: 409,
    Refusal.INVALID: 422,
}


def refused(error: DomainError) -> ProblemError:
    headers = {}
    if error.refusal is Refusal.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return ProblemError(
        REFUSAL_STATUS[error.refusal], error.code, error.title, error.detail, headers=headers
    )


def _validation_problem(error: RequestValidationError) -> ProblemError:
    errors = [
        {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type", "")}
        for item in error.errors()
    ]
    if any(item["type"] == "json_invalid" for item in errors):
        return ProblemError(
            400,
            "malformed-json",
            "Malformed JSON",
            "the request body is not valid JSON",
            errors=errors,
        )
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
    return ProblemError(
        422, "validation-error", "Validation Error", f"{where}: {first['msg']}", errors=errors
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error the app can raise into a problem response."""

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError):
        return problem_response(request, error)

    @app.exception_handler(DomainError)
    async def on_refused(request: Request, error: DomainError):
        return problem_response(request, refused(error))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError):
        return problem_response(request, _validation_problem(error))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        return problem_response(
            request,
            ProblemError(
                error.status_code,
                slug,
                _reason(error.status_code),
                str(error.detail),
                headers=dict(error.headers or {}),
            ),
        )

    @app.exception_handler(EventNotAcknowledged)
    async def on_broker_down(request: Request, error: EventNotAcknowledged):
        return _unavailable(
            request, error, "event-log-unavailable", "the event log did not acknowledge the write"
        )

    @app.exception_handler(WriteUnconfirmed)
    async def on_unconfirmed(request: Request, error: WriteUnconfirmed):
        log.warning(
            "%s %s: event %s sent, not acknowledged in time; kept",
            request.method,
            request.url.path,
            error,
        )
        return problem_response(
            request,
            ProblemError(
                503,
                "write-unconfirmed",
                "Service Unavailable",
                "the event log did not confirm the write in time; it is kept and takes effect "
                "once the log confirms it: retry with the same Idempotency-Key for its answer",
                headers={"Retry-After": "2"},
            ),
        )

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def on_database_down(request: Request, error: Exception):
        return _unavailable(request, error, "database-unavailable", "a database is unavailable")

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def on_cache_down(request: Request, error: Exception):
        return _unavailable(
            request, error, "cache-unavailable", "Redis is unavailable", before_any_write=False
        )

    @app.exception_handler(SearchEngineError)
    async def on_search_down(request: Request, error: Exception):
        return _unavailable(
            request, error, "search-unavailable", "search is unavailable", before_any_write=False
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            ProblemError(
                500, "internal-error", "Internal Server Error", "an unexpected error occurred"
            ),
        )


def _unavailable(
    request: Request, error: Exception, slug: str, what: str, before_any_write: bool = True
) -> JSONResponse:
    """503. `before_any_write`: the failure happens before a write records anything (the
    write-model transaction, producing the event), so the answer can say so."""
    log.warning("%s %s: %s: %s", request.method, request.url.path, what, error)
    outcome = "nothing was recorded, retry later" if before_any_write else "retry later"
    return problem_response(
        request,
        ProblemError(
            503, slug, "Service Unavailable", f"{what}; {outcome}", headers={"Retry-After": "2"}
        ),
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
