"""A local-directory image store: `<root>/ab/cd/<id>.<kind>`, written atomically."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from gateway.errors import NotFoundError, StoreUnavailableError
from gateway.store.base import SUFFIX, Kind, check_id


class LocalImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, image_id: str, kind: Kind) -> Path:
        image_id = check_id(image_id)  # hex only: no separators, no dots
        return self.root / image_id[:2] / image_id[2:4] / f"{image_id}.{SUFFIX[kind]}"

    async def put(self, image_id: str, kind: Kind, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(image_id, kind), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write, fsync, rename: a crash leaves the old file or the new one, never half.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot write the image store: {exc}") from exc

    async def get(self, image_id: str, kind: Kind) -> bytes:
        path = self._path(image_id, kind)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise NotFoundError(f"no {kind} for image {image_id}", code="image_not_found") from exc

    async def exists(self, image_id: str, kind: Kind) -> bool:
        return await asyncio.to_thread(self._path(image_id, kind).exists)

    async def delete(self, image_id: str) -> None:
        for kind in SUFFIX:
            await asyncio.to_thread(self._path(image_id, kind).unlink, missing_ok=True)

    async def ids(self) -> list[str]:
        def scan() -> list[str]:
            return sorted(p.name.split(".")[0] for p in self.root.glob("*/*/*.orig"))

        return await asyncio.to_thread(scan)

    async def ping(self) -> bool:
        return await asyncio.to_thread(lambda: os.access(self.root, os.W_OK))

    async def close(self) -> None:
        return None
