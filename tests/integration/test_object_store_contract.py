"""One contract for the object store port, run against every adapter: the embedded store (a
directory whose URLs the session stack's API serves), the S3 store on the S3 API stand-in
(moto), and on a real S3 when one is configured."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from urllib.parse import quote

import httpx
import pytest

from infra.embedded_object_store import OBJECTS_PATH, EmbeddedObjectStore
from infra.object_stores import media_base_url
from infra.s3_object_store import S3ObjectStore
from infra.settings import Settings
from tests.integration.conftest import NO_REAL_S3, REAL_S3_BUCKET
from tests.support.images import jpeg, png

PHOTO = jpeg(64, 48)


def new_key() -> str:
    return f"media/{uuid.uuid4().hex}/original"


class ObjectStoreContract:
    """Subclasses provide the `store` fixture; `checks_signatures` says whether the server
    behind it refuses a presigned URL that was changed or has expired."""

    checks_signatures = True

    def run(self, coroutine):
        return asyncio.run(coroutine)

    def upload(self, store, key: str, data: bytes, content_type: str = "image/jpeg"):
        request = self.run(store.presign_upload(key, content_type, len(data), 60))
        assert request.method == "PUT"
        return httpx.put(request.url, content=data, headers=request.headers, timeout=10)

    def test_bytes_put_through_an_upload_url_are_read_back_and_downloaded(self, store):
        key = new_key()
        assert self.upload(store, key, PHOTO).status_code in (200, 204)
        assert self.run(store.read(key, 10**6)) == PHOTO
        assert self.run(store.read(key, 10)) == PHOTO[:10]
        assert self.run(store.size(key)) == len(PHOTO)
        download = self.run(store.presign_download(key, 60))
        answer = httpx.get(download.url, timeout=10)
        assert answer.status_code == 200 and answer.content == PHOTO

    def test_an_object_that_is_not_there_reads_as_none(self, store):
        key = new_key()
        assert self.run(store.read(key, 100)) is None
        assert self.run(store.size(key)) is None

    def test_written_objects_are_replaced_and_deleted(self, store):
        key, other = new_key(), new_key()
        self.run(store.write(key, PHOTO, "image/jpeg"))
        self.run(store.write(key, png(8, 8), "image/png"))
        self.run(store.write(other, PHOTO, "image/jpeg"))
        assert self.run(store.read(key, 10**6)) == png(8, 8)
        self.run(store.delete([key, new_key()]))  # a key with no object is no error
        assert self.run(store.size(key)) is None
        assert self.run(store.size(other)) == len(PHOTO)

    def test_a_download_url_fetches_its_own_object_only(self, store):
        if not self.checks_signatures:
            pytest.skip("the S3 API stand-in does not check presigned URLs' signatures")
        mine, theirs = new_key(), new_key()
        self.run(store.write(mine, PHOTO, "image/jpeg"))
        self.run(store.write(theirs, png(8, 8), "image/png"))
        url = self.run(store.presign_download(mine, 60)).url
        forged = url.replace(quote(mine), quote(theirs))
        assert forged != url
        answer = httpx.get(forged, timeout=10)
        assert answer.status_code == 403 and answer.content != png(8, 8)
        # ...and an upload URL does not read, nor a download URL write.
        upload = self.run(store.presign_upload(mine, "image/jpeg", 10, 60))
        assert httpx.get(upload.url, timeout=10).status_code == 403
        assert httpx.put(url, content=b"x", timeout=10).status_code == 403
        assert self.run(store.read(mine, 10**6)) == PHOTO

    def test_a_public_object_is_served_to_anyone_at_the_media_base_url(self, store, settings):
        base = media_base_url(settings)
        public, private = f"public/{new_key()}", new_key()
        self.run(store.write(public, PHOTO, "image/jpeg"))
        self.run(store.write(private, PHOTO, "image/jpeg"))
        answer = httpx.get(base + public, timeout=10)  # no signature, no credentials
        assert answer.status_code == 200 and answer.content == PHOTO
        if self.checks_signatures:  # the stand-in serves anything to anyone
            assert httpx.get(base + private, timeout=10).status_code == 403

    def test_an_expired_url_is_refused(self, store):
        if not self.checks_signatures:
            pytest.skip("the S3 API stand-in does not check presigned URLs' expiry")
        key = new_key()
        request = self.run(store.presign_upload(key, "image/jpeg", len(PHOTO), 1))
        while time.time() < request.expires_at + 1:  # until the clock has passed it
            time.sleep(0.1)
        answer = httpx.put(request.url, content=PHOTO, headers=request.headers, timeout=10)
        assert answer.status_code == 403
        assert self.run(store.size(key)) is None


class TestEmbeddedObjectStore(ObjectStoreContract):
    @pytest.fixture
    def settings(self, stack, api_url) -> Settings:
        return stack.settings.model_copy(update={"public_url": api_url})

    @pytest.fixture
    def store(self, stack, api_url):
        # The session API's own store: the same directory, URL and secret.
        settings = stack.settings
        return EmbeddedObjectStore(settings.media_directory, api_url, settings.jwt_secret)

    def test_an_upload_url_takes_no_more_bytes_than_it_was_signed_for(self, store):
        key = new_key()
        request = self.run(store.presign_upload(key, "image/jpeg", len(PHOTO) - 1, 60))
        answer = httpx.put(request.url, content=PHOTO, headers=request.headers, timeout=10)
        assert answer.status_code == 413
        assert self.run(store.size(key)) is None

    @pytest.mark.parametrize(
        "path",
        [
            "..%2F..%2Fjwt-secret",
            "media/%2e%2e/%2e%2e/jwt-secret",
            "%2Fetc%2Fpasswd",
            "media/..%5C..%5Cjwt-secret",
        ],
    )
    def test_a_key_that_would_step_outside_the_store_is_refused(self, store, stack, api_url, path):
        url = f"{api_url}{OBJECTS_PATH}{path}?expires=9999999999&signature=x"
        for method in ("GET", "PUT"):
            answer = httpx.request(method, url, content=b"x", timeout=10)
            assert answer.status_code in (400, 404), answer.text
            assert answer.headers["content-type"] == "application/problem+json"
        assert stack.settings.jwt_secret not in answer.text


class TestS3ObjectStoreOnTheApiStandIn(ObjectStoreContract):
    checks_signatures = False  # moto serves any presigned URL

    @pytest.fixture
    def bucket(self) -> str:
        return f"chirp-test-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def settings(self, s3_api_stand_in, bucket) -> Settings:
        return Settings(object_store="s3", s3_endpoint_url=s3_api_stand_in.url, s3_bucket=bucket)

    @pytest.fixture
    def store(self, s3_api_stand_in, bucket):
        store = S3ObjectStore(
            bucket,
            endpoint_url=s3_api_stand_in.url,
            region="us-east-1",
            access_key_id="stand-in",
            secret_access_key="stand-in",
        )
        self.run(store.setup())
        return store


@pytest.mark.skipif(REAL_S3_BUCKET is None, reason=NO_REAL_S3)
class TestS3ObjectStoreOnRealS3(ObjectStoreContract):
    @pytest.fixture
    def settings(self) -> Settings:
        # CHIRP_S3_* and CHIRP_MEDIA_BASE_URL (a CDN, or the bucket's URL) as deployed.
        return Settings(object_store="s3", s3_bucket=REAL_S3_BUCKET)

    @pytest.fixture
    def store(self):
        assert REAL_S3_BUCKET is not None
        store = S3ObjectStore(
            REAL_S3_BUCKET,
            endpoint_url=os.environ.get("CHIRP_S3_ENDPOINT_URL"),
            region=os.environ.get("CHIRP_S3_REGION"),
        )
        self.run(store.setup())
        return store
