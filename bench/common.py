"""What every benchmark shares: the run context, the machine record, result files, timing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from gateway.config import get_settings
from gateway.export import cpu_runtimes
from gateway.models.registry import triton_models

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Stack:
    """Where the servers under test are; `gateway_pid` only when this run started them."""

    gateway_url: str
    triton_grpc: str
    triton_http: str | None
    milvus_uri: str
    repository: Path  # a local copy of the served models (in-process baselines, batching)
    gateway_pid: int | None = None
    gateway_grpc: str = ""  # HOST:PORT of the gateway's picsearch.v1 server


@dataclass
class Context:
    stack: Stack
    tiny: bool
    results_dir: Path
    workdir: Path  # scratch space, deleted after the run
    run_id: str = field(default_factory=lambda: os.urandom(4).hex())
    weights: dict[str, str] = field(default_factory=dict)  # Triton model -> provenance

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def target(
    name: str,
    goal: str,
    value: float | None,
    met: bool | None,
    limit: str = "",
    display: str = "",
) -> dict[str, Any]:
    """One target of a benchmark, as the README table shows it (`display`: the value with
    its context). `met` None: not measured at the scale the target is set for."""
    return {
        "name": name,
        "target": goal,
        "value": value,
        "met": met,
        "limit": limit,
        "display": display,
    }


_NOTABLE_FLAGS = frozenset(("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
    "avx512_fp16", "amx_bf16", "amx_int8", "avx_vnni"))  # fmt: skip


def machine(tiny: bool) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_model": model,
        # The SIMD flags that decide which kernels (and precisions) the runtimes pick here.
        "cpu_flags": sorted(cpu_runtimes.cpu_flags() & _NOTABLE_FLAGS),
        "lscpu": lscpu_summary(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "commit": _git_commit(),
        "tiny": tiny,
    }


# The lscpu lines that describe the machine a result was measured on (docs/performance.md).
_LSCPU_KEYS = (
    "Architecture",
    "Model name",
    "CPU(s)",
    "Thread(s) per core",
    "Core(s) per socket",
    "Socket(s)",
    "L2 cache",
    "L3 cache",
    "Hypervisor vendor",
    "Virtualization type",
)


def lscpu_summary() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {k: fields[k].strip() for k in _LSCPU_KEYS if k in fields}


def served_weights(stack: Stack) -> dict[str, str]:
    """Each model's weights provenance: from Triton's config API, else the local copy."""
    out = {}
    for model in (s.name for s in triton_models(get_settings().models.enabled)):
        try:
            if stack.triton_http:
                url = f"http://{stack.triton_http}/v2/models/{model}/config"
                with urllib.request.urlopen(url, timeout=10) as response:
                    config = json.loads(response.read())
                out[model] = config["parameters"]["weights_provenance"]["string_value"]
            else:
                local = stack.repository / model / "1" / "provenance.json"
                out[model] = json.loads(local.read_text())["weights"]
        except (OSError, KeyError, ValueError):
            out[model] = "unknown"
    return out


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def write_result(
    ctx: Context, name: str, results: dict[str, Any], targets: list[dict[str, Any]], fig: Figure
) -> Path:
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": name,
        "machine": machine(ctx.tiny),
        "weights": ctx.weights,
        "targets": targets,
        "results": results,
    }
    path = ctx.results_dir / f"{name}.json"
    path.write_text(json.dumps(_plain(body), indent=2) + "\n")
    fig.tight_layout()
    fig.savefig(ctx.results_dir / f"{name}.png", dpi=72)
    plt.close(fig)
    return path


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python numbers, floats rounded to what we can measure."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if np.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def figure(cols: int = 1, rows: int = 1, width: float = 7.0, height: float = 3.6) -> Any:
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    return fig, axes


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of latencies given in seconds, in milliseconds."""
    if not samples_s:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    ms = np.asarray(samples_s) * 1000.0
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "n": len(ms),
    }


@dataclass
class LoadResult:
    latencies_s: list[float]
    wall_s: float
    errors: int
    # Per request, what the call reported (e.g. seconds spent in the backends), if anything.
    reported_s: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            **percentiles(self.latencies_s),
            "throughput_per_s": self.throughput,
            "errors": self.errors,
            "wall_s": self.wall_s,
        }


async def closed_loop(
    call: Callable[[int], Awaitable[float | None]],
    concurrency: int,
    requests: int,
    warmup: int = 0,
) -> LoadResult:
    """`concurrency` workers issue `requests` calls back to back; each call's latency counts.

    The first `warmup` calls run (at the same concurrency) before the clock starts. A call
    may return a number of seconds (time it spent in a backend) to keep beside its latency."""
    reported: list[float] = []

    async def drive(count: int, record: list[float] | None) -> int:
        counter = iter(range(count))
        errors = 0

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                start = time.perf_counter()
                try:
                    extra = await call(i)
                except Exception as exc:
                    errors += 1
                    if errors <= 3:
                        print(f"[bench] request failed: {type(exc).__name__}: {exc}", flush=True)
                    continue
                if record is not None:
                    record.append(time.perf_counter() - start)
                    if extra is not None:
                        reported.append(extra)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, max(count, 1)))))
        return errors

    if warmup:
        await drive(warmup, None)
    latencies: list[float] = []
    start = time.perf_counter()
    errors = await drive(requests, latencies)
    return LoadResult(latencies, time.perf_counter() - start, errors, reported)
