"""The image store interface, and the id rule that keeps user input off the filesystem."""

from __future__ import annotations

import re
from typing import Literal, Protocol

from gateway.errors import NotFoundError

Kind = Literal["original", "thumbnail", "record"]
SUFFIX: dict[Kind, str] = {"original": "orig", "thumbnail": "thumb.jpg", "record": "json"}
_ID = re.compile(r"[0-9a-f]{64}")


def check_id(image_id: str) -> str:
    """Only a sha256 hex digest is an id; anything else (`../etc`, `%2e`) is simply unknown."""
    if not _ID.fullmatch(image_id):
        raise NotFoundError(f"no image with id {image_id[:80]!r}", code="image_not_found")
    return image_id


class ImageStore(Protocol):
    """Content-addressed blobs: the original bytes, a JPEG thumbnail and a JSON record."""

    async def put(self, image_id: str, kind: Kind, data: bytes) -> None: ...

    async def get(self, image_id: str, kind: Kind) -> bytes:
        """Raises NotFoundError (code image_not_found) when absent."""
        ...

    async def exists(self, image_id: str, kind: Kind) -> bool: ...

    async def delete(self, image_id: str) -> None:
        """Removes every blob of the image; absent blobs are fine."""
        ...

    async def ids(self) -> list[str]:
        """Every image id with a stored original (for repair and reindex)."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
