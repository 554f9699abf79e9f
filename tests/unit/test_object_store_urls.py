"""The embedded object store's keys and presigned URLs, with no server: a URL allows one
method on one object until it expires, and no key reaches outside the store."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest

from infra.embedded_object_store import EmbeddedObjectStore, UrlRefused, UrlSigner
from infra.object_store import BadObjectKey, checked_key

SIGNER = UrlSigner("a deployment secret, long enough for tests")


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "media/../../etc/passwd",
        "media/..",
        "/etc/passwd",
        "media//x",
        "media/./x",
        "Media/1/original",
        "media/1/original\x00",
        "media\\..\\x",
        "",
        "a/" * 9 + "a",
    ],
)
def test_keys_that_could_step_outside_the_store_are_refused(key):
    with pytest.raises(BadObjectKey):
        checked_key(key)


def test_plain_keys_are_keys():
    assert checked_key("media/123/original") == "media/123/original"
    assert checked_key("media/123/thumb.webp") == "media/123/thumb.webp"


def test_a_signed_request_passes_until_it_expires():
    signature = SIGNER.signature("GET", "media/1/original", 1000)
    SIGNER.check("GET", "media/1/original", 1000, signature, now=999)
    with pytest.raises(UrlRefused, match="expired"):
        SIGNER.check("GET", "media/1/original", 1000, signature, now=1000)


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"key": "media/2/original"},
        {"expires_at": 2000},
        {"max_bytes": 10**9},
        {"content_type": "text/html"},
    ],
)
def test_a_signature_allows_only_the_method_object_expiry_size_and_type_it_was_made_for(change):
    signed = {
        "method": "PUT",
        "key": "media/1/original",
        "expires_at": 1000,
        "max_bytes": 5000,
        "content_type": "image/png",
    }
    signature = SIGNER.signature(**signed)
    if change == {"method": "PUT"}:
        change = {"method": "GET"}
    request = signed | change
    with pytest.raises(UrlRefused, match="signature"):
        SIGNER.check(
            request["method"],
            request["key"],
            request["expires_at"],
            signature,
            max_bytes=request["max_bytes"],
            content_type=request["content_type"],
            now=0,
        )


def test_another_deployments_secret_signs_nothing_here():
    other = UrlSigner("another deployment's secret").signature("GET", "media/1/original", 1000)
    with pytest.raises(UrlRefused):
        SIGNER.check("GET", "media/1/original", 1000, other, now=0)


def test_the_upload_url_carries_its_bound_and_the_headers_to_send(tmp_path):
    store = EmbeddedObjectStore(tmp_path, "http://api.example:8000/", "secret")
    upload = asyncio.run(store.presign_upload("media/7/original", "image/png", 4096, 60))
    url = urlsplit(upload.url)
    assert (url.netloc, url.path) == ("api.example:8000", "/api/v1/objects/media/7/original")
    query = parse_qs(url.query)
    assert query["max_bytes"] == ["4096"] and upload.headers == {"Content-Type": "image/png"}
    store.signer.check(
        "PUT",
        "media/7/original",
        int(query["expires"][0]),
        query["signature"][0],
        max_bytes=4096,
        content_type="image/png",
    )
    with pytest.raises(BadObjectKey):
        asyncio.run(store.presign_download("media/../../x", 60))
