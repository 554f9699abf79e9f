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


def seed_demo(base_url: str) -> dict[str, str]:
    """Register the demo users (or log them in), follow and post; return their tokens."""
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for username, display_name, bio in DEMO_USERS:
            created = client.post("/api/v1/users", json={
                "username": username, "display_name": display_name, "bio": bio,
                "password": DEMO_PASSWORD})
            if created.status_code == 201:
                tokens[username] = created.json()["access_token"]
                ids[username] = created.json()["user_id"]
                continue
            created.raise_for_status() if created.status_code != 409 else None
            login = client.post("/api/v1/auth/token",
                                json={"username": username, "password": DEMO_PASSWORD})
            login.raise_for_status()
            tokens[username] = login.json()["access_token"]
            ids[username] = _subject(tokens[username])
        for follower, followee in DEMO_FOLLOWS:
            client.post(f"/api/v1/users/{ids[followee]}/follow",
                        headers=_auth(tokens[follower])).raise_for_status()
        for author, content in DEMO_TWEETS:
            client.post("/api/v1/tweets", json={"content": content},
                        headers=_auth(tokens[author])).raise_for_status()
    return tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _subject(token: str) -> str:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})["sub"]
