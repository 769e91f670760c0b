"""Benchmark inputs made from the bundled sample photos (nothing is downloaded)."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
from PIL import Image

from gateway.quality.samples import encode, sample_arrays


@functools.cache
def rgb_samples() -> tuple[np.ndarray, ...]:
    """Every sample photo as RGB uint8 pixels, in a fixed order."""
    photos = sorted(sample_arrays().items())
    return tuple(np.asarray(Image.fromarray(p).convert("RGB"), dtype=np.uint8) for _, p in photos)


def distinct_photos(count: int, seed: str) -> list[bytes]:
    """`count` JPEGs with distinct bytes (so distinct ids): the sample photos in turn, each
    with a small random patch of noise. `seed` makes every run's files new to the gateway."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8]))
    bases = rgb_samples()
    out = []
    for i in range(count):
        pixels = bases[i % len(bases)].copy()
        y, x = (int(rng.integers(0, side - 8)) for side in pixels.shape[:2])
        pixels[y : y + 8, x : x + 8] = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        out.append(encode(pixels, quality=90))
    return out
