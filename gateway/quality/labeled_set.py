"""A labeled set of real photos, assembled offline from what installed packages ship.

No package reachable here ships a labeled photo collection, so the set is built from the real
photographs that scikit-image, scikit-learn and matplotlib carry in their wheels:
- one class per photograph, whose members are the nine tiles of a 3x3 grid over it (different
  parts of one scene: same place, light and subject, different pixels);
- scikit-image's `lfw_subset`: 100 face crops from Labeled Faces in the Wild and 100 non-face
  patches of natural photos, two classes.
Nothing is committed: `write_labeled_set` writes class subfolders of JPEGs from the installed
packages, the layout `pic-search eval --labeled` reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.quality.samples import encode, sample_arrays

GRID = 3
# The bundled photos that are photographs of a scene (not synthetic: no colour wheel, no clock).
TILED_PHOTOS = (
    "astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "hubble_deep_field",
    "immunohistochemistry", "retina", "moon", "page", "brick", "grass", "gravel", "china",
    "flower", "grace_hopper",
)  # fmt: skip
FACE_CLASSES = ("lfw_face", "lfw_not_face")


def _grace_hopper() -> npt.NDArray[np.uint8]:
    import matplotlib.cbook
    from PIL import Image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(str(path)) as image:
        return np.asarray(image.convert("RGB"))


def _tiles(pixels: npt.NDArray[np.uint8]) -> Iterator[npt.NDArray[np.uint8]]:
    height, width = pixels.shape[:2]
    for row in range(GRID):
        for col in range(GRID):
            top, left = row * height // GRID, col * width // GRID
            yield pixels[top : top + height // GRID, left : left + width // GRID]


def labeled_images(per_class: int | None = None) -> dict[str, dict[str, bytes]]:
    """Class -> {file name: JPEG bytes}; `per_class` keeps the first N of each class."""
    import skimage.data

    photos = {**sample_arrays(), "grace_hopper": _grace_hopper()}
    classes: dict[str, dict[str, bytes]] = {}
    for name in TILED_PHOTOS:
        tiles = list(_tiles(photos[name]))[:per_class]
        classes[name] = {f"{name}-{i}.jpg": encode(tile) for i, tile in enumerate(tiles)}
    lfw = skimage.data.lfw_subset()  # type: ignore[no-untyped-call]
    faces = (lfw * 255).round().astype(np.uint8)
    for label, block in zip(FACE_CLASSES, (faces[:100], faces[100:]), strict=True):
        classes[label] = {f"{label}-{i}.jpg": encode(img) for i, img in enumerate(block)}
        classes[label] = dict(list(classes[label].items())[:per_class])
    return classes


def write_labeled_set(dest: Path, per_class: int | None = None) -> int:
    """Write `dest/<class>/<name>.jpg`; returns the number of images."""
    count = 0
    for label, images in labeled_images(per_class).items():
        (dest / label).mkdir(parents=True, exist_ok=True)
        for name, data in images.items():
            (dest / label / name).write_bytes(data)
            count += 1
    return count
