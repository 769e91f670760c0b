"""The image formats the gateway takes: their openers (registered here, once) and how to tell
them from their first bytes. Ingest, EXIF reading and the CLI's folder walk all ask here, so
they agree on what an image is."""

from __future__ import annotations

import struct

import pillow_heif
from PIL import Image, features

# Pillow's own plugins first, so none of them can replace an opener registered below.
Image.init()
pillow_heif.register_heif_opener()
# Pillow >= 11.2 decodes AVIF itself (pillow-heif >= 1.0 dropped it); older pairs need
# pillow-heif's opener.
_register_avif = getattr(pillow_heif, "register_avif_opener", None)
if not features.check("avif") and _register_avif is not None:
    _register_avif()
AVIF_SUPPORTED = bool(features.check("avif")) or _register_avif is not None

ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "HEIF", "MPO")
# What `Image.open` may try, in this order (AVIF before HEIF: both are ISO-BMFF). MPO has no
# opener of its own: the JPEG opener returns an MPO image when the file is one.
OPENERS = tuple(f for f in ALLOWED_FORMATS if f != "MPO" and (f != "AVIF" or AVIF_SUPPORTED))
HEAD_BYTES = 32  # enough of a file for `looks_like_allowed_image`
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"} if AVIF_SUPPORTED else set()


def looks_like_allowed_image(head: bytes) -> bool:
    """Whether bytes start like an allowed format (a failed open then means damage)."""
    if head.startswith(_SIGNATURES):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return True
    if head.startswith(b"BM") and len(head) >= 18:
        return struct.unpack("<I", head[14:18])[0] in _BMP_HEADER_SIZES
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS | _AVIF_BRANDS
