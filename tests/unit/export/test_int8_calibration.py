"""int8's calibration data: the project's real photos, prepared as the gateway prepares an
upload (a calibration on noise or on other preprocessing fits ranges no photo produces)."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.config import LimitSettings
from gateway.export.int8_export import PhotoCalibration
from gateway.models.registry import EFFICIENTNET_LITE0, triton_models
from gateway.preprocess import prepare_image
from gateway.quality.samples import sample_photos


def _drain(reader: PhotoCalibration) -> list[np.ndarray]:
    rows = []
    while (feed := reader.get_next()) is not None:
        rows.append(feed["images"])
    return rows


def test_the_calibration_yields_every_sample_photo_as_the_gateway_prepares_it() -> None:
    spec = EFFICIENTNET_LITE0.image_model
    photos = sample_photos()
    rows = _drain(PhotoCalibration(spec))
    assert len(rows) == len(photos) >= 15
    limits = LimitSettings()
    for row, data in zip(rows, photos.values(), strict=True):
        assert row.dtype == np.uint8 and row.shape == (1, *spec.input.dims)
        expected = prepare_image(data, [spec], limits).inputs[spec.name]
        np.testing.assert_array_equal(row[0], expected)


def test_the_calibration_rows_look_like_photos_not_noise() -> None:
    """Neighbouring pixels of a photo are alike: the mean step between them is 0.02-0.6 of
    the pixels' spread in these photos (grass is the roughest), 1.15 in uniform noise."""
    rows = _drain(PhotoCalibration(EFFICIENTNET_LITE0.image_model))
    for row in rows:
        pixels = row[0].astype(np.float64)
        step = np.abs(np.diff(pixels, axis=1)).mean()
        assert step < 0.8 * pixels.std(), step / pixels.std()


def test_a_rewound_calibration_yields_the_same_photos_again() -> None:
    reader = PhotoCalibration(EFFICIENTNET_LITE0.image_model)
    first = _drain(reader)
    reader.rewind()
    again = _drain(reader)
    assert len(again) == len(first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_text_models_are_not_calibrated_on_photos() -> None:
    text = next(spec for spec in triton_models() if not spec.is_image_model)
    with pytest.raises(ValueError, match="not an image model"):
        PhotoCalibration(text)
