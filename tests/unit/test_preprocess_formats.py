"""Every allowed format, pixel mode and EXIF orientation decodes to the same upright RGB
picture."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from gateway.models.registry import triton_models
from gateway.preprocess import (
    PreparedImage,
    _transposed_box,
    prepare_image,
    to_rgb,
)
from tests.unit.images import (
    BLUE,
    RED,
    Colour,
    encode,
    exif_orientation,
    halves,
    jpeg_markers,
    png16_rgb,
    red_corner,
)
from tests.unit.preprocessing import (
    GREEN,
    LIMITS,
    assert_colour,
    assert_halves,
    pixel,
    prepare,
    thumb,
    thumbnail_pixels,
)

# --- formats and pixel modes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params", "tolerance"),
    [
        ("JPEG", {"quality": 95}, 4),
        ("PNG", {}, 0),
        ("GIF", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("WEBP", {"quality": 90}, 6),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("TIFF", {"compression": "tiff_lzw"}, 0),
        ("AVIF", {"quality": 90}, 6),
        ("HEIF", {"quality": 90}, 6),
    ],
)
def test_every_allowed_format_decodes_to_the_same_picture(
    fmt: str, params: dict[str, object], tolerance: int
) -> None:
    prepared = prepare(encode(halves(RED, BLUE), fmt, **params))
    assert prepared.format == fmt
    assert (prepared.width, prepared.height) == (96, 64)
    assert set(prepared.inputs) == {"vgg16", "clip_image"}
    for arr in prepared.inputs.values():
        assert arr.shape == (224, 224, 3)
        assert arr.dtype == np.uint8
    assert_halves(prepared, RED, BLUE, tolerance)


def test_text_models_in_the_spec_list_are_skipped() -> None:
    prepared = prepare_image(encode(halves(RED, BLUE), "PNG"), triton_models(), LIMITS)
    assert set(prepared.inputs) == {s.name for s in triton_models() if s.is_image_model}
    assert "clip_text" not in prepared.inputs


def test_mpo_from_a_stereo_camera_gives_its_first_picture() -> None:
    first, second = halves(RED, BLUE), halves(GREEN, GREEN)
    prepared = prepare(encode(first, "MPO", save_all=True, append_images=[second], quality=95))
    assert prepared.format == "MPO"
    assert_halves(prepared, RED, BLUE, tolerance=4)


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})],  # PNG: APNG
)
def test_animations_give_their_first_frame(fmt: str, params: dict[str, object]) -> None:
    frames = [halves(RED, BLUE), halves(GREEN, GREEN), halves(BLUE, RED)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    assert_halves(prepare(data), RED, BLUE)


@pytest.mark.parametrize(
    ("fmt", "params", "tolerance"),
    [
        ("PNG", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("TIFF", {}, 0),
        ("AVIF", {"quality": 90}, 6),
        ("HEIF", {"quality": 90}, 6),
    ],
)
def test_transparent_pixels_are_composited_on_white(
    fmt: str, params: dict[str, object], tolerance: int
) -> None:
    # The transparent half stores black: a plain convert("RGB") would show black there.
    pixels = np.zeros((64, 96, 4), dtype=np.uint8)
    pixels[:, :48] = (*RED, 255)
    data = encode(Image.fromarray(pixels, "RGBA"), fmt, **params)
    assert_halves(prepare(data), RED, 255, tolerance)


def test_transparent_greyscale_png_is_composited_on_white() -> None:
    pixels = np.zeros((64, 96, 2), dtype=np.uint8)
    pixels[:, :48] = (90, 255)
    assert_halves(prepare(encode(Image.fromarray(pixels, "LA"), "PNG")), 90, 255)


def test_half_transparent_pixels_are_blended_with_white() -> None:
    img = Image.new("RGBA", (64, 64), (255, 0, 0, 128))
    prepared = prepare(encode(img, "PNG"))
    assert_colour(pixel(prepared.inputs["vgg16"], 0.5, 0.5), (255, 127, 127), tolerance=1)


def test_palette_png_with_a_transparent_index_is_composited_on_white() -> None:
    img = halves(RED, BLUE).quantize(2)
    blue_index = int(np.asarray(img)[0, -1])
    prepared = prepare(encode(img, "PNG", transparency=blue_index))
    assert_halves(prepared, RED, 255)


def test_palette_png_keeps_its_colours() -> None:
    assert_halves(prepare(encode(halves(RED, BLUE).quantize(2), "PNG")), RED, BLUE)


def test_greyscale_png_becomes_grey_rgb() -> None:
    img = Image.fromarray(np.asarray(halves((40, 40, 40), (200, 200, 200)))[..., 0], "L")
    assert_halves(prepare(encode(img, "PNG")), 40, 200)


def test_bilevel_png_becomes_black_and_white() -> None:
    img = halves((0, 0, 0), (255, 255, 255)).convert("1")
    assert_halves(prepare(encode(img, "PNG")), 0, 255)


def test_cmyk_jpeg_becomes_the_same_rgb_picture() -> None:
    # Pillow writes CMYK JPEGs as Photoshop does: inverted, flagged by an Adobe APP14 marker.
    data = encode(halves(RED, BLUE).convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    assert 0xEE in jpeg_markers(data)
    assert_halves(prepare(data), RED, BLUE, tolerance=4)


def test_cmyk_tiff_becomes_the_same_rgb_picture() -> None:
    data = encode(halves(RED, BLUE).convert("CMYK"), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    assert_halves(prepare(data), RED, BLUE)


def grey_halves(left: float, right: float, dtype: str) -> npt.NDArray[np.generic]:
    values = np.empty((64, 96), dtype=dtype)
    values[:, :48], values[:, 48:] = left, right
    return values


# 1000 and 60000 of 65535: clipping would give 255 and 255.
SIXTEEN_BIT, AS_EIGHT_BIT = (1000, 60000), (round(1000 / 257), round(60000 / 257))


def test_16_bit_greyscale_png_is_scaled_to_8_bits_not_clipped() -> None:
    data = encode(Image.fromarray(grey_halves(*SIXTEEN_BIT, "uint16")), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    assert_halves(prepare(data), *AS_EIGHT_BIT)


def test_big_endian_16_bit_tiff_is_scaled_to_8_bits() -> None:
    data = encode(Image.fromarray(grey_halves(*SIXTEEN_BIT, ">u2")), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I;16B"
    assert_halves(prepare(data), *AS_EIGHT_BIT)


def test_32_bit_integer_tiff_holding_16_bit_samples_is_scaled_to_8_bits() -> None:
    data = encode(Image.fromarray(grey_halves(*SIXTEEN_BIT, "int32")), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I"
    assert_halves(prepare(data), *AS_EIGHT_BIT)


def test_16_bit_rgb_png_keeps_its_colours() -> None:
    pixels = np.empty((64, 96, 3), dtype=np.uint16)
    pixels[:, :48], pixels[:, 48:] = (np.array(RED) * 257), (np.array(BLUE) * 257)
    assert_halves(prepare(png16_rgb(pixels)), RED, BLUE)


@pytest.mark.parametrize(
    ("values", "expected"),
    [((0.25, 0.75), (64, 191)), ((-1.0, 3.0), (0, 255))],
    ids=["0..1 scaled to 0..255", "any other range stretched"],
)
def test_float_tiff_is_mapped_to_8_bits(
    values: tuple[float, float], expected: tuple[int, int]
) -> None:
    data = encode(Image.fromarray(grey_halves(*values, "float32")), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    assert_halves(prepare(data), *expected)


@pytest.mark.parametrize(
    ("mode", "tolerance"),
    # 8-bit LAB and HSV cannot hold every RGB colour exactly: Pillow's round trip is this close.
    [("RGB", 0), ("YCbCr", 3), ("LAB", 12), ("HSV", 5), ("CMYK", 0), ("RGBX", 0)],
)
def test_colour_modes_convert_to_the_same_rgb(mode: str, tolerance: int) -> None:
    source = halves(RED, BLUE)
    rgb = to_rgb(source.convert(mode))
    assert rgb.mode == "RGB"
    assert np.abs(np.asarray(rgb).astype(int) - np.asarray(source)).max() <= tolerance


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        (Image.new("RGBA", (8, 8), (255, 0, 0, 128)).convert("RGBa"), (255, 127, 127)),
        (Image.new("LA", (8, 8), (100, 128)).convert("La"), (177, 177, 177)),
        (Image.new("RGBA", (8, 8), (255, 0, 0, 128)).convert("PA"), (255, 127, 127)),
    ],
    ids=["RGBa", "La", "PA"],
)
def test_premultiplied_and_palette_alpha_modes_are_composited_on_white(
    img: Image.Image, expected: Colour
) -> None:
    assert_colour(np.asarray(to_rgb(img))[0, 0], expected, tolerance=2)


# --- EXIF orientation ----------------------------------------------------------------------

# Where the stored top-left pixel is shown, from the EXIF spec's reading of each value
# ("the 0th row is the visual ..., the 0th column is the visual ...").
RED_CORNER_SHOWN_AT = {
    1: (0.25, 0.25),  # top, left
    2: (0.75, 0.25),  # top, right
    3: (0.75, 0.75),  # bottom, right
    4: (0.25, 0.75),  # bottom, left
    5: (0.25, 0.25),  # left, top
    6: (0.75, 0.25),  # right, top
    7: (0.75, 0.75),  # right, bottom
    8: (0.25, 0.75),  # left, bottom
}
CORNERS = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]


def assert_red_corner_at(prepared: PreparedImage, where: tuple[float, float]) -> None:
    for arr in [*prepared.inputs.values(), thumbnail_pixels(prepared)]:
        for corner in CORNERS:
            assert_colour(pixel(arr, *corner), RED if corner == where else BLUE, tolerance=6)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(orientation: int) -> None:
    data = encode(red_corner((64, 48)), "JPEG", quality=95, exif=exif_orientation(orientation))
    prepared = prepare(data)
    swapped = orientation >= 5
    assert (prepared.width, prepared.height) == ((48, 64) if swapped else (64, 48))
    thumbnail = Image.open(io.BytesIO(thumb(prepared)))
    assert thumbnail.size == (prepared.width, prepared.height)
    assert_red_corner_at(prepared, RED_CORNER_SHOWN_AT[orientation])


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "AVIF", "HEIF"])
def test_orientation_is_applied_exactly_once_in_every_format(fmt: str) -> None:
    # TIFF applies the tag while loading and pillow-heif turns it into HEIF's own rotation.
    params: dict[str, object] = {"quality": 95} if fmt in ("AVIF", "HEIF") else {}
    data = encode(red_corner((64, 48)), fmt, exif=exif_orientation(6), **params)
    prepared = prepare(data)
    assert (prepared.width, prepared.height) == (48, 64)
    assert_red_corner_at(prepared, RED_CORNER_SHOWN_AT[6])


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_damaged_exif_block_does_not_reject_the_picture() -> None:
    data = encode(red_corner((64, 48)), "JPEG", quality=95, exif=b"Exif\x00\x00MM\x00*garbage")
    prepared = prepare(data)
    assert (prepared.width, prepared.height) == (64, 48)
    assert_red_corner_at(prepared, RED_CORNER_SHOWN_AT[1])


@pytest.mark.parametrize("method", list(Image.Transpose))
def test_the_picture_box_follows_every_transposition(method: Image.Transpose) -> None:
    pixels = np.zeros((9, 13), dtype=np.uint8)
    pixels[:7, :10] = 255  # a draft decode's picture box sits at the origin
    moved = Image.fromarray(pixels, "L").transpose(method)
    assert _transposed_box((0, 0, 10, 7), (13, 9), method) == moved.getbbox()
