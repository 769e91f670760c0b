"""Latency, shared by the load benchmarks: percentiles, a closed-loop load driver, and the
gateway's own per-stage timings of a request (its `Server-Timing` header)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def percentiles(
    samples: Sequence[float], qs: Sequence[int] = (50, 95, 99), to_ms: float = 1000.0
) -> dict[str, float]:
    """The percentiles `qs` and the mean of `samples` (seconds; milliseconds with `to_ms=1`),
    in milliseconds, and their count; nothing for no samples."""
    if not len(samples):
        return {}
    ms = np.asarray(samples, np.float64) * to_ms
    out = {f"p{q}_ms": float(np.percentile(ms, q)) for q in qs}
    return out | {"mean_ms": float(ms.mean()), "n": len(ms)}


def server_timing(header: str) -> dict[str, float]:
    """`Server-Timing: decode;dur=3.1, triton;dur=20.4, total;dur=30.0` as {name: ms}."""
    out = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";dur=")
        if rest:
            out[name] = float(rest)
    return out


def stage_percentiles(timings: list[dict[str, float]], qs: Sequence[int]) -> dict[str, Any]:
    """Per stage named in any of `timings` (`server_timing` results), its percentiles."""
    names = sorted({name for t in timings for name in t})
    return {n: percentiles([t[n] for t in timings if n in t], qs, to_ms=1.0) for n in names}


@dataclass
class LoadResult:
    latencies_s: list[float]
    wall_s: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s > 0 else 0.0


async def closed_loop(
    call: Callable[[int], Awaitable[None]],
    concurrency: int,
    requests: int,
    warmup: int = 0,
) -> LoadResult:
    """`concurrency` workers issue `requests` calls back to back; each call's latency counts.

    The first `warmup` calls run (at the same concurrency) before the clock starts."""

    async def drive(count: int, record: list[float] | None) -> int:
        counter = iter(range(count))
        errors = 0

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                start = time.perf_counter()
                try:
                    await call(i)
                except Exception as exc:
                    errors += 1
                    if errors <= 3:
                        print(f"[bench] request failed: {type(exc).__name__}: {exc}", flush=True)
                    continue
                if record is not None:
                    record.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, max(count, 1)))))
        return errors

    if warmup:
        await drive(warmup, None)
    latencies: list[float] = []
    start = time.perf_counter()
    errors = await drive(requests, latencies)
    return LoadResult(latencies, time.perf_counter() - start, errors)
