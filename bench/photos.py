"""Benchmark inputs made from the bundled sample photos (nothing is downloaded)."""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from gateway.quality.samples import encode, sample_arrays


@functools.cache
def rgb_samples() -> tuple[np.ndarray, ...]:
    """Every sample photo as RGB uint8 pixels, in a fixed order."""
    out = []
    for _, pixels in sorted(sample_arrays().items()):
        image = Image.fromarray(pixels)
        out.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    return tuple(out)


def distinct_photos(count: int, seed: str) -> list[bytes]:
    """`count` JPEGs with distinct bytes (so distinct ids): the sample photos in turn, each
    with a small random patch of noise. `seed` makes every run's files new to the gateway."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8]))
    bases = rgb_samples()
    out = []
    for i in range(count):
        pixels = bases[i % len(bases)].copy()
        y = int(rng.integers(0, pixels.shape[0] - 8))
        x = int(rng.integers(0, pixels.shape[1] - 8))
        pixels[y : y + 8, x : x + 8] = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        out.append(encode(pixels, quality=90))
    return out


def write_folder(folder: Path, photos: list[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(photos):
        path = folder / f"photo-{i:05d}.jpg"
        path.write_bytes(data)
        paths.append(path)
    return paths


def large_jpegs(count: int, size: tuple[int, int] = (4000, 3000), quality: int = 90) -> list[bytes]:
    """12-megapixel JPEGs like a phone camera's: sample photos upscaled (bicubic), with a
    little noise so the encoder sees sensor-like detail rather than smooth gradients."""
    rng = np.random.default_rng(12)
    out = []
    for pixels in rgb_samples()[:count]:
        big = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC))
        noisy = np.clip(big.astype(np.int16) + rng.integers(-6, 7, big.shape), 0, 255)
        buffer = io.BytesIO()
        Image.fromarray(noisy.astype(np.uint8)).save(buffer, "JPEG", quality=quality)
        out.append(buffer.getvalue())
    return out
