"""Latency, shared by the load benchmarks: percentiles, a closed-loop load driver, and the
gateway's own per-stage timings of a request (its `Server-Timing` header)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import numpy as np

Call = Callable[[int], Awaitable[None]]  # a request, numbered


def percentiles(
    samples: Sequence[float], qs: Sequence[int] = (50, 95, 99), to_ms: float = 1000.0
) -> dict[str, float]:
    """The percentiles `qs`, mean and count of `samples` (s, or ms with `to_ms=1`), in ms."""
    if not len(samples):
        return {}
    ms = np.asarray(samples, np.float64) * to_ms
    out = {f"p{q}_ms": float(np.percentile(ms, q)) for q in qs}
    return out | {"mean_ms": float(ms.mean()), "n": len(ms)}


def server_timing(header: str) -> dict[str, float]:
    """`Server-Timing: decode;dur=3.1, triton;dur=20.4, total;dur=30.0` as {name: ms}."""
    parts = (part.strip().partition(";dur=") for part in header.split(","))
    return {name: float(ms) for name, _, ms in parts if ms}


def stage_percentiles(timings: list[dict[str, float]], qs: Sequence[int]) -> dict[str, Any]:
    """Per stage named in any of `timings` (`server_timing` results), its percentiles."""
    names = sorted({name for t in timings for name in t})
    return {n: percentiles([t[n] for t in timings if n in t], qs, to_ms=1.0) for n in names}


class Load:
    """`clients` workers calling `call` on each of `items` back to back until out of items or
    stopped; each success's latency kept, each failure counted (not raised)."""

    def __init__(
        self, call: Callable[[Any], Awaitable[Any]], items: Iterable[Any], clients: int, kind: str
    ) -> None:
        self.call, self.items, self.clients, self.kind = call, iter(items), clients, kind
        self.latencies_s: list[float] = []
        self.failures: list[str] = []
        self.stopping = False

    async def _worker(self) -> None:
        for item in self.items:
            if self.stopping:
                return
            began = time.perf_counter()
            try:
                await self.call(item)
                self.latencies_s.append(time.perf_counter() - began)
            except Exception as exc:
                self.failures.append(f"{self.kind}: {type(exc).__name__}: {str(exc)[:200]}")

    async def __aenter__(self) -> Load:
        self.started = time.perf_counter()
        self.tasks = [asyncio.create_task(self._worker()) for _ in range(self.clients)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Requests under way finish and count: a short phase may see none finish inside it.
        self.stopping = True
        await asyncio.gather(*self.tasks)
        self.wall_s = time.perf_counter() - self.started
        self.per_s = len(self.latencies_s) / self.wall_s


async def closed_loop(
    call: Call, concurrency: int, requests: int, warmup: int = 0, first: int = 0
) -> Load:
    """`concurrency` workers make `requests` timed calls back to back, after `warmup` untimed;
    the timed calls are numbered from `first`."""
    if warmup:
        await closed_loop(call, concurrency, warmup)
    clients = min(concurrency, max(requests, 1))
    async with Load(call, range(first, first + requests), clients, "failed") as load:
        await asyncio.gather(*load.tasks)  # every call made: none stopped
    for failure in load.failures[:3]:
        print(f"[bench] request {failure}", flush=True)
    return load
