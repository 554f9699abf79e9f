"""Login and sign-up throttles on an API of their own, with short lockouts: a username is locked
out after its failed logins from any address and an address after its failed logins for any
usernames, with 429 problem+json and Retry-After, until the lockout ends; the next lockout is
longer; a successful login forgets the username's failures; an address may sign up only so
many times an hour. Each test is its own client addresses (X-Forwarded-For, which the API
trusts from 127.0.0.1)."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from tests.conftest import TEST_PASSWORD_COST
from tests.support.clients import PASSWORD, User, register, unique_username

USERNAME_LIMIT = 3
ADDRESS_LIMIT = 6
LOCKOUT_SECONDS = 2
SIGNUPS_PER_HOUR = 3
_addresses = (f"10.0.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture(scope="module")
def api_url(stack):
    """An API process with login and sign-up limits (the suite's others have none)."""
    return stack.start_api(
        **TEST_PASSWORD_COST,
        CHIRP_LOGIN_FAILURES_PER_USERNAME=str(USERNAME_LIMIT),
        CHIRP_LOGIN_FAILURES_PER_IP=str(ADDRESS_LIMIT),
        CHIRP_LOGIN_FAILURE_WINDOW_SECONDS="60",
        CHIRP_LOGIN_LOCKOUT_SECONDS=str(LOCKOUT_SECONDS),
        CHIRP_LOGIN_LOCKOUT_MAX_SECONDS="60",
        CHIRP_SIGNUP_PER_IP_PER_HOUR=str(SIGNUPS_PER_HOUR),
    )


@pytest.fixture
def client_at(api_url):
    """Clients that each come from a client address no other test uses."""
    clients: list[httpx.Client] = []

    def client() -> httpx.Client:
        clients.append(
            httpx.Client(
                base_url=api_url, timeout=30, headers={"X-Forwarded-For": next(_addresses)}
            )
        )
        return clients[-1]

    yield client
    for each in clients:
        each.close()


def _login(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def _throttled(response: httpx.Response) -> int:
    """The Retry-After of a 429 problem answer."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def _wait_out(
    client: httpx.Client, username: str, retry_after: int, password: str = PASSWORD
) -> tuple[httpx.Response, float]:
    """Log in again and again until the answer is not 429; that answer, and how long it took."""
    started = time.monotonic()
    while True:
        response = _login(client, username, password)
        waited = time.monotonic() - started
        if response.status_code != 429 or waited > retry_after + 5:
            return response, waited
        time.sleep(0.1)


def test_a_username_is_locked_out_after_failures_from_any_address_until_the_lockout_ends(client_at):
    user = register(client_at(), "lock")
    for _ in range(USERNAME_LIMIT):
        assert _login(client_at(), user.username, "wrong password").status_code == 401
    # Even the right password, from yet another address.
    locked = _login(client_at(), user.username)
    retry_after = _throttled(locked)
    assert retry_after <= LOCKOUT_SECONDS
    assert "too many failed logins" in locked.json()["detail"]

    # An unknown username locks out alike: the answer tells nothing of which names exist.
    nobody = unique_username("nobody")
    for _ in range(USERNAME_LIMIT):
        assert _login(client_at(), nobody).status_code == 401
    unknown = _login(client_at(), nobody)
    _throttled(unknown)
    assert unknown.json()["detail"] == locked.json()["detail"]

    answer, waited = _wait_out(client_at(), user.username, retry_after)
    assert answer.status_code == 200, answer.text
    assert waited >= retry_after - 1


def test_each_further_lockout_of_a_username_is_longer(client_at):
    user = register(client_at(), "again")
    for _ in range(USERNAME_LIMIT):
        _login(client_at(), user.username, "wrong password")
    first = _throttled(_login(client_at(), user.username))
    # The first answer after the lockout is a failure again (and counted).
    answer, _ = _wait_out(client_at(), user.username, first, "wrong password")
    assert answer.status_code == 401
    for _ in range(USERNAME_LIMIT - 1):
        _login(client_at(), user.username, "wrong password")
    second = _throttled(_login(client_at(), user.username))
    assert first <= LOCKOUT_SECONDS < second <= 2 * LOCKOUT_SECONDS


def test_a_successful_login_forgets_the_usernames_failures(client_at):
    user = register(client_at(), "reset")
    for _ in range(USERNAME_LIMIT - 1):
        assert _login(client_at(), user.username, "wrong password").status_code == 401
    assert _login(client_at(), user.username).status_code == 200
    for _ in range(USERNAME_LIMIT - 1):
        assert _login(client_at(), user.username, "wrong password").status_code == 401
    assert _login(client_at(), user.username).status_code == 200


def test_an_address_is_locked_out_after_failures_for_many_usernames(client_at):
    user: User = register(client_at(), "victim")
    stuffer = client_at()
    for _ in range(ADDRESS_LIMIT):  # one guess at each username: no username's limit is hit
        assert _login(stuffer, unique_username("stuff"), "guess").status_code == 401
    _throttled(_login(stuffer, user.username))
    assert _login(client_at(), user.username).status_code == 200  # from elsewhere


def test_an_address_may_sign_up_only_so_many_times_an_hour(client_at):
    flood = client_at()

    def sign_up() -> httpx.Response:
        return flood.post(
            "/api/v1/users",
            json={
                "username": unique_username("flood"),
                "display_name": "Flood",
                "password": PASSWORD,
            },
        )

    answers = [sign_up() for _ in range(SIGNUPS_PER_HOUR + 1)]
    assert [answer.status_code for answer in answers[:-1]] == [201] * SIGNUPS_PER_HOUR
    # Each says what is left of the address's bucket (docs/api.md).
    assert answers[0].headers["ratelimit-policy"] == f'"signups";q={SIGNUPS_PER_HOUR};w=3600'
    assert answers[-2].headers["ratelimit"].startswith('"signups";r=0;')
    refused = answers[-1]
    assert _throttled(refused) > 60  # a token comes back every 20 minutes
    assert "sign-ups per hour from one address" in refused.json()["detail"]
    register(client_at(), "other")
