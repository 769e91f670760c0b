"""Resizing against the models' reference pipelines, the thumbnail, and validation of
uploads."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
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
from gateway.preprocess import (
    THUMBNAIL_SIZE,
    prepare_image,
)
from tests.unit.images import (
    BLUE,
    RED,
    astronaut,
    encode,
    exif_orientation,
    halves,
    jpeg_claiming,
    jpeg_markers,
    png,
)
from tests.unit.preprocessing import (
    DRAFT_TOLERANCE,
    LIMITS,
    SPECS,
    clip_reference,
    mean_abs_diff,
    prepare,
    thumb,
    thumbnail_pixels,
    vgg16_reference,
)


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
