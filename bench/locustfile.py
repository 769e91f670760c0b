"""Load test: a realistic mix against a Pic Search gateway, local or remote (`--host`).

    locust -f bench/locustfile.py --headless -u 16 -r 16 -t 60s --host http://127.0.0.1:8080

Users browse like people with a photo library: mostly image and text searches and the
thumbnails of their results, now and then an upload of a new photo. Set
PIC_SEARCH_API_KEY when the deployment has keys; BENCH_THINK_S sets the think time
(seconds, upper bound of a uniform draw; default 1).
"""

from __future__ import annotations

import os
import random
import threading
from typing import Any, ClassVar

import numpy as np
from locust import HttpUser, between, task
from PIL import Image

QUERIES = ("a cat", "a photo of an astronaut", "coffee", "a rocket launch", "old coins",
           "a red flower", "a temple", "the moon", "printed text", "a clock on a wall",
           "a brick wall", "grass", "gravel", "a colour wheel", "a man with a camera")  # fmt: skip
_lock = threading.Lock()
_pixels: list[np.ndarray] = []
_queries: list[bytes] = []
THINK_S = float(os.environ.get("BENCH_THINK_S", "1.0"))


def _load_photos() -> None:
    with _lock:
        if _pixels:
            return
        from gateway.quality.samples import encode, sample_arrays

        for _, pixels in sorted(sample_arrays().items()):
            rgb = np.asarray(Image.fromarray(pixels).convert("RGB"))
            _pixels.append(rgb)
            _queries.append(encode(rgb, quality=88))


def new_photo() -> bytes:
    """A sample photo with a random 8x8 patch: new bytes, so a new image to the gateway."""
    pixels = random.choice(_pixels).copy()
    y = random.randrange(pixels.shape[0] - 8)
    x = random.randrange(pixels.shape[1] - 8)
    pixels[y : y + 8, x : x + 8] = np.random.randint(0, 256, (8, 8, 3), dtype=np.uint8)
    from gateway.quality.samples import encode

    return encode(pixels, quality=88)


class LibraryUser(HttpUser):
    wait_time = between(0.0, THINK_S)
    thumbnails: ClassVar[list[str]] = []  # shared by all users: what searches returned

    def on_start(self) -> None:
        _load_photos()
        key = os.environ.get("PIC_SEARCH_API_KEY")
        if key:
            self.client.headers["X-API-Key"] = key

    def _searched(self, response: Any) -> None:
        """Judge a search response; remember its thumbnails for fetch_thumbnails."""
        if response.status_code != 200:
            response.failure(f"{response.status_code}: {response.text[:200]}")
            return
        response.success()
        results = response.json().get("results", [])
        urls = [hit["thumbnail_url"] for hit in results if "thumbnail_url" in hit]
        if urls:
            LibraryUser.thumbnails = (urls + LibraryUser.thumbnails)[:200]

    @task(5)
    def search_by_image(self) -> None:
        files = {"file": ("query.jpg", random.choice(_queries), "image/jpeg")}
        with self.client.post(
            "/v1/search/image", files=files, data={"top_k": "12"}, catch_response=True
        ) as response:
            self._searched(response)

    @task(3)
    def search_by_text(self) -> None:
        with self.client.get(
            "/v1/search/text",
            params={"q": random.choice(QUERIES), "top_k": 12},
            name="/v1/search/text",
            catch_response=True,
        ) as response:
            self._searched(response)

    @task(6)
    def fetch_thumbnails(self) -> None:
        # A results page shows several thumbnails at once.
        for url in random.sample(self.thumbnails, min(4, len(self.thumbnails))):
            self.client.get(url, name="/v1/images/[id]/thumbnail")

    @task(1)
    def ingest(self) -> None:
        files = [("files", ("upload.jpg", new_photo(), "image/jpeg"))]
        with self.client.post(
            "/v1/images", files=files, name="/v1/images [ingest]", catch_response=True
        ) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
