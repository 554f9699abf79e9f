"""A thin API client for tests: register users, act as them."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass

import httpx

_counter = itertools.count()
PASSWORD = "correct horse battery"


def unique_username(prefix: str = "u") -> str:
    """A username no other test in this session uses (15 characters at most)."""
    return f"{prefix[:4]}{os.getpid() % 1000}_{next(_counter)}"[:15]


@dataclass
class User:
    user_id: str
    username: str
    token: str

    @property
    def id(self) -> int:
        return int(self.user_id)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(client: httpx.Client, prefix: str = "u") -> User:
    username = unique_username(prefix)
    response = client.post(
        "/api/v1/users",
        json={"username": username, "display_name": f"Test {username}", "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return User(body["user_id"], body["username"], body["access_token"])


def post(client: httpx.Client, user: User, content: str, **extra) -> str:
    response = client.post("/api/v1/tweets", headers=user.auth, json={"content": content, **extra})
    assert response.status_code == 201, response.text
    return response.json()["tweet_id"]


def follow(client: httpx.Client, follower: User, followee: User) -> None:
    response = client.post(f"/api/v1/users/{followee.user_id}/follow", headers=follower.auth)
    assert response.status_code == 200, response.text


def home(client: httpx.Client, user: User, cursor: str | None = None, limit: int = 20) -> dict:
    params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    response = client.get("/api/v1/timeline/home", headers=user.auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def home_ids(client: httpx.Client, user: User, limit: int = 100) -> list[str]:
    return [tweet["tweet_id"] for tweet in home(client, user, limit=limit)["tweets"]]


def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Poll `check()` until it returns a truthy value (other readers are eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
