"""EXIF blocks built byte by byte, and photos that carry them, for the capture tests.

Nothing binary is committed: each test builds the file it needs. `Entry` values are raw
(type, count, payload), so a test can write any type, count or offset a camera (or an
attacker) might, including ones that lie about their size.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image

ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 2, 3, 4, 5, 7
MAKE, MODEL, EXIF_IFD, GPS_IFD = 0x010F, 0x0110, 0x8769, 0x8825
DATE_ORIGINAL, DATE_DIGITIZED, OFFSET_ORIGINAL, OFFSET_DIGITIZED = 0x9003, 0x9004, 0x9011, 0x9012
LENS_MODEL, MAKER_NOTE = 0xA434, 0x927C
LAT_REF, LAT, LON_REF, LON = 1, 2, 3, 4


@dataclass(frozen=True)
class Entry:
    tag: int
    kind: int
    count: int
    payload: bytes  # written inline when <= 4 bytes, else after the directories
    offset: int | None = None  # force this value offset instead (a lie, or a pointer)


def text(tag: int, value: str | bytes) -> Entry:
    raw = value.encode() if isinstance(value, str) else value
    return Entry(tag, ASCII, len(raw) + 1, raw + b"\x00")


def rationals(tag: int, values: list[float | tuple[int, int]], order: str = ">") -> Entry:
    packed = b""
    for value in values:
        if isinstance(value, tuple):
            num, den = value
        else:
            fraction = Fraction(value).limit_denominator(1_000_000)
            num, den = fraction.numerator, fraction.denominator
        packed += struct.pack(order + "II", num, den)
    return Entry(tag, RATIONAL, len(values), packed)


def gps(lat: tuple[float, float, float], lat_ref: str, lon: tuple[float, float, float],
        lon_ref: str) -> list[Entry]:  # fmt: skip
    return [text(LAT_REF, lat_ref), rationals(LAT, list(lat)), text(LON_REF, lon_ref),
            rationals(LON, list(lon))]  # fmt: skip


def tiff(
    ifd0: list[Entry],
    exif: list[Entry] | None = None,
    gps_entries: list[Entry] | None = None,
    order: str = ">",
) -> bytes:
    """A TIFF structure (as EXIF blocks are): IFD0 with pointers to the Exif and GPS
    directories when given, then every value too long to sit inline."""
    ifd0 = list(ifd0)
    directories = [ifd0]
    if exif is not None:
        ifd0.append(Entry(EXIF_IFD, LONG, 1, b"", offset=-1))
        directories.append(list(exif))
    if gps_entries is not None:
        ifd0.append(Entry(GPS_IFD, LONG, 1, b"", offset=-2))
        directories.append(list(gps_entries))
    starts, at = [], 8
    for directory in directories:
        starts.append(at)
        at += 2 + 12 * len(directory) + 4
    data = bytearray()
    out = bytearray(b"MM\x00*" if order == ">" else b"II*\x00")
    out += struct.pack(order + "I", 8)
    for directory in directories:
        out += struct.pack(order + "H", len(directory))
        for entry in directory:
            if entry.offset == -1:
                value = struct.pack(order + "I", starts[1])
            elif entry.offset == -2:
                value = struct.pack(order + "I", starts[-1])
            elif entry.offset is not None:
                value = struct.pack(order + "I", entry.offset)
            elif len(entry.payload) <= 4:
                value = entry.payload.ljust(4, b"\x00")
            else:
                value = struct.pack(order + "I", at + len(data))
                data += entry.payload
            out += struct.pack(order + "HHI", entry.tag, entry.kind, entry.count) + value
        out += b"\x00\x00\x00\x00"  # no next directory
    return bytes(out + data)


def photo(
    block: bytes | None,
    fmt: str = "JPEG",
    size: tuple[int, int] = (64, 48),
    color: tuple[int, int, int] = (200, 120, 40),
) -> bytes:
    """A small picture in `fmt` carrying `block` as its EXIF (none when None)."""
    out = io.BytesIO()
    img = Image.new("RGB", size, color)
    extra = {} if block is None else {"exif": b"Exif\x00\x00" + block}
    img.save(out, fmt, **extra)
    return out.getvalue()


def png_with_late_exif(block: bytes, size: tuple[int, int] = (64, 48)) -> bytes:
    """A PNG whose eXIf chunk follows the image data (Pillow reads it only on load)."""
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 90)).save(out, "PNG")
    data = out.getvalue()
    iend = data.rindex(b"IEND") - 4
    chunk = struct.pack(">I", len(block)) + b"eXIf" + block
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + block) & 0xFFFFFFFF)
    return data[:iend] + chunk + data[iend:]
