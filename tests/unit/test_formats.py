"""One test of first bytes for the whole project: the CLI's folder walk sends exactly the
files ingest would call images (the two used to disagree on `BM` and `ftyp` files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gateway.cli.discover import find_images
from gateway.formats import looks_like_allowed_image
from tests.unit.images import encode

PICTURE = Image.new("RGB", (32, 24), (200, 40, 90))


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
def test_every_allowed_format_is_recognised_by_its_first_bytes(kind: str) -> None:
    assert looks_like_allowed_image(encode(PICTURE, kind)[:32])


@pytest.mark.parametrize(
    "head",
    [
        b"BM" + b"\x00" * 30,  # a text file that starts with "BM" ("BMW service log")
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20,  # an MP4 video, not HEIF/AVIF
        b"RIFF\x00\x00\x00\x00WAVE",  # audio
        b"%PDF-1.7",
        b"",
    ],
)
def test_look_alikes_are_not_images(head: bytes) -> None:
    assert not looks_like_allowed_image(head)


def test_the_folder_walk_takes_only_what_ingest_would_take(tmp_path: Path) -> None:
    (tmp_path / "photo").write_bytes(encode(PICTURE, "PNG"))  # no extension: sniffed
    (tmp_path / "video").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    (tmp_path / "notes").write_bytes(b"BMW service log, 2024\n" * 4)
    skipped: list[Path] = []
    assert list(find_images([tmp_path], skipped)) == [tmp_path / "photo"]
    assert sorted(p.name for p in skipped) == ["notes", "video"]
