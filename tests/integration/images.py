"""Unusual but valid images, and broken ones, built in memory for HTTP tests."""

from __future__ import annotations

import numpy as np
from PIL import Image

from gateway.quality.samples import sample_arrays
from tests.imaging import encode, png

_ARRAYS = sample_arrays()
save = encode  # the HTTP tests' name for it


def photo(name: str = "astronaut") -> Image.Image:
    return Image.fromarray(_ARRAYS[name])


def valid_unusual() -> dict[str, bytes]:
    """Files a user may well upload, that must be accepted and indexed."""
    base = photo("coffee")
    rgba = base.convert("RGBA")
    rgba.putalpha(200)
    frames = [photo("rocket"), photo("chelsea").resize(photo("rocket").size)]
    sixteen = (np.asarray(photo("camera"), np.uint16) * 257).astype(np.uint16)
    return {
        "cmyk.jpg": save(photo("astronaut").convert("CMYK"), "JPEG", quality=90),
        "16bit.png": save(Image.fromarray(sixteen), "PNG"),
        "animated.gif": save(
            frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100
        ),
        "photo.webp": save(photo("hubble_deep_field"), "WEBP", quality=85),
        "alpha.png": save(rgba, "PNG"),
        "palette.png": save(photo("immunohistochemistry").convert("P"), "PNG"),
        "gray.jpg": save(photo("moon"), "JPEG"),
        "photo.avif": save(photo("retina").resize((400, 400)), "AVIF"),
        "photo.tiff": save(photo("clock"), "TIFF"),
        "photo.bmp": save(photo("coins"), "BMP"),
    }


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels."""
    return png(width, height, colour_type=2, rows=b"\x00" * 1024)


def corrupt_png() -> bytes:
    data = bytearray(save(photo("coins"), "PNG"))
    middle = len(data) // 2
    data[middle : middle + 200] = b"\x00" * 200
    return bytes(data)
