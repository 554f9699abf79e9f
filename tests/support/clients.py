"""A thin API client for tests: register users, act as them."""

from __future__ import annotations

import itertools
import os
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
    response = client.post("/api/v1/users", json={
        "username": username, "display_name": f"Test {username}", "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return User(body["user_id"], body["username"], body["access_token"])
