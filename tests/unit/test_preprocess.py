"""Decoding, validation and resizing of uploads, against the models' reference pipelines."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps, JpegImagePlugin

from gateway.api.errors import HTTP_STATUS
from gateway.config import LimitSettings
from gateway.errors import (
    BadInputError,
    CorruptImageError,
    InvalidImageError,
    PicSearchError,
    TooLargeError,
    ValidationError,
)
from gateway.models.registry import triton_model, triton_models
from gateway.preprocess import (
    THUMBNAIL_SIZE,
    PreparedImage,
    _transposed_box,
    prepare_image,
    to_rgb,
)
from tests.unit.images import (
    BLUE,
    RED,
    Colour,
    astronaut,
    encode,
    exif_orientation,
    halves,
    jpeg_claiming,
    jpeg_markers,
    png,
    png16_rgb,
    red_corner,
)

VGG16, CLIP_IMAGE = triton_model("vgg16"), triton_model("clip_image")

SPECS = (VGG16, CLIP_IMAGE)
LIMITS = LimitSettings()
GREEN: Colour = (30, 180, 60)
# A JPEG decoded in draft mode against the same file fully decoded: mean absolute difference
# over every value of the 224x224x3 input, in uint8 levels. Measured on the 4000x3000 photo
# decoded at 1/8: 0.47 for VGG16 and 0.54 for CLIP (largest single difference 9 and 10);
# 0.45 and 0.52 on the 2001x1503 one at 1/4, in all eight orientations.
DRAFT_TOLERANCE = 1.5
THUMBNAIL_TOLERANCE = 3  # the thumbnail is a JPEG: flat colours come back within this

Array = npt.NDArray[np.uint8]


def prepare(data: bytes, limits: LimitSettings = LIMITS) -> PreparedImage:
    return prepare_image(data, SPECS, limits)


def thumb(prepared: PreparedImage) -> bytes:
    assert prepared.thumbnail_jpeg is not None
    return prepared.thumbnail_jpeg


def thumbnail_pixels(prepared: PreparedImage) -> Array:
    return np.asarray(Image.open(io.BytesIO(thumb(prepared))).convert("RGB"))


def pixel(arr: Array, x: float, y: float) -> Array:
    """The pixel at fractions (x, y) of the width and height."""
    height, width = arr.shape[:2]
    return arr[int(y * height), int(x * width)]


def assert_colour(actual: Array, expected: Colour | int, tolerance: int) -> None:
    want = np.array(expected if isinstance(expected, tuple) else (expected,) * 3)
    assert np.abs(actual.astype(int) - want).max() <= tolerance, f"{actual} != {want}"


def assert_halves(
    prepared: PreparedImage, left: Colour | int, right: Colour | int, tolerance: int = 0
) -> None:
    """Every output shows `left` on its left half and `right` on its right half."""
    outputs = [(arr, tolerance) for arr in prepared.inputs.values()]
    outputs.append((thumbnail_pixels(prepared), tolerance + THUMBNAIL_TOLERANCE))
    for arr, tol in outputs:
        assert_colour(pixel(arr, 0.3, 0.5), left, tol)
        assert_colour(pixel(arr, 0.7, 0.5), right, tol)


def clip_reference(img: Image.Image, n_px: int = 224) -> Array:
    """OpenAI CLIP's `_transform(n_px)` up to `ToTensor`: torchvision's
    `Resize(n_px, interpolation=BICUBIC)` then `CenterCrop(n_px)` on a PIL image, transcribed
    from torchvision's `_compute_resized_output_size`, `F_pil.resize` and `center_crop`."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = n_px, int(n_px * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    crop_top = int(round((new_h - n_px) / 2.0))  # noqa: RUF046 - as published
    crop_left = int(round((new_w - n_px) / 2.0))  # noqa: RUF046 - as published
    img = img.crop((crop_left, crop_top, crop_left + n_px, crop_top + n_px))
    return np.asarray(img.convert("RGB"))


def vgg16_reference(path: Path) -> Array:
    keras = pytest.importorskip("keras")
    img = keras.utils.load_img(path, target_size=(224, 224), interpolation="bilinear")
    return np.asarray(img)


def mean_abs_diff(a: Array, b: Array) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


@pytest.fixture(scope="module")
def large_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-megapixel photo, as a phone would upload it."""
    path = tmp_path_factory.mktemp("photo") / "astronaut.jpg"
    astronaut((4000, 3000)).save(path, "JPEG", quality=90)
    return path


@pytest.fixture
def draft_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Records the size each JPEG is decoded at once draft mode is configured."""
    sizes: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(
        self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None
    ) -> tuple[str, tuple[int, int, float, float]] | None:
        result = original(self, mode, size)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return sizes


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


# --- resizing against the reference pipelines ----------------------------------------------


def test_vgg16_input_matches_keras_load_img(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    astronaut((300, 200)).save(path)
    prepared = prepare(path.read_bytes())
    np.testing.assert_array_equal(prepared.inputs["vgg16"], vgg16_reference(path))


def test_vgg16_input_of_a_large_jpeg_matches_keras_load_img(large_jpeg: Path) -> None:
    # Keras decodes every pixel; the gateway decodes at 1/8 scale and resizes from there.
    prepared = prepare(large_jpeg.read_bytes())
    diff = mean_abs_diff(prepared.inputs["vgg16"], vgg16_reference(large_jpeg))
    assert diff <= DRAFT_TOLERANCE


@pytest.mark.parametrize(
    "size",
    [
        (300, 455),  # portrait: resized to 224x339, crop top round(57.5) = 58
        (455, 300),  # landscape: the same, sideways
        (300, 452),  # resized to 224x337, crop top round(56.5) = 56 (half to even)
        (640, 480),
        (224, 500),  # shortest side already 224: no resize
        (150, 100),  # smaller than 224: upscaled, as CLIP does
        (256, 256),
    ],
)
def test_clip_input_matches_clips_published_transform(size: tuple[int, int]) -> None:
    img = astronaut(size)
    prepared = prepare(encode(img, "PNG"))
    np.testing.assert_array_equal(prepared.inputs["clip_image"], clip_reference(img))


def test_large_jpeg_draft_decode_matches_a_full_decode(
    large_jpeg: Path, draft_sizes: list[tuple[int, int]]
) -> None:
    prepared = prepare(large_jpeg.read_bytes())
    assert draft_sizes == [(500, 375)]  # decoded at 1/8 scale
    assert (prepared.width, prepared.height) == (4000, 3000)
    full = Image.open(large_jpeg).convert("RGB")
    vgg = full.resize((224, 224), Image.Resampling.BILINEAR)
    assert mean_abs_diff(prepared.inputs["vgg16"], np.asarray(vgg)) <= DRAFT_TOLERANCE
    assert mean_abs_diff(prepared.inputs["clip_image"], clip_reference(full)) <= DRAFT_TOLERANCE
    # Both thumbnails go through JPEG at the same quality, which alone differs by ~3.5 from
    # the raw resize; measured between the two: 1.56.
    thumb = encode(full.resize((256, 192), Image.Resampling.LANCZOS), "JPEG", quality=85)
    thumb_pixels = np.asarray(Image.open(io.BytesIO(thumb)))
    assert mean_abs_diff(thumbnail_pixels(prepared), thumb_pixels) <= 2 * DRAFT_TOLERANCE


@pytest.mark.parametrize("orientation", range(1, 9))
def test_draft_decode_of_a_rotated_jpeg_matches_a_full_decode(
    orientation: int, draft_sizes: list[tuple[int, int]]
) -> None:
    # 2001x1503 is no multiple of 4: the draft ends in a partial pixel, wherever it turns.
    data = encode(astronaut((2001, 1503)), "JPEG", quality=90, exif=exif_orientation(orientation))
    prepared = prepare(data)
    assert draft_sizes == [(501, 376)]
    full = ImageOps.exif_transpose(Image.open(io.BytesIO(data)).convert("RGB"))
    assert (prepared.width, prepared.height) == full.size
    vgg = np.asarray(full.resize((224, 224), Image.Resampling.BILINEAR))
    assert mean_abs_diff(prepared.inputs["vgg16"], vgg) <= DRAFT_TOLERANCE
    assert mean_abs_diff(prepared.inputs["clip_image"], clip_reference(full)) <= DRAFT_TOLERANCE


@pytest.mark.parametrize(
    ("size", "decoded", "thumbnail"),
    [
        ((4000, 3000), (500, 375), (256, 192)),
        ((3000, 1800), (375, 225), (256, 154)),  # shortest side 225 >= 224 at 1/8
        ((1800, 1800), (450, 450), (256, 256)),  # 1/8 gives 225x225: the crops fit, not the thumb
        ((1792, 1792), (448, 448), (256, 256)),
        ((2100, 1000), (525, 250), (256, 122)),
        ((600, 400), (600, 400), (256, 171)),  # 1/2 would leave 200 < 224: decoded whole
    ],
)
def test_draft_picks_the_smallest_scale_that_never_upscales(
    size: tuple[int, int],
    decoded: tuple[int, int],
    thumbnail: tuple[int, int],
    draft_sizes: list[tuple[int, int]],
) -> None:
    prepared = prepare(encode(astronaut(size), "JPEG", quality=80))
    assert (draft_sizes or [size]) == [decoded]
    assert min(decoded) >= 224
    assert max(decoded) >= THUMBNAIL_SIZE
    scale = size[0] // decoded[0]
    assert Image.open(io.BytesIO(thumb(prepared))).size == thumbnail
    if scale < 8:  # the next scale down would have been too small for something
        half = (-(-size[0] // (2 * scale)), -(-size[1] // (2 * scale)))
        assert min(half) < 224 or max(half) < THUMBNAIL_SIZE


@pytest.mark.parametrize("size", [(1800, 1800), (4000, 3000), (600, 400)])
def test_a_query_skips_the_thumbnail_and_gets_the_inputs_its_file_got_when_indexed(
    size: tuple[int, int],
) -> None:
    data = encode(astronaut(size), "JPEG", quality=90)
    query = prepare_image(data, SPECS, LIMITS, thumbnail=False)
    indexed = prepare(data)
    assert query.thumbnail_jpeg is None and indexed.thumbnail_jpeg
    for name, pixels in indexed.inputs.items():
        np.testing.assert_array_equal(query.inputs[name], pixels, err_msg=name)


# --- the thumbnail ---------------------------------------------------------------------------


def test_thumbnail_is_a_small_jpeg_without_metadata() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x8825] = {2: (48.0, 51.0, 0.0)}  # GPS latitude: exactly what must not leak
    data = encode(
        astronaut((1200, 800)),
        "JPEG",
        exif=exif.tobytes(),
        icc_profile=icc,
        comment="private note",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>",
    )
    assert {0xE1, 0xE2, 0xFE} <= set(jpeg_markers(data))
    thumbnail = thumb(prepare(data))
    assert not {0xE1, 0xE2, 0xED, 0xFE} & set(jpeg_markers(thumbnail))
    img = Image.open(io.BytesIO(thumbnail))
    assert img.format == "JPEG"
    assert img.size == (256, 171)
    assert not img.getexif()
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(img.info)


def test_small_pictures_are_not_upscaled_for_the_thumbnail() -> None:
    prepared = prepare(encode(halves(RED, BLUE, (100, 40)), "PNG"))
    assert Image.open(io.BytesIO(thumb(prepared))).size == (100, 40)


# --- validation --------------------------------------------------------------------------------


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", encode(halves(RED, BLUE), "JPEG"))
    return out.getvalue()


def truncated(fmt: str, **params: object) -> bytes:
    data = encode(astronaut((256, 256)), fmt, **params)
    return data[: len(data) // 2]


def broken_png_header() -> bytes:
    data = bytearray(encode(halves(RED, BLUE), "PNG"))
    data[20] ^= 0xFF  # inside IHDR: its CRC no longer matches
    return bytes(data)


UNSUPPORTED = {
    "text": b"just some words\n",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"></svg>',
    "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
    "html": b"<!doctype html><html><body><img src=x></body></html>",
    "zip": zip_file(),
    "ico": encode(halves(RED, BLUE), "ICO"),  # Pillow reads these, the service does not
    "ppm": encode(halves(RED, BLUE), "PPM"),
    "bmp-like text": b"BMW owners club newsletter",
}
CORRUPT = {
    "truncated jpeg": truncated("JPEG"),
    "truncated png": truncated("PNG"),
    "truncated gif": truncated("GIF"),
    "truncated webp": truncated("WEBP"),
    "truncated tiff": truncated("TIFF"),
    "truncated bmp": truncated("BMP"),
    "truncated avif": truncated("AVIF"),
    "truncated heif": truncated("HEIF"),
    "png with a broken header": broken_png_header(),
    "jpeg signature then noise": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,
}


@pytest.mark.parametrize("data", UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_files_that_are_not_images_are_unsupported(data: bytes) -> None:
    with pytest.raises(InvalidImageError) as caught:
        prepare(data)
    assert (caught.value.code, HTTP_STATUS[caught.value.kind]) == ("unsupported_image", 415)


@pytest.mark.parametrize("data", CORRUPT.values(), ids=CORRUPT.keys())
def test_damaged_images_are_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptImageError) as caught:
        prepare(data)
    assert (caught.value.code, HTTP_STATUS[caught.value.kind]) == ("corrupt_image", 400)
    assert caught.value.__cause__ is not None


def grey(width: int, height: int, fmt: str = "PNG") -> bytes:
    return encode(Image.new("L", (width, height), 128), fmt)


@pytest.mark.parametrize(
    ("data", "limits", "error", "code", "status"),
    [
        pytest.param(b"", LIMITS, BadInputError, "empty_file", 400, id="empty"),
        pytest.param(
            grey(64, 64),
            LimitSettings(max_upload_bytes=50),
            TooLargeError,
            "file_too_large",
            413,
            id="file too large",
        ),
        # Header-only PNGs: the sizes are refused before any pixel data is read.
        pytest.param(png(9000, 9000), LIMITS, TooLargeError, "too_many_pixels", 413, id="81 MP"),
        pytest.param(
            png(25_000, 1000), LIMITS, TooLargeError, "image_too_large", 413, id="side too long"
        ),
        pytest.param(grey(1, 1), LIMITS, ValidationError, "image_too_small", 422, id="1x1"),
        pytest.param(grey(64, 7), LIMITS, ValidationError, "image_too_small", 422, id="64x7"),
        # Also too long and too thin: the aspect ratio is what explains it to a person.
        pytest.param(
            grey(30_000, 1), LIMITS, ValidationError, "bad_aspect_ratio", 422, id="30000x1"
        ),
        pytest.param(
            grey(20, 1100, "GIF"), LIMITS, ValidationError, "bad_aspect_ratio", 422, id="20x1100"
        ),
    ],
)
def test_limits_are_enforced_with_their_own_code(
    data: bytes, limits: LimitSettings, error: type[PicSearchError], code: str, status: int
) -> None:
    with pytest.raises(error) as caught:
        prepare(data, limits)
    assert (caught.value.code, HTTP_STATUS[caught.value.kind]) == (code, status)


@pytest.fixture
def no_pixel_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if any image's pixel memory is allocated for decoding."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were allocated")

    monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", refuse)


@pytest.mark.usefixtures("no_pixel_allocation")
@pytest.mark.parametrize(
    "data",
    [
        png(100_000, 100_000),
        png(9000, 9000),
        jpeg_claiming(65_000, 65_000),
        jpeg_claiming(9000, 9000),
    ],
    ids=["png 100000x100000", "png 9000x9000", "jpeg 65000x65000", "jpeg 9000x9000"],
)
def test_decompression_bombs_are_refused_from_the_header_alone(data: bytes) -> None:
    # Over 2 x Image.MAX_IMAGE_PIXELS Pillow's own guard raises while opening; under that,
    # the gateway's max_pixels check on the header size does. Either way nothing is decoded.
    assert len(data) < 1000
    with pytest.raises(TooLargeError) as caught:
        prepare(data)
    assert caught.value.code == "too_many_pixels"


def test_pixel_limits_come_from_the_settings() -> None:
    data = encode(astronaut((300, 200)), "PNG")
    prepare(data, LimitSettings(max_pixels=60_000))
    with pytest.raises(TooLargeError):
        prepare(data, LimitSettings(max_pixels=59_999))


def test_importing_the_module_leaves_truncated_images_refused() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_refuses_to_run_if_something_allowed_truncated_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        prepare(encode(halves(RED, BLUE), "PNG"))
