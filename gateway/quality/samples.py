"""Sample photographs that ship inside scikit-image and scikit-learn (no download needed).

The local stack indexes them on first start; the tests and benchmarks use them too.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image

# Distinct pictures only (skimage's `cat` is `chelsea` again).
SKIMAGE_PHOTOS = (
    "astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "hubble_deep_field",
    "immunohistochemistry", "retina", "moon", "page", "text", "clock", "brick", "grass",
    "gravel", "colorwheel",
)  # fmt: skip
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")


def sample_arrays() -> dict[str, npt.NDArray[np.uint8]]:
    """Name -> RGB or grayscale uint8 pixels."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    arrays = {name: np.asarray(getattr(skimage.data, name)()) for name in SKIMAGE_PHOTOS}
    bundle = load_sample_images()
    for filename, image in zip(bundle.filenames, bundle.images, strict=True):
        name = filename.rsplit("/", 1)[-1]
        if name in SKLEARN_PHOTOS:
            arrays[name.removesuffix(".jpg")] = np.asarray(image)
    return arrays


def encode(pixels: npt.NDArray[np.uint8], fmt: str = "JPEG", quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def sample_photos() -> dict[str, bytes]:
    """Name -> JPEG bytes of every bundled sample photo."""
    return {f"{name}.jpg": encode(pixels) for name, pixels in sample_arrays().items()}
