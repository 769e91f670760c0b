"""Finding images in folders: by extension, and by sniffing files without a known one."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from gateway.formats import HEAD_BYTES, looks_like_allowed_image

EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
    ".heic", ".heif", ".avif", ".mpo",
}  # fmt: skip
# Files with these extensions are never images; skip them without opening them.
NOT_IMAGES = {".txt", ".md", ".json", ".xml", ".html", ".py", ".db", ".zip", ".xmp", ".pdf", ".svg"}


def looks_like_image(path: Path) -> bool:
    """The gateway's own test of a file's first bytes, so the CLI sends what it will take."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return False
    return looks_like_allowed_image(head)


def find_images(paths: Iterable[Path], skipped: list[Path] | None = None) -> Iterator[Path]:
    """Every image under `paths`, recursively, in a stable order; hidden folders skipped.
    Files seen and passed over (hidden, or not images) are appended to `skipped`."""
    for root in paths:
        if root.is_file():
            yield root
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = Path(folder) / name
                suffix = path.suffix.lower()
                if not name.startswith(".") and (
                    suffix in EXTENSIONS or (suffix not in NOT_IMAGES and looks_like_image(path))
                ):
                    yield path
                elif skipped is not None:
                    skipped.append(path)
