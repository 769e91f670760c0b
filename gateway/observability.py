"""Per-stage timings (decode, triton, milvus, store) for Prometheus and `Server-Timing`.

Services wrap work in `stage("triton")`; the timings of the current request collect in a
context variable that the HTTP middleware turns into a `Server-Timing` header.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "pic_search_requests_total",
    "Requests (HTTP routes and gRPC methods)",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "pic_search_request_seconds", "Request latency (HTTP routes and gRPC methods)", ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)  # fmt: skip
STAGE_SECONDS = Histogram(
    "pic_search_stage_seconds", "Time per stage of a request", ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
# API requests being handled; what a graceful shutdown waits for.
IN_FLIGHT = Gauge("pic_search_api_requests_in_flight", "/v1 requests being handled")
IMAGES_INGESTED = Counter("pic_search_images_ingested_total", "Ingest results", ["status"])

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_timings: ContextVar[dict[str, float] | None] = ContextVar("timings", default=None)


def request_id(offered: str | None) -> str:
    """The client's request id when it is a sane one, else a fresh one."""
    return offered if offered and _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def start_request_timings() -> dict[str, float]:
    timings: dict[str, float] = {}
    _timings.set(timings)
    return timings


@contextmanager
def stage(name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        STAGE_SECONDS.labels(name).observe(elapsed)
        timings = _timings.get()
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + elapsed


def server_timing_header(timings: dict[str, float], total_s: float) -> str:
    parts = [f"{name};dur={seconds * 1000:.1f}" for name, seconds in timings.items()]
    parts.append(f"total;dur={total_s * 1000:.1f}")
    return ", ".join(parts)
