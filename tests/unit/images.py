"""Test pictures built in memory: solid and two-colour images, hand-made PNGs, a real photo."""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image
from skimage import data as skimage_data

# Shared with the integration tests; the unit tests use them from here.
from tests.imaging import encode as encode
from tests.imaging import png as png

Colour = tuple[int, int, int]
RED: Colour = (220, 20, 30)
BLUE: Colour = (20, 40, 200)


def shade_jpeg(shade: int) -> bytes:
    """A small solid JPEG whose bytes (so id) differ with `shade`."""
    return encode(Image.new("RGB", (64, 48), (shade, 255 - shade, 90)), "JPEG")


def halves(left: Colour, right: Colour, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Left half one colour, right half another: checks colours and that nothing is mirrored."""
    width, height = size
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = left
    pixels[:, width // 2 :] = right
    return Image.fromarray(pixels)


def red_corner(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """Blue, with the top-left quadrant red."""
    width, height = size
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = BLUE
    pixels[: height // 2, : width // 2] = RED
    return Image.fromarray(pixels)


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = value
    return exif.tobytes()


def astronaut(size: tuple[int, int]) -> Image.Image:
    """skimage's astronaut photo (512x512) resized: a real picture at any size."""
    photo = skimage_data.astronaut()  # type: ignore[no-untyped-call]
    return Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC)


def png16_rgb(pixels: npt.NDArray[np.uint16]) -> bytes:
    """A 16-bit-per-channel RGB PNG, which Pillow reads but cannot write."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))
    return png(width, height, bit_depth=16, colour_type=2, rows=rows)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny JPEG whose header claims another size: a decompression bomb's shape."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_markers(data: bytes) -> list[int]:
    """The JPEG segment markers before the image data (0xE0 APP0, 0xE1 EXIF/XMP, 0xE2 ICC,
    0xED IPTC, 0xFE comment, ...)."""
    markers, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan
            break
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return markers
