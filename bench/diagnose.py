"""Evidence of where the time goes: Triton's per-model statistics, the gateway's per-stage
Prometheus timings, and the CPU each server kept busy."""

from __future__ import annotations

import collections
import json
import urllib.request
from typing import Any

import psutil

_STAT_KINDS = ("queue", "compute_input", "compute_infer", "compute_output", "success")


def triton_stats(http: str | None, model: str) -> dict[str, Any] | None:
    """The raw `/v2/models/<model>/stats` entry, or None without an HTTP endpoint."""
    if not http:
        return None
    url = f"http://{http}/v2/models/{model}/stats"
    with urllib.request.urlopen(url, timeout=10) as response:
        stats: dict[str, Any] = json.loads(response.read())["model_stats"][0]
        return stats


def triton_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """What happened between two snapshots: requests, executions (so the mean batch size),
    and mean milliseconds per request spent queued versus computing."""
    if before is None or after is None:
        return {}
    requests = (
        after["inference_stats"]["success"]["count"]
        - (before["inference_stats"]["success"]["count"])
    )
    executions = after["execution_count"] - before["execution_count"]
    inferences = after["inference_count"] - before["inference_count"]
    out: dict[str, Any] = {
        "requests": requests,
        "images_or_texts": inferences,
        "executions": executions,
        "mean_batch_size": inferences / executions if executions else 0.0,
        # Per execution, so a batch's time counts once (per-request times count it per request).
        "compute_infer_ms_per_item": _execution_ns(after) - _execution_ns(before),
    }
    out["compute_infer_ms_per_item"] = (
        out["compute_infer_ms_per_item"] / 1e6 / inferences if inferences else 0.0
    )
    for kind in _STAT_KINDS:
        ns = after["inference_stats"][kind]["ns"] - before["inference_stats"][kind]["ns"]
        label = "request_total" if kind == "success" else kind
        out[f"{label}_ms_per_request"] = ns / 1e6 / requests if requests else 0.0
    return out


def _execution_ns(stats: dict[str, Any]) -> int:
    return sum(int(b["compute_infer"]["ns"]) for b in stats.get("batch_stats", []))


def gateway_stages(gateway_url: str) -> dict[str, tuple[float, float]]:
    """Stage -> (sum of seconds, count) from the gateway's `pic_search_stage_seconds`."""
    with urllib.request.urlopen(f"{gateway_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    sums: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for line in text.splitlines():
        for suffix, slot in (("_sum", 0), ("_count", 1)):
            prefix = f"pic_search_stage_seconds{suffix}{{"
            if line.startswith(prefix):
                labels, value = line[len(prefix) :].rsplit("} ", 1)
                stage = labels.split('stage="', 1)[1].split('"', 1)[0]
                sums[stage][slot] += float(value)
    return {stage: (v[0], v[1]) for stage, v in sums.items()}


def stage_delta(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], per: int
) -> dict[str, float]:
    """Milliseconds per unit of work (`per`: images, requests) spent in each gateway stage."""
    out = {}
    for stage, (total, _) in after.items():
        spent = total - before.get(stage, (0.0, 0.0))[0]
        if spent > 0 and per > 0:
            out[f"{stage}_ms"] = spent * 1000 / per
    return out


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
    if "milvus" in line:
        return "milvus"
    return None


def cpu_by_role(gateway_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of each server's processes (see `_role`) and of this benchmark."""
    out = {"gateway": 0.0, "triton": 0.0, "milvus": 0.0}
    for proc in psutil.process_iter():
        role = _role(proc, gateway_pid)
        if role is None:
            continue
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        out[role] += times.user + times.system
    me = psutil.Process().cpu_times()
    out["benchmark_clients"] = me.user + me.system
    return out


def cores_used(
    before: dict[str, float], after: dict[str, float], wall_s: float
) -> dict[str, float]:
    """Mean cores each role kept busy between two `cpu_by_role` snapshots, and their sum."""
    cores = {role: (after[role] - before.get(role, 0.0)) / wall_s for role in after}
    cores["all"] = sum(cores.values())
    return cores
