"""Uploading media through the API as a client does: reserve, PUT to the presigned URL,
complete (docs/media.md)."""

from __future__ import annotations

import httpx

from tests.support.clients import User


def start(client: httpx.Client, user: User, content_type: str, byte_size: int) -> dict:
    body = {"content_type": content_type, "byte_size": byte_size}
    response = client.post("/api/v1/media", headers=user.auth, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def put(ticket: dict, data: bytes) -> httpx.Response:
    # No token: the URL alone allows the upload.
    return httpx.put(ticket["upload_url"], content=data, headers=ticket["upload_headers"])


def complete(client: httpx.Client, user: User, media_id: str) -> httpx.Response:
    return client.post(f"/api/v1/media/{media_id}/complete", headers=user.auth)


def upload(client, user, data: bytes, declared: str = "image/jpeg") -> httpx.Response:
    ticket = start(client, user, declared, max(len(data), 1))
    assert put(ticket, data).status_code == 204
    return complete(client, user, ticket["media_id"])


def uploaded_id(client, user, data: bytes, declared: str = "image/jpeg") -> str:
    """The id of a completed upload of `data`."""
    answer = upload(client, user, data, declared)
    assert answer.status_code == 200, answer.text
    return answer.json()["media_id"]
