"""No password, token or signing secret ever reaches a log, whatever the request did."""

from __future__ import annotations

import time

from tests.support.clients import PASSWORD, register

# Distinctive, so that a match in a log is this test's and nothing else.
SECRET_PASSWORD = "hunter2-never-logged-7f3a9c"


def test_passwords_tokens_and_the_signing_secret_are_in_no_log(stack, client):
    user = register(client, "secret")
    registered = client.post(
        "/api/v1/users",
        json={
            "username": f"s{int(time.time() * 1000) % 10**12}",
            "display_name": "Secret",
            "password": SECRET_PASSWORD,
        },
    )
    assert registered.status_code == 201
    token = registered.json()["access_token"]
    login = client.post(
        "/api/v1/auth/token",
        json={"username": registered.json()["username"], "password": SECRET_PASSWORD},
    )
    assert login.status_code == 200
    # Failures too: a wrong password, a bad token, a too-long password, a malformed body.
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": user.username, "password": SECRET_PASSWORD}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/tweets", json={"content": "x"}, headers={"Authorization": f"Bearer {token}x"}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/users",
            json={"username": "x", "display_name": "x", "password": SECRET_PASSWORD * 20},
        ).status_code
        == 422
    )
    assert client.post(
        "/api/v1/auth/token",
        content=b'{"username": "a", "password": "' + SECRET_PASSWORD.encode() + b'"',
        headers={"Content-Type": "application/json"},
    ).status_code in (400, 422)
    assert (
        client.post(
            "/api/v1/tweets",
            json={"content": "logged?"},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 201
    )
    # The live-updates stream takes the token in its query (for EventSource): refused, and
    # accepted (closed once it is open).
    stream = "/api/v1/streaming/home"
    assert client.get(stream, params={"access_token": f"{token}x"}).status_code == 401
    with client.stream("GET", stream, params={"access_token": token}) as opened:
        assert opened.status_code == 200
    time.sleep(1)  # let the processes flush their logs

    secrets = {
        "a password": SECRET_PASSWORD,
        "the default test password": PASSWORD,
        "an access token": token,
        "a login token": login.json()["access_token"],
        "the signing secret": stack.settings.jwt_secret,
    }
    logs = sorted((stack.data_dir / "logs").rglob("*.log"))
    assert logs
    found = {
        (what, path.name)
        for path in logs
        for what, secret in secrets.items()
        if secret in path.read_text(errors="replace")
    }
    assert found == set()
