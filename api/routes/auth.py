"""Login: a username and password for a bearer token."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ClientAddress, ServicesDep
from api.problems import ProblemError
from api.routes import problem_responses
from schemas.api import Token, TokenRequest

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=Token,
    responses=problem_responses(400, 401, 413, 415, 422, 429, 503),
)
async def login(body: TokenRequest, services: ServicesDep, address: ClientAddress) -> Token:
    """Exchange a username and password for an access token; 429 after too many failures
    for the username or from the address (docs/write-path.md)."""
    await services.logins.check(body.username, address)
    account = await services.write_model.account(body.username)
    valid = await services.passwords.verify(
        account.password_hash if account else None, body.password
    )
    if account is None or not valid or account.deleted:
        await services.logins.failed(body.username, address)
        raise ProblemError(
            401,
            "invalid-credentials",
            "Invalid Credentials",
            "the username or password is wrong",
            headers={"WWW-Authenticate": "Bearer"},
        )
    await services.logins.succeeded(body.username)
    return Token(
        access_token=services.tokens.issue(account.user_id, account.username),
        expires_in=services.tokens.ttl_seconds,
    )
