"""An S3-compatible image store (MinIO, AWS S3): what several gateway replicas share."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.config import StoreSettings
from gateway.errors import NotFoundError, StoreUnavailableError
from gateway.store.base import SUFFIX, Kind, check_id

_MISSING = ("404", "NoSuchKey", "NotFound")


class S3ImageStore:
    def __init__(self, settings: StoreSettings) -> None:
        self.bucket = settings.s3_bucket
        self._s3: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key.get_secret_value() or None,
            aws_secret_access_key=settings.s3_secret_key.get_secret_value() or None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3),
        )

    @staticmethod
    def _key(image_id: str, kind: Kind) -> str:
        return f"images/{check_id(image_id)}.{SUFFIX[kind]}"

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._s3, method), **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFoundError("no such image", code="image_not_found") from exc
            raise StoreUnavailableError(f"image store error: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"image store unreachable: {exc}") from exc

    async def ensure_bucket(self) -> None:
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except NotFoundError:
            await self._call("create_bucket", Bucket=self.bucket)

    async def put(self, image_id: str, kind: Kind, data: bytes) -> None:
        await self._call("put_object", Bucket=self.bucket, Key=self._key(image_id, kind), Body=data)

    async def get(self, image_id: str, kind: Kind) -> bytes:
        response = await self._call("get_object", Bucket=self.bucket, Key=self._key(image_id, kind))
        return bytes(await asyncio.to_thread(response["Body"].read))

    async def exists(self, image_id: str, kind: Kind) -> bool:
        try:
            await self._call("head_object", Bucket=self.bucket, Key=self._key(image_id, kind))
            return True
        except NotFoundError:
            return False

    async def delete(self, image_id: str) -> None:
        keys = [{"Key": self._key(image_id, kind)} for kind in SUFFIX]
        await self._call("delete_objects", Bucket=self.bucket, Delete={"Objects": keys})

    async def ids(self) -> list[str]:
        def scan() -> list[str]:
            found: list[str] = []
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix="images/"
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = str(item["Key"])
                    if key.endswith(".orig"):
                        found.append(key.removeprefix("images/").removesuffix(".orig"))
            return sorted(found)

        try:
            return await asyncio.to_thread(scan)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailableError(f"image store unreachable: {exc}") from exc

    async def ping(self) -> bool:
        try:
            await self._call("head_bucket", Bucket=self.bucket)
            return True
        except Exception:
            return False

    async def close(self) -> None:
        return None
