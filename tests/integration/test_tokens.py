"""Bearer tokens: only HS256 tokens this deployment signed, unexpired and untampered, of a
user that exists, act as that user; and a user acts only as themselves."""

from __future__ import annotations

import base64
import time

import jwt
import orjson
import pytest

from tests.support.clients import post, register


def _token(
    secret: str, sub: str, *, algorithm: str = "HS256", expires_in: int = 3600, **claims
) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": sub, "username": "someone", "iat": now, "exp": now + expires_in, **claims},
        secret,
        algorithm=algorithm,
    )


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def _refused(client, token: str) -> None:
    response = client.post(
        "/api/v1/tweets",
        json={"content": "as someone else"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
def victim(client):
    return register(client, "victim")


def test_an_unsigned_token_is_refused(client, victim):
    header = _b64({"alg": "none", "typ": "JWT"})
    payload = _b64(
        {
            "sub": victim.user_id,
            "username": victim.username,
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
        }
    )
    _refused(client, f"{header}.{payload}.")


def test_a_token_signed_with_another_secret_is_refused(client, victim):
    _refused(client, _token("not the deployment's secret at all, 32+ bytes", victim.user_id))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_another_algorithm_is_refused_even_with_the_right_secret(client, stack, victim, algorithm):
    _refused(client, _token(stack.settings.jwt_secret, victim.user_id, algorithm=algorithm))


def test_an_expired_token_is_refused(client, stack, victim):
    _refused(client, _token(stack.settings.jwt_secret, victim.user_id, expires_in=-5))


def test_a_tampered_token_is_refused(client, victim):
    attacker = register(client, "attacker")
    header, _, signature = attacker.token.split(".")
    payload = _b64(
        {
            "sub": victim.user_id,
            "username": victim.username,
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
        }
    )
    _refused(client, f"{header}.{payload}.{signature}")


def test_a_token_of_a_user_that_does_not_exist_cannot_write(client, stack):
    _refused(client, _token(stack.settings.jwt_secret, "999999999999999999"))


def test_garbage_and_missing_tokens_are_refused(client):
    for value in ("Bearer", "Bearer x.y.z", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 5000):
        response = client.post(
            "/api/v1/tweets", json={"content": "x"}, headers={"Authorization": value}
        )
        assert response.status_code == 401, (value[:20], response.text)
    assert client.post("/api/v1/tweets", json={"content": "x"}).status_code == 401


def test_a_user_cannot_delete_or_act_for_another(client, victim):
    attacker = register(client, "attacker")
    tweet_id = post(client, victim, "mine")
    response = client.delete(f"/api/v1/tweets/{tweet_id}", headers=attacker.auth)
    assert response.status_code == 403
    # Still there (read as its author, who reads their own writes).
    assert client.get(f"/api/v1/tweets/{tweet_id}", headers=victim.auth).status_code == 200
    # The actor is always the token's user: a body cannot name another.
    response = client.post(
        "/api/v1/tweets",
        headers=attacker.auth,
        json={"content": "hi", "author_id": victim.user_id, "actor_id": victim.user_id},
    )
    assert response.status_code in (201, 422)
    if response.status_code == 201:
        shown = client.get(
            f"/api/v1/tweets/{response.json()['tweet_id']}", headers=attacker.auth
        ).json()
        assert shown["user"]["id"] == attacker.user_id
