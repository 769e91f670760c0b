"""Finding images in folders: by extension, and by sniffing files without a known one."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
    ".heic", ".heif", ".avif", ".mpo",
}  # fmt: skip
# Files with these extensions are never images; skip them without opening them.
NOT_IMAGES = {".txt", ".md", ".json", ".xml", ".html", ".py", ".db", ".zip", ".xmp", ".pdf", ".svg"}
_MAGIC = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


def looks_like_image(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    if head.startswith(_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp"  # HEIF / AVIF


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
