"""The S3 object store (CHIRP_OBJECT_STORE=s3), through boto3: presigned URLs are S3's own
(SigV4, bound to the method, bucket, key and signed headers, expiring), so the bytes never
pass through the API. boto3 is synchronous: each call runs on a worker thread."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.object_store import PUBLIC_PREFIX, PresignedRequest, checked_key

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3ObjectStore:
    """ObjectStore in one bucket. `endpoint_url`: an S3-compatible server (None: AWS)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        # Path-style addressing: S3-compatible servers rarely resolve bucket subdomains.
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    async def setup(self) -> None:
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        except ClientError as error:
            if _code(error) not in _MISSING:
                raise
            where = {}
            if self.region and self.region != "us-east-1":
                where = {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            await asyncio.to_thread(self.client.create_bucket, Bucket=self.bucket, **where)
            await asyncio.to_thread(self._publish_public_prefix)

    def _publish_public_prefix(self) -> None:
        """Let anyone read `public/*` (what tweets link to) and nothing else, on a bucket this
        store made; a bucket made by others keeps its own policy (docs/media.md)."""
        self.client.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        )
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicMediaFiles",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{self.bucket}/{PUBLIC_PREFIX}*",
                }
            ],
        }
        self.client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))

    async def presign_upload(
        self, key: str, content_type: str, byte_size: int, expires_in: int
    ) -> PresignedRequest:
        # S3 cannot bound a presigned PUT's size (only a POST policy can): the upload's
        # completion checks the size that arrived (api/media.py).
        params = {"Bucket": self.bucket, "Key": checked_key(key), "ContentType": content_type}
        url = await asyncio.to_thread(
            self.client.generate_presigned_url, "put_object", Params=params, ExpiresIn=expires_in
        )
        return PresignedRequest("PUT", url, _expiry(expires_in), {"Content-Type": content_type})

    async def presign_download(self, key: str, expires_in: int) -> PresignedRequest:
        params = {"Bucket": self.bucket, "Key": checked_key(key)}
        url = await asyncio.to_thread(
            self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires_in
        )
        return PresignedRequest("GET", url, _expiry(expires_in))

    async def read(self, key: str, max_bytes: int) -> bytes | None:
        def read() -> bytes | None:
            try:
                answer = self.client.get_object(
                    Bucket=self.bucket, Key=checked_key(key), Range=f"bytes=0-{max_bytes - 1}"
                )
            except ClientError as error:
                if _code(error) in _MISSING | {"InvalidRange"}:
                    # An empty object has no byte 0: S3 refuses the range.
                    return b"" if _code(error) == "InvalidRange" else None
                raise
            return answer["Body"].read()

        return await asyncio.to_thread(read)

    async def size(self, key: str) -> int | None:
        try:
            head = await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=checked_key(key)
            )
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise
        return int(head["ContentLength"])

    async def write(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=checked_key(key),
            Body=data,
            ContentType=content_type,
        )

    async def delete(self, keys: list[str]) -> None:
        objects = [{"Key": checked_key(key)} for key in keys]
        for start in range(0, len(objects), 1000):  # S3's most per request
            await asyncio.to_thread(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": objects[start : start + 1000], "Quiet": True},
            )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _expiry(expires_in: int) -> int:
    return int(time.time()) + expires_in
