"""The page's services: display renditions, facet counts and near-copy grouping."""

from __future__ import annotations

import asyncio
import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from gateway.clients.base import Hit
from gateway.config import LimitSettings
from gateway.services.backends import Backends
from gateway.services.display import render
from gateway.services.facets import as_body, count
from gateway.services.grouping import group_hits, group_vectors, unavailable
from tests.exif_craft import photo, tiff
from tests.unit.images import encode, exif_orientation, red_corner
from tests.unit.test_capture import SYDNEY

LIMITS = LimitSettings()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"])
def test_every_format_becomes_a_jpeg_without_its_location(fmt: str) -> None:
    shown = opened(render(photo(tiff([], [], SYDNEY), fmt, size=(80, 60)), LIMITS))
    assert shown.format == "JPEG" and shown.size == (80, 60)
    assert "exif" not in shown.info and not shown.getexif()


def test_a_large_photo_is_shown_at_most_2048_px_and_turned_upright() -> None:
    sideways = red_corner((3000, 2000))
    data = encode(sideways, "JPEG", exif=exif_orientation(6))  # "rotate 90° clockwise"
    shown = opened(render(data, LIMITS))
    assert shown.size == (1365, 2048)
    # The red corner (top left of the stored pixels) is top right once upright.
    pixel = shown.convert("RGB").getpixel((shown.width - 20, 20))
    assert isinstance(pixel, tuple)
    r, _, b = pixel[:3]
    assert r > 150 and b < 100


def test_a_16_bit_png_is_shown_with_its_range_stretched() -> None:
    ramp = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (32, 1))
    data = encode(Image.fromarray(ramp), "PNG")
    shown = np.asarray(opened(render(data, LIMITS)).convert("L"))
    assert shown[:, :4].mean() < 30 and shown[:, -4:].mean() > 225


def test_facets_count_photos_per_value_and_list_items_one_by_one() -> None:
    keys = count(
        [
            {"album": "2024", "rating": 5, "tags": ["cat", "sofa"]},
            {"album": "2024", "rating": 4, "tags": ["cat"], "nested": {"x": 1}},
            {"album": "trip", "flag": True},
        ]
    )
    assert keys["album"] == Counter({"2024": 2, "trip": 1})
    assert keys["tags"] == Counter({"cat": 2, "sofa": 1})
    assert keys["flag"] == Counter({"true": 1})
    assert "nested" not in keys
    body = as_body(keys, top=1)
    album = next(k for k in body["keys"] if k["key"] == "album")
    assert album["values"] == [{"value": "2024", "count": 2}]
    assert body["keys"][0]["key"] in ("album", "tags")  # the most carried keys come first


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, np.float32)
    return vector / np.linalg.norm(vector)


def test_near_copies_join_the_best_ranked_photo_they_copy() -> None:
    ranked = [("a", 0.9), ("b", 0.8), ("a2", 0.7), ("c", 0.6)]
    hits = [Hit(name, score, {}) for name, score in ranked]
    vectors = {"a": unit(1, 0, 0), "b": unit(0, 1, 0), "a2": unit(1, 0.05, 0), "c": unit(0, 0, 1)}
    groups = group_vectors(hits, vectors, 0.95)
    assert [g.hit.id for g in groups] == ["a", "b", "c"]
    assert [c.id for c in groups[0].copies] == ["a2"]
    assert groups[1].copies == [] and groups[2].copies == []


def test_a_hit_without_a_stored_vector_stands_alone() -> None:
    hits = [Hit("a", 0.9, {}), Hit("gone", 0.8, {})]
    groups = group_vectors(hits, {"a": unit(1, 0)}, 0.5)
    assert [g.hit.id for g in groups] == ["a", "gone"]


def test_a_model_built_without_a_copy_threshold_is_not_grouped_and_says_so(
    backends: Backends,
) -> None:
    model = backends.default_model()
    hits = [Hit("a", 0.9, {}), Hit("a2", 0.8, {})]
    backends.copy_thresholds[model.name] = None
    groups = asyncio.run(group_hits(backends, backends.collection(model), model, hits))
    assert [(g.hit.id, g.copies) for g in groups] == [("a", []), ("a2", [])]
    note = unavailable(backends, model)
    assert note is not None and "not grouped" in note and model.title in note
    backends.copy_thresholds[model.name] = 0.9
    assert unavailable(backends, model) is None
