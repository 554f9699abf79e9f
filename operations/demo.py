"""A small demo world, written through the public API like any client would."""

from __future__ import annotations

import httpx

DEMO_USERS = [
    ("alice", "Alice Liddell", "Curiouser and curiouser."),
    ("bob", "Bob Dylan", "The times they are a-changin'."),
    ("carol", "Carol Danvers", "Higher, further, faster."),
]
DEMO_FOLLOWS = [("alice", "bob"), ("alice", "carol"), ("bob", "alice"), ("carol", "alice")]
DEMO_TWEETS = [
    ("bob", "Hello, Chirp! #firstchirp"),
    ("carol", "Streams all the way down. #kafka #eventsourcing"),
    ("alice", "Down the rabbit hole with @bob and @carol #firstchirp"),
]
DEMO_PASSWORD = "demo-password-1"


def seed_demo(base_url: str) -> bool:
    """Register the demo users, follow and post; False if they were there already (a
    restarted stack keeps its data: docs/local-stack.md), and then nothing is written."""
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for username, display_name, bio in DEMO_USERS:
            created = client.post(
                "/api/v1/users",
                json={
                    "username": username,
                    "display_name": display_name,
                    "bio": bio,
                    "password": DEMO_PASSWORD,
                },
            )
            if created.status_code == 201:
                tokens[username] = created.json()["access_token"]
                ids[username] = created.json()["user_id"]
                continue
            if created.status_code != 409:
                created.raise_for_status()
        if len(tokens) < len(DEMO_USERS):
            return False
        for follower, followee in DEMO_FOLLOWS:
            client.post(
                f"/api/v1/users/{ids[followee]}/follow", headers=_auth(tokens[follower])
            ).raise_for_status()
        for author, content in DEMO_TWEETS:
            client.post(
                "/api/v1/tweets", json={"content": content}, headers=_auth(tokens[author])
            ).raise_for_status()
    return True


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
