"""Login: a username and password for a bearer token."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.problems import ProblemError
from schemas.api import Problem, Token, TokenRequest

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=Token,
             responses={code: {"model": Problem} for code in (400, 401, 413, 415, 422, 503)})
async def login(body: TokenRequest, services: ServicesDep) -> Token:
    """Exchange a username and password for an access token."""
    account = await services.write_model.account(body.username)
    valid = await services.passwords.verify(account.password_hash if account else None,
                                            body.password)
    if account is None or not valid:
        raise ProblemError(401, "invalid-credentials", "Invalid Credentials",
                           "the username or password is wrong",
                           headers={"WWW-Authenticate": "Bearer"})
    return Token(access_token=services.tokens.issue(account.user_id, account.username),
                 expires_in=services.tokens.ttl_seconds)
