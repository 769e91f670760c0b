"""Image bytes built in memory, shared by the unit and the integration tests."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from typing import Any

from PIL import Image


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def png(
    width: int,
    height: int,
    *,
    bit_depth: int = 8,
    colour_type: int = 0,
    rows: bytes | None = None,
) -> bytes:
    """A PNG written by hand: any bit depth, or only a header claiming any size (rows=None
    writes one tiny IDAT, so the file stays small whatever it claims)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def distinct_jpegs(base: Image.Image, count: int, seed: int) -> list[bytes]:
    """`count` JPEGs of `base` (256x256) that differ in pixels, so in ids as well."""
    picture = base.convert("RGB").resize((256, 256))
    out = []
    for i in range(count):
        variant = picture.copy()
        # An 8x8 patch, one whole JPEG block: a single pixel can vanish in compression,
        # and then two "distinct" images share an id.
        variant.paste((seed % 256, (i * 7) % 256, (i // 37) % 256), (0, 0, 8, 8))
        # The seed again, in a block of its own with far-apart values: seeds 1 and 2 alone
        # (red 1 vs 2) gave byte-identical JPEGs, so two tests shared an image.
        variant.paste(((seed * 53) % 256, (seed * 101) % 256, (seed * 29) % 256), (8, 0, 16, 8))
        out.append(encode(variant, "JPEG", quality=95))
    assert len({hashlib.sha256(d).digest() for d in out}) == count
    return out
