"""The viewer's picture: a JPEG of at most DISPLAY_SIZE px for any stored format.

Browsers cannot show HEIC, most TIFFs or 16-bit PNGs, and an original may be 50 MB with
its GPS position in it. The display rendition is decoded once, turned upright (EXIF
orientation), sRGB 8-bit, stripped of every metadata block, and kept in a small in-process
cache: the bytes behind an id never change, so neither does its rendition.
"""

from __future__ import annotations

import io
from collections import OrderedDict

from PIL import Image

from gateway.config import LimitSettings
from gateway.observability import stage

# The decoder ingest uses: the same pixel limits, HEIF/AVIF openers and orientation table.
from gateway.preprocess import _ORIENTATIONS, _exif_orientation, _open, to_rgb
from gateway.services.backends import Backends
from gateway.services.images import blob

DISPLAY_SIZE = 2048
DISPLAY_QUALITY = 85
_CACHE_BYTES = 64 * 1024 * 1024  # a screenful of viewer pages, per gateway process


class _Renditions:
    """Least recently used renditions, bounded by their total size."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        data = self.items.get(key)
        if data is not None:
            self.items.move_to_end(key)
        return data

    def put(self, key: str, data: bytes) -> None:
        if key in self.items or len(data) > self.budget:
            return
        self.items[key] = data
        self.used += len(data)
        while self.used > self.budget:
            _, dropped = self.items.popitem(last=False)
            self.used -= len(dropped)


_renditions = _Renditions(_CACHE_BYTES)


def render(data: bytes, limits: LimitSettings, size: int = DISPLAY_SIZE) -> bytes:
    """`data` (any format ingest accepts) as an upright JPEG no larger than `size` px,
    with no EXIF, ICC, XMP or comment block (so no location)."""
    img = _open(data, limits)
    if img.format in ("JPEG", "MPO"):
        img.draft("RGB", (size, size))  # decode at the smallest scale still above `size`
    img.load()
    upright = to_rgb(img)
    # Read after `load()`, as ingest does: pillow-heif and the TIFF plugin apply and drop the
    # tag themselves, so any tag still present has not been applied.
    method = _ORIENTATIONS.get(_exif_orientation(img))
    if method is not None:
        upright = upright.transpose(method)
    if upright is img:
        upright = img.copy()  # thumbnail() works in place; never on the decoder's image
    upright.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    clean = Image.new("RGB", upright.size)
    clean.paste(upright)  # a fresh image: no `info` (EXIF, ICC, comments) rides along
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=DISPLAY_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


async def display(backends: Backends, image_id: str) -> bytes:
    """The stored image's display rendition (cached per process)."""
    cached = _renditions.get(image_id)
    if cached is not None:
        return cached
    data = await blob(backends, image_id, "original")
    with stage("decode"):
        rendition = await backends.run_cpu(render, data, backends.settings.limits)
    _renditions.put(image_id, rendition)
    return rendition
