"""The composition of the object store: which adapter the settings name."""

from __future__ import annotations

from infra.object_store import ObjectStore
from infra.settings import Settings


def object_store(settings: Settings, secret: str) -> ObjectStore:
    """The object store `settings` name; `secret` signs the embedded store's URLs."""
    if settings.object_store == "s3":
        from infra.s3_object_store import S3ObjectStore

        return S3ObjectStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    from infra.embedded_object_store import EmbeddedObjectStore

    return EmbeddedObjectStore(settings.media_directory, settings.api_public_url, secret)


def media_base_url(settings: Settings) -> str:
    """What a public object's key is appended to for the URL clients fetch it at."""
    if settings.media_base_url:
        return settings.media_base_url.rstrip("/") + "/"
    if settings.object_store == "s3":
        if settings.s3_endpoint_url:
            return f"{settings.s3_endpoint_url.rstrip('/')}/{settings.s3_bucket}/"
        region = settings.s3_region or "us-east-1"
        return f"https://{settings.s3_bucket}.s3.{region}.amazonaws.com/"
    from infra.embedded_object_store import OBJECTS_PATH

    # Served by the API itself: relative to whichever API origin the client reached (agents
    # render these too, and do not know it) unless the public URL is set.
    return (settings.public_url or "").rstrip("/") + OBJECTS_PATH
