"""The EXIF reader on crafted files: every field, every format, and bad EXIF that empties a
field (never rejects the image) within a bounded time."""

from __future__ import annotations

import io
import logging
import struct
import time

import pytest
from PIL import Image

from gateway.capture import TAKEN_NONE, Capture, camera_key, read_capture, taken_key
from gateway.config import LimitSettings
from gateway.models.registry import REGISTRY
from gateway.services.ingest import decode
from tests.exif_craft import (
    DATE_DIGITIZED,
    DATE_ORIGINAL,
    LAT,
    LAT_REF,
    LENS_MODEL,
    LONG,
    MAKE,
    MAKER_NOTE,
    MODEL,
    OFFSET_DIGITIZED,
    OFFSET_ORIGINAL,
    SHORT,
    UNDEFINED,
    Entry,
    gps,
    photo,
    png_with_late_exif,
    rationals,
    text,
    tiff,
)

CAMERA = [text(MAKE, "FUJIFILM"), text(MODEL, "X100V")]
DATED = [text(DATE_ORIGINAL, "2023:07:14 18:03:11"), text(OFFSET_ORIGINAL, "+02:00")]
SYDNEY = gps((33, 51, 24.5), "S", (151, 12, 55.1), "E")
FULL = tiff(CAMERA, [*DATED, text(LENS_MODEL, "XF23mmF2 R WR")], SYDNEY)
FORMATS = ["JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"]


def test_every_field_is_read_from_a_jpeg() -> None:
    assert read_capture(photo(FULL)) == Capture(
        taken="2023-07-14T18:03:11+02:00",
        make="FUJIFILM",
        model="X100V",
        lens="XF23mmF2 R WR",
        lat=-33.8568056,
        lon=151.2153056,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_with_exif_gives_the_same_facts(fmt: str) -> None:
    assert read_capture(photo(FULL, fmt)) == read_capture(photo(FULL))


def test_a_png_exif_chunk_after_the_image_data_is_found() -> None:
    assert read_capture(png_with_late_exif(FULL)) == read_capture(photo(FULL))


def test_a_little_endian_block_reads_the_same() -> None:
    block = tiff(CAMERA, DATED, order="<")
    assert read_capture(photo(block)).taken == "2023-07-14T18:03:11+02:00"
    assert read_capture(photo(block)).model == "X100V"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "WEBP"])
def test_a_file_without_exif_has_no_facts(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, fmt)
    assert read_capture(out.getvalue()) == Capture()


def test_the_record_fields_are_null_when_absent_and_objects_when_present() -> None:
    assert Capture().record_fields() == {
        "taken": None,
        "camera": None,
        "lens": None,
        "location": None,
    }
    fields = read_capture(photo(FULL)).record_fields()
    assert fields["camera"] == {"make": "FUJIFILM", "model": "X100V"}
    assert fields["location"] == {"lat": -33.8568056, "lon": 151.2153056}


@pytest.mark.parametrize(
    ("lat_ref", "lon_ref", "signs"),
    [("N", "E", (1, 1)), ("S", "E", (-1, 1)), ("N", "W", (1, -1)), ("S", "W", (-1, -1))],
)
def test_south_and_west_are_negative(lat_ref: str, lon_ref: str, signs: tuple[int, int]) -> None:
    facts = read_capture(photo(tiff([], None, gps((10, 30, 0), lat_ref, (20, 15, 0), lon_ref))))
    assert (facts.lat, facts.lon) == (signs[0] * 10.5, signs[1] * 20.25)


def test_the_privacy_switch_drops_the_location_and_keeps_the_rest() -> None:
    facts = read_capture(photo(FULL), keep_location=False)
    assert (facts.lat, facts.lon) == (None, None)
    assert facts.taken == "2023-07-14T18:03:11+02:00" and facts.make == "FUJIFILM"


def test_a_date_without_an_offset_is_local_time_without_one() -> None:
    block = tiff([], [text(DATE_ORIGINAL, "2019:12:31 23:59:59")])
    assert read_capture(photo(block)).taken == "2019-12-31T23:59:59"


def test_without_an_original_date_the_digitized_one_with_its_own_offset_is_used() -> None:
    exif = [
        text(DATE_DIGITIZED, "2020:02:29 08:00:00"),
        text(OFFSET_DIGITIZED, "-03:30"),
        text(OFFSET_ORIGINAL, "+09:00"),  # belongs to the (missing) original date
    ]
    assert read_capture(photo(tiff([], exif))).taken == "2020-02-29T08:00:00-03:30"


def test_a_broken_original_date_falls_back_to_the_digitized_one() -> None:
    exif = [text(DATE_ORIGINAL, "2023:02:30 10:00:00"), text(DATE_DIGITIZED, "2023:03:01 10:00:00")]
    assert read_capture(photo(tiff([], exif))).taken == "2023-03-01T10:00:00"


@pytest.mark.parametrize(
    "value",
    [
        "2023:13:01 00:00:00",  # month 13
        "2023:02:30 10:00:00",  # 30 February
        "2023:07:14 25:00:00",  # hour 25
        "0000:00:00 00:00:00",  # a camera without a clock
        "    :  :     :  :  ",
        "1700:01:01 00:00:00",  # before photography
        "yesterday",
        "2023:07:14 18:03:11 and more",
    ],
)
def test_impossible_dates_leave_taken_empty_and_the_rest_intact(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="gateway.capture"):
        facts = read_capture(photo(tiff(CAMERA, [text(DATE_ORIGINAL, value)])))
    assert facts.taken is None
    assert facts.model == "X100V"
    assert "date" in caplog.text  # the reason is in the debug log


@pytest.mark.parametrize("offset", ["+25:00", "+02:75", "0200", "+2:00", "-13:00", "Z"])
def test_a_bad_offset_keeps_the_date_without_it(offset: str) -> None:
    block = tiff([], [text(DATE_ORIGINAL, "2023:07:14 18:03:11"), text(OFFSET_ORIGINAL, offset)])
    assert read_capture(photo(block)).taken == "2023-07-14T18:03:11"


def test_values_of_the_wrong_type_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    ifd0 = [Entry(MAKE, SHORT, 1, b"\x00\x07"), text(MODEL, "X100V")]
    exif = [Entry(DATE_ORIGINAL, LONG, 1, b"\x00\x00\x00\x01"), Entry(LENS_MODEL, SHORT, 2, b"ab")]
    bad_gps = [text(LAT_REF, "N"), text(LAT, "33.5"), *SYDNEY[2:]]
    with caplog.at_level(logging.DEBUG, logger="gateway.capture"):
        facts = read_capture(photo(tiff(ifd0, exif, bad_gps)))
    assert facts == Capture(model="X100V")
    assert "camera make" in caplog.text and "GPS" in caplog.text


@pytest.mark.parametrize(
    "entries",
    [
        [text(LAT_REF, "N"), rationals(LAT, [(33, 0), (1, 1), (0, 1)]), *SYDNEY[2:]],  # 33/0
        gps((33, 75, 0), "S", (151, 0, 0), "E"),  # 75 minutes
        gps((95, 0, 0), "N", (151, 0, 0), "E"),  # beyond the pole
        gps((33, 0, 0), "N", (181, 0, 0), "E"),
        gps((33, 0, 0), "X", (151, 0, 0), "E"),  # no such hemisphere
        [rationals(LAT, [33, 0, 0]), *SYDNEY[2:]],  # no reference at all
        gps((0, 0, 0), "N", (0, 0, 0), "E"),  # a receiver without a fix
        [text(LAT_REF, "N"), rationals(LAT, [33, 0]), *SYDNEY[2:]],  # two values, not three
    ],
)
def test_impossible_positions_leave_location_empty(entries: list[Entry]) -> None:
    facts = read_capture(photo(tiff(CAMERA, DATED, entries)))
    assert (facts.lat, facts.lon) == (None, None)
    assert facts.taken == "2023-07-14T18:03:11+02:00"


def test_text_with_control_characters_or_invalid_utf8_is_ignored() -> None:
    block = tiff([text(MAKE, "Ca\x07non"), text(MODEL, b"\xff\xfe\xfd")], [text(LENS_MODEL, " ")])
    assert read_capture(photo(block)) == Capture()


def test_text_is_trimmed_at_its_first_nul_and_of_blanks() -> None:
    block = tiff([text(MAKE, "  Canon  \x00garbage")])
    assert read_capture(photo(block)).make == "Canon"


def test_a_truncated_block_gives_no_facts_and_no_error() -> None:
    for cut in (6, 9, 20, len(FULL) // 2, len(FULL) - 3):
        facts = read_capture(photo(FULL[:cut], "PNG"))
        assert isinstance(facts, Capture)
    assert read_capture(photo(FULL[:20], "PNG")) == Capture()


def test_a_pointer_beyond_the_block_empties_only_that_directory() -> None:
    bad_exif_pointer = Entry(0x8769, LONG, 1, b"", offset=10_000_000)
    facts = read_capture(photo(tiff([*CAMERA, bad_exif_pointer], None, SYDNEY)))
    assert facts.taken is None and facts.model == "X100V" and facts.lat == -33.8568056


def test_a_value_claiming_more_bytes_than_allowed_is_refused() -> None:
    huge_make = Entry(MAKE, 2, 50_000_000, b"", offset=8)
    assert read_capture(photo(tiff([huge_make, text(MODEL, "X100V")], None), "PNG")) == Capture(
        model="X100V"
    )


def test_not_a_tiff_header_gives_no_facts() -> None:
    assert read_capture(photo(b"this is no TIFF structure at all", "PNG")) == Capture()


def _fastest(data: bytes, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        read_capture(data)
        best = min(best, time.perf_counter() - started)
    return best


def _directory_of(count: int, entry: bytes) -> bytes:
    """A big-endian TIFF whose IFD0 claims `count` entries, each `entry`."""
    return b"MM\x00*" + struct.pack(">IH", 8, count) + entry * count + b"\x00" * 4


BOMBS = {
    # 65,535 entries (the most a directory can claim), each a text the size of the file.
    "a directory of 65535 huge entries": _directory_of(
        65535, struct.pack(">HHII", MAKE, 2, 20_000_000, 8)
    ),
    # 1,000 entries (under the cap) each claiming 20 MB at offset 8: nothing is read.
    "a thousand entries of 20 MB each": _directory_of(
        1000, struct.pack(">HHII", MAKE, 7, 20_000_000, 8)
    ),
    # 1,000 entries each spanning 4 MB that really are there (Pillow's Exif copies each:
    # 0.7 s here).
    "a thousand entries of 4 MB present": _directory_of(
        1000, struct.pack(">HHII", 0x9999, UNDEFINED, 4_000_000, 8)
    )
    + b"\x00" * 4_000_000,
    # A maker note of 4 MB that is itself a directory pointing back at itself.
    "a maker note bomb": tiff(
        CAMERA,
        [*DATED, Entry(MAKER_NOTE, UNDEFINED, 4_000_000, _directory_of(2000, b"\x00" * 12) * 160)],
        SYDNEY,
    ),
    # 8 MB of padding after a valid block.
    "an 8 MB EXIF chunk": FULL + b"\x00" * 8_000_000,
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_hostile_blocks_cost_at_most_a_few_milliseconds(name: str) -> None:
    data = photo(BOMBS[name], "PNG")
    facts = read_capture(data)
    assert isinstance(facts, Capture)
    assert _fastest(data) < 0.05, name


def test_the_maker_note_bomb_still_gives_the_real_facts() -> None:
    facts = read_capture(photo(BOMBS["a maker note bomb"], "PNG"))
    assert facts.taken == "2023-07-14T18:03:11+02:00" and facts.lat == -33.8568056


def test_bad_exif_never_rejects_the_image_at_ingest() -> None:
    limits = LimitSettings()
    specs = [REGISTRY["vgg16"].image_model]
    for name, block in BOMBS.items():
        decoded = decode(photo(block, "PNG"), specs, limits, keep_location=True)
        assert decoded.image.width == 64, name
    decoded = decode(photo(FULL[:30], "PNG"), specs, limits, keep_location=True)
    assert decoded.capture == Capture()


def test_taken_is_stored_as_the_wall_clock_read_as_utc() -> None:
    assert taken_key("1970-01-01T00:00:01") == 1_000_000
    # The same wall-clock time in two zones is the same key: the date on the photo counts.
    assert taken_key("2023-07-14T18:03:11+02:00") == taken_key("2023-07-14T18:03:11-07:00")
    assert taken_key(None) == TAKEN_NONE < taken_key("1800-01-01T00:00:00")
    assert taken_key("not a date") == TAKEN_NONE


def test_the_camera_key_is_lower_case_make_and_model_without_repeating_the_make() -> None:
    assert camera_key({"make": "FUJIFILM", "model": "X100V"}) == "fujifilm x100v"
    assert camera_key({"make": "Canon", "model": "Canon EOS R5"}) == "canon eos r5"
    assert camera_key({"make": None, "model": "X100V"}) == "x100v"
    assert camera_key(None) == ""
