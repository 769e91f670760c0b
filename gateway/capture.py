"""Capture facts from a photo's EXIF: when it was taken, with which camera and lens, where.

Pure CPU work, run in the decode pool beside `prepare_image`. EXIF is read by a small
parser of its own that looks up a dozen tags and nothing else, instead of Pillow's `Exif`,
which reads every entry of every directory it opens: a crafted block (65,535 entries, each
claiming the whole file as its value, or a maker note that is itself a directory) then
costs seconds per upload. Here the work is bounded whatever the input (at most
MAX_ENTRIES entries in each of three directories, values of at most MAX_TEXT_BYTES), and a
bad value only empties its own field: an image is never rejected for its EXIF, and the
reason goes to the debug log.
"""

from __future__ import annotations

import io
import logging
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image

from gateway.formats import OPENERS

log = logging.getLogger("gateway.capture")

MAX_ENTRIES = 1024  # real directories hold tens; more is a crafted block
MAX_TEXT_BYTES = 256  # make, model, lens, dates: real values are far shorter
YEARS = range(1800, 3000)  # outside this, a date is a broken clock or a crafted value
_EPOCH = datetime(1970, 1, 1)

# Tags (EXIF 2.32 / 3.0), by the directory that holds them.
MAKE, MODEL, EXIF_IFD, GPS_IFD = 0x010F, 0x0110, 0x8769, 0x8825
DATE_ORIGINAL, DATE_DIGITIZED = 0x9003, 0x9004
OFFSET_ORIGINAL, OFFSET_DIGITIZED = 0x9011, 0x9012
LENS_MODEL = 0xA434
_DATE_TAGS = ((DATE_ORIGINAL, OFFSET_ORIGINAL), (DATE_DIGITIZED, OFFSET_DIGITIZED))
LAT_REF, LAT, LON_REF, LON = 1, 2, 3, 4

ASCII, UTF8, RATIONAL, SHORT, LONG = 2, 129, 5, 3, 4
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 129: 1}
_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


class BadExif(Exception):
    """Why one field (or the whole block) was left empty; logged at debug level."""


@dataclass(frozen=True)
class Capture:
    """What EXIF says; None where it says nothing usable."""

    taken: str | None = None  # ISO 8601 local time, with its offset when EXIF has one
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    lat: float | None = None
    lon: float | None = None

    def record_fields(self) -> dict[str, Any]:
        """The facts as the image record stores them and the API returns them."""
        camera = None
        if self.make is not None or self.model is not None:
            camera = {"make": self.make, "model": self.model}
        location = None
        if self.lat is not None and self.lon is not None:
            location = {"lat": self.lat, "lon": self.lon}
        return {"taken": self.taken, "camera": camera, "lens": self.lens, "location": location}


def read_capture(data: bytes, keep_location: bool = True) -> Capture:
    """The capture facts of an image file's bytes; empty when it has no readable EXIF."""
    try:
        tiff = _exif_block(data)
    except Exception as exc:  # the file decoded once already: any failure here is EXIF's
        log.debug("EXIF not readable: %s", exc)
        return Capture()
    if tiff is None:
        return Capture()
    try:
        reader = _Tiff(tiff)
        ifd0 = reader.directory(reader.first)
    except (BadExif, struct.error) as exc:
        log.debug("EXIF ignored: %s", exc)
        return Capture()
    exif = _sub_directory(reader, ifd0, EXIF_IFD, "Exif")
    gps = _sub_directory(reader, ifd0, GPS_IFD, "GPS") if keep_location else {}
    lat, lon = _field(lambda: _location(reader, gps), "GPS position") or (None, None)
    return Capture(
        taken=_field(lambda: _taken(reader, exif), "date taken"),
        make=_field(lambda: reader.text(ifd0.get(MAKE)), "camera make"),
        model=_field(lambda: reader.text(ifd0.get(MODEL)), "camera model"),
        lens=_field(lambda: reader.text(exif.get(LENS_MODEL)), "lens model"),
        lat=lat,
        lon=lon,
    )


# -- stored forms for filters and sorting ------------------------------------------------------
TAKEN_NONE = -(2**62)  # the `taken` of an undated photo: below every real date


def taken_key(taken: Any) -> int:
    """`taken` as the collections store it: microseconds from 1970-01-01 of the local wall
    clock read as if it were UTC, so a date range means the date printed on the photo
    wherever it was taken; TAKEN_NONE when undated."""
    if not isinstance(taken, str):
        return TAKEN_NONE
    try:
        moment = datetime.fromisoformat(taken).replace(tzinfo=None)
    except ValueError:
        return TAKEN_NONE
    return (moment - _EPOCH) // timedelta(microseconds=1)


CAMERA_MAX_CHARS = 256


def camera_key(camera: Any) -> str:
    """The camera as filters match it: lower-case "make model", the model alone when it
    already names the make ("Canon" + "Canon EOS R5" is "canon eos r5"); "" for none."""
    if not isinstance(camera, dict):
        return ""
    make = str(camera.get("make") or "").strip()
    model = str(camera.get("model") or "").strip()
    if make and model.lower().startswith(make.lower()):
        make = ""
    return " ".join(part for part in (make, model) if part).lower()[:CAMERA_MAX_CHARS]


def has_location(location: Any) -> bool:
    return isinstance(location, dict) and location.get("lat") is not None


# -- finding the block ---------------------------------------------------------------------------
def _exif_block(data: bytes) -> bytes | None:
    """The TIFF structure holding the EXIF tags (for a TIFF file, the file itself)."""
    with Image.open(io.BytesIO(data), formats=OPENERS) as img:
        if img.format == "TIFF":
            return data
        raw = img.info.get("exif")
        if raw is None and img.format == "PNG":
            raw = _late_png_exif(data)
    if not isinstance(raw, bytes | bytearray):
        return None
    return _from_tiff_header(bytes(raw))


def _late_png_exif(data: bytes) -> bytes | None:
    """A PNG eXIf chunk after the image data, which Pillow reads only when decoding."""
    at = data.rfind(b"eXIf")
    if at < 12:
        return None
    (length,) = struct.unpack(">I", data[at - 4 : at])
    return data[at + 4 : at + 4 + length]


def _from_tiff_header(raw: bytes) -> bytes | None:
    for start in (0, 6, 4, 10):  # bare; "Exif\0\0"; HEIF's offset word; both
        if raw[start : start + 4] in (b"II*\x00", b"MM\x00*"):
            return raw[start:]
    raise BadExif(f"no TIFF header in a {len(raw)}-byte EXIF block")


# -- reading the TIFF structure ------------------------------------------------------------------
Entry = tuple[int, int, bytes]  # type, count, the 4 bytes holding the value or its offset


class _Tiff:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.order = "<" if data[:2] == b"II" else ">"
        (self.first,) = struct.unpack(self.order + "I", data[4:8])

    def directory(self, offset: int) -> dict[int, Entry]:
        (count,) = struct.unpack(self.order + "H", self._bytes(offset, 2))
        if count > MAX_ENTRIES:
            raise BadExif(f"a directory claims {count} entries (at most {MAX_ENTRIES} are read)")
        raw = self._bytes(offset + 2, 12 * count)
        entries: dict[int, Entry] = {}
        for tag, kind, n, value in struct.iter_unpack(self.order + "HHI4s", raw):
            entries.setdefault(tag, (kind, n, value))
        return entries

    def _bytes(self, offset: int, size: int) -> bytes:
        if offset < 0 or offset + size > len(self.data):
            raise BadExif(f"{size} bytes at offset {offset} are beyond the block's end")
        return self.data[offset : offset + size]

    def value(self, entry: Entry, max_bytes: int) -> bytes:
        kind, count, inline = entry
        if kind not in _TYPE_SIZES:
            raise BadExif(f"unknown value type {kind}")
        size = _TYPE_SIZES[kind] * count
        if size > max_bytes:
            raise BadExif(f"a value of {size} bytes (at most {max_bytes})")
        if size <= 4:
            return inline[:size]
        (offset,) = struct.unpack(self.order + "I", inline)
        return self._bytes(offset, size)

    def offset(self, entry: Entry) -> int:
        kind, count, inline = entry
        if kind not in (LONG, 13) or count != 1:  # 13: IFD, as some writers type pointers
            raise BadExif(f"a directory pointer of type {kind} and count {count}")
        (offset,) = struct.unpack(self.order + "I", inline)
        return int(offset)

    def text(self, entry: Entry | None) -> str | None:
        if entry is None:
            return None
        if entry[0] not in (ASCII, UTF8):
            raise BadExif(f"text of type {entry[0]}")
        raw = self.value(entry, MAX_TEXT_BYTES).split(b"\x00", 1)[0]
        text = raw.decode("utf-8", errors="strict").strip()
        if not text.isprintable():
            raise BadExif("text with control characters")
        return text or None

    def rationals(self, entry: Entry | None, count: int) -> list[float]:
        if entry is None or entry[0] != RATIONAL or entry[1] != count:
            raise BadExif(f"expected {count} rationals, found {entry and entry[:2]}")
        numbers = struct.unpack(f"{self.order}{2 * count}I", self.value(entry, 8 * count))
        pairs = zip(numbers[::2], numbers[1::2], strict=True)
        if any(den == 0 for _, den in pairs):
            raise BadExif("a rational with a zero denominator")
        return [num / den for num, den in zip(numbers[::2], numbers[1::2], strict=True)]


def _sub_directory(reader: _Tiff, ifd0: dict[int, Entry], tag: int, name: str) -> dict[int, Entry]:
    entry = ifd0.get(tag)
    if entry is None:
        return {}
    try:
        return reader.directory(reader.offset(entry))
    except (BadExif, struct.error) as exc:
        log.debug("EXIF %s directory ignored: %s", name, exc)
        return {}


def _field(read: Any, what: str) -> Any:
    try:
        return read()
    except (BadExif, struct.error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        log.debug("EXIF %s ignored: %s", what, exc)
        return None


# -- the facts -----------------------------------------------------------------------------------
def _taken(reader: _Tiff, exif: dict[int, Entry]) -> str | None:
    """DateTimeOriginal with its offset, else DateTimeDigitized with its own."""
    for date_tag, offset_tag in (
        (DATE_ORIGINAL, OFFSET_ORIGINAL),
        (DATE_DIGITIZED, OFFSET_DIGITIZED),
    ):
        text = _field(lambda tag=date_tag: reader.text(exif.get(tag)), "date")
        if text is None:
            continue
        moment = _date(text)
        if moment is None:
            continue
        offset = _field(lambda tag=offset_tag: _offset(reader.text(exif.get(tag))), "offset")
        return moment.isoformat() + (offset or "")
    return None


def _date(text: str) -> datetime | None:
    match = _DATE.fullmatch(text)
    if match is None:  # e.g. "0000:00:00 00:00:00" or blanks: the camera had no clock
        log.debug("EXIF date %r ignored: not YYYY:MM:DD HH:MM:SS", text[:40])
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        log.debug("EXIF date %r ignored: %s", text, exc)
        return None
    if moment.year not in YEARS:
        log.debug("EXIF date %r ignored: year out of range", text)
        return None
    return moment


def _offset(text: str | None) -> str | None:
    """ "+02:00" as written, when it is a real UTC offset (-12:00 to +14:00)."""
    if text is None:
        return None
    match = _OFFSET.fullmatch(text)
    if match is None:
        raise BadExif(f"offset {text[:20]!r} is not +HH:MM")
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    total = (hours * 60 + minutes) * (-1 if sign == "-" else 1)
    if minutes >= 60 or not -12 * 60 <= total <= 14 * 60:
        raise BadExif(f"offset {text!r} is out of range")
    return text


def _location(reader: _Tiff, gps: dict[int, Entry]) -> tuple[float, float] | None:
    if LAT not in gps and LON not in gps:
        return None
    lat = _degrees(reader.rationals(gps.get(LAT), 3), reader.text(gps.get(LAT_REF)), "NS", 90)
    lon = _degrees(reader.rationals(gps.get(LON), 3), reader.text(gps.get(LON_REF)), "EW", 180)
    if lat == 0.0 and lon == 0.0:
        raise BadExif("0, 0: a receiver without a fix")
    return lat, lon


def _degrees(dms: list[float], ref: str | None, refs: str, limit: float) -> float:
    """Degrees, minutes, seconds and a hemisphere as signed decimal degrees."""
    if ref is None or ref.upper() not in refs:
        raise BadExif(f"hemisphere {ref!r} is not one of {refs}")
    degrees, minutes, seconds = dms
    if not (0 <= minutes < 60 and 0 <= seconds < 60):
        raise BadExif(f"minutes {minutes} or seconds {seconds} out of range")
    value = degrees + minutes / 60 + seconds / 3600
    if value > limit:
        raise BadExif(f"{value} degrees is beyond {limit}")
    return round(-value if ref.upper() == refs[1] else value, 7)
