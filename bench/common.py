"""What every benchmark shares: the run context, the machine record, result files, timing."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import os
import platform
import subprocess
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import psutil
from matplotlib.figure import Figure

from gateway.config import get_settings
from gateway.export import cpu_runtimes
from gateway.models.registry import triton_models

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
T = TypeVar("T")


@dataclass(frozen=True)
class Stack:
    """Where the servers under test are; `gateway_pid` only when this run started them."""

    gateway_url: str
    triton_grpc: str
    triton_http: str | None
    milvus_uri: str
    repository: Path  # a local copy of the served models (in-process baselines, batching)
    gateway_pid: int | None = None


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


def run_async(body: Callable[[Context], Coroutine[Any, Any, T]]) -> Callable[[Context], T]:
    """An async benchmark as the plain `run(ctx)` the runner calls."""
    return functools.wraps(body)(lambda ctx: asyncio.run(body(ctx)))


def target(
    name: str, goal: str, value: float | None, met: bool | None, limit: str = "", display: str = ""
) -> dict[str, Any]:
    """One target of a benchmark, as the README table shows it (`display`: the value with
    its context). `met` None: not measured at the scale the target is set for."""
    return dict(name=name, target=goal, value=value, met=met, limit=limit, display=display)


_NOTABLE_FLAGS = frozenset(("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
    "avx512_fp16", "amx_bf16", "amx_int8", "avx_vnni"))  # fmt: skip
# The lscpu lines that describe the machine a result was measured on (docs/performance.md).
_LSCPU_KEYS = ("Architecture", "Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket",
    "Socket(s)", "L2 cache", "L3 cache", "Hypervisor vendor", "Virtualization type")  # fmt: skip


def machine(tiny: bool) -> dict[str, Any]:
    fields = dict(line.split(":", 1) for line in _run(["lscpu"]).splitlines() if ":" in line)
    lscpu = {k: fields[k].strip() for k in _LSCPU_KEYS if k in fields}
    return {
        "cpu_model": lscpu.get("Model name") or platform.processor() or "unknown",
        # The SIMD flags that decide which kernels (and precisions) the runtimes pick here.
        "cpu_flags": sorted(cpu_runtimes.cpu_flags() & _NOTABLE_FLAGS),
        "lscpu": lscpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "commit": _commit(),
        "tiny": tiny,
    }


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


def _commit() -> str:
    """HEAD, marked when tracked files differ from it: the result then measured more than
    that commit. The benchmark's own outputs do not count."""
    head = _run(["git", "rev-parse", "--short", "HEAD"]).strip()
    outputs = (":!bench/results", ":!docs/performance.md")
    changed = _run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *outputs])
    return f"{head}+uncommitted" if head and changed.strip() else head or "unknown"


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def write_result(
    ctx: Context, name: str, results: dict[str, Any], targets: list[dict[str, Any]], fig: Figure
) -> None:
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": name,
        "machine": machine(ctx.tiny),
        "weights": ctx.weights,
        "targets": targets,
        "results": results,
    }
    (ctx.results_dir / f"{name}.json").write_text(json.dumps(_plain(body), indent=2) + "\n")
    fig.tight_layout()
    fig.savefig(ctx.results_dir / f"{name}.png", dpi=72)
    plt.close(fig)


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
    return plt.subplots(rows, cols, figsize=(width, height), squeeze=False)


def bars(ax: Any, groups: list[str], series: dict[str, list[float]], **ticks: Any) -> Any:
    """Grouped bars: a group per name in `groups`, a bar per series; returns the centres."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(x, groups, **ticks)
    ax.legend(fontsize=7)
    return x
