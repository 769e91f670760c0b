"""Picks the image store the settings ask for."""

from __future__ import annotations

from gateway.config import StoreSettings
from gateway.store.base import ImageStore
from gateway.store.local import LocalImageStore


async def open_store(settings: StoreSettings) -> ImageStore:
    if settings.kind == "s3":
        from gateway.store.s3 import S3ImageStore

        store = S3ImageStore(settings)
        await store.ensure_bucket()
        return store
    return LocalImageStore(settings.path)
