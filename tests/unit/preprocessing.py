"""What the preprocessing tests share: the models' specs, tolerances, and the reference
pipelines the inputs are held to."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from gateway.config import LimitSettings
from gateway.models.registry import triton_model
from gateway.preprocess import (
    PreparedImage,
    prepare_image,
)
from tests.unit.images import (
    Colour,
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
