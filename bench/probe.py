"""Where the time goes, between two moments of a load run: Triton's per-model statistics
(so its batching, queue and compute), the gateway's per-stage Prometheus timings, and the
cores each server kept busy. The evidence behind every "what limits it"."""

from __future__ import annotations

import collections
import contextlib
import time
import urllib.request
from typing import Any

import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.common import Stack
from gateway.serving.triton import model_statistics

_STAT_KINDS = ("queue", "compute_input", "compute_infer", "compute_output", "success")


def triton_stats(http: str | None, model: str) -> dict[str, Any] | None:
    """The raw `/v2/models/<model>/stats` entry, or None without an HTTP endpoint."""
    return model_statistics(http, model) if http else None


def triton_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """What happened between two snapshots: requests, executions (so the mean batch size),
    and mean milliseconds per request spent queued versus computing."""
    if before is None or after is None:
        return {}

    def grew(read: Any) -> float:
        return float(read(after) - read(before))

    requests = grew(lambda s: s["inference_stats"]["success"]["count"])
    executions = grew(lambda s: s["execution_count"])
    inferences = grew(lambda s: s["inference_count"])
    # Per execution, so a batch's time counts once (per-request times count it per request).
    infer_ns = grew(lambda s: sum(int(b["compute_infer"]["ns"]) for b in s.get("batch_stats", [])))
    out: dict[str, Any] = {
        "requests": int(requests),
        "images_or_texts": int(inferences),
        "executions": int(executions),
        "mean_batch_size": inferences / executions if executions else 0.0,
        "compute_infer_ms_per_item": infer_ns / 1e6 / inferences if inferences else 0.0,
    }
    for kind in _STAT_KINDS:
        ns = grew(lambda s, kind=kind: s["inference_stats"][kind]["ns"])
        label = "request_total" if kind == "success" else kind
        out[f"{label}_ms_per_request"] = ns / 1e6 / requests if requests else 0.0
    return out


def gateway_stages(gateway_url: str) -> dict[str, float]:
    """Stage -> seconds spent in it so far, from the gateway's `pic_search_stage_seconds`."""
    with urllib.request.urlopen(f"{gateway_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, float] = collections.defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pic_search_stage_seconds_sum":
                out[sample.labels["stage"]] += sample.value
    return dict(out)


def _role(proc: psutil.Process, gateway_pid: int | None) -> str | None:
    """Which server a process belongs to: the gateway (and its children), Triton (server and
    Python-backend stubs), or Milvus."""
    try:
        if gateway_pid is not None and (
            proc.pid == gateway_pid or gateway_pid in {p.pid for p in proc.parents()}
        ):
            return "gateway"
        line = " ".join(proc.cmdline()).lower()
    except psutil.Error:
        return None
    if "tritonserver" in line or "triton_python_backend_stub" in line:
        return "triton"
    if "infinity_emb" in line:  # the peer benchmark's embedding server
        return "infinity"
    return "milvus" if "milvus" in line else None


def cpu_by_role(gateway_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of each server's processes (see `_role`) and of this benchmark."""
    out = {"gateway": 0.0, "triton": 0.0, "milvus": 0.0, "infinity": 0.0}
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if (role := _role(proc, gateway_pid)) is not None:
                out[role] += sum(proc.cpu_times()[:2])  # user + system
    out["benchmark_clients"] = sum(psutil.Process().cpu_times()[:2])
    return out


class Probe:
    """Snapshots of the stack's counters, and what happened between two of them."""

    def __init__(self, stack: Stack, models: list[str]) -> None:
        self.stack, self.models = stack, models

    def snapshot(self) -> dict[str, Any]:
        return {
            "at": time.perf_counter(),
            "triton": {m: triton_stats(self.stack.triton_http, m) for m in self.models},
            "stages": gateway_stages(self.stack.gateway_url),
            "cpu": cpu_by_role(self.stack.gateway_pid),
        }

    def delta(self, before: dict[str, Any], per: int) -> dict[str, Any]:
        """Mean cores each role kept busy (and their sum), Triton's deltas per model, and the
        milliseconds per unit of work (`per`: images, requests) spent in each gateway stage."""
        after = self.snapshot()
        wall_s = after["at"] - before["at"]
        cores = {r: (t - before["cpu"].get(r, 0.0)) / wall_s for r, t in after["cpu"].items()}
        spent = {s: t - before["stages"].get(s, 0.0) for s, t in after["stages"].items()}
        triton = {m: triton_delta(before["triton"][m], after["triton"][m]) for m in self.models}
        return {
            "cores_used": cores | {"all": sum(cores.values())},
            "triton": triton,
            "gateway_stage_ms": {f"{s}_ms": t * 1000 / per for s, t in spent.items() if t > 0},
        }
