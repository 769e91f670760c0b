"""Locust, headless, against the gateway: the mixed load (`locust`) and the longer soak
(`soak`); both follow the gateway's memory (RSS) and count every failure."""

from __future__ import annotations

import csv
import os
import subprocess
import time
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import numpy as np
import psutil

from bench.common import ROOT, Context, figure, target, write_result
from gateway.serving.process import venv_bin

LOCUSTFILE = ROOT / "bench" / "locustfile.py"
FLAGS = ("--headless", "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "30")


def locust_argv(host: str, users: int, seconds: int, csv_prefix: Path) -> list[str]:
    sizes = ["-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
    return [str(venv_bin() / "locust"), "-f", str(LOCUSTFILE), "--host", host, "--csv",
            str(csv_prefix), *sizes, *FLAGS]  # fmt: skip


def _rows(prefix: Path, suffix: str) -> list[dict[str, str]]:
    """The rows of locust's `<prefix>_<suffix>.csv`; none if it wrote no such file."""
    path = Path(f"{prefix}_{suffix}.csv")
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))


def read_stats(prefix: Path) -> dict[str, dict[str, Any]]:
    """`<prefix>_stats.csv` -> endpoint name -> counts, rates and percentiles (ms)."""
    return {
        row["Name"]: {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "requests_per_s": float(row["Requests/s"]),
            "p50_ms": _num(row["50%"]),
            "p95_ms": _num(row["95%"]),
            "p99_ms": _num(row["99%"]),
            "max_ms": _num(row["Max Response Time"]),
        }
        for row in _rows(prefix, "stats")
    }


def read_history(prefix: Path) -> dict[str, list[float]]:
    """The aggregated per-second series of `<prefix>_stats_history.csv`."""
    rows = [r for r in _rows(prefix, "stats_history") if r["Name"] == "Aggregated"]
    start = int(rows[0]["Timestamp"]) if rows else 0
    return {
        "t": [float(int(r["Timestamp"]) - start) for r in rows],
        "rps": [_num(r["Requests/s"]) for r in rows],
        "fps": [_num(r["Failures/s"]) for r in rows],
    }


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first response
        return float("nan")


def run_locust(ctx: Context) -> dict[str, Any]:
    """The mixed load: what a library's users do, as many as the machine serves."""
    users, seconds = (4, 8) if ctx.tiny else (16, 60)
    return _run(ctx, "locust", users, seconds, think_s=1.0)


def run_soak(ctx: Context) -> dict[str, Any]:
    """Fewer users for longer: zero errors, and the gateway's memory over time."""
    users, seconds = (4, 8) if ctx.tiny else (8, 180)
    return _run(ctx, "soak", users, seconds, think_s=0.5)


def _run(ctx: Context, name: str, users: int, seconds: int, think_s: float) -> dict[str, Any]:
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    prefix = ctx.results_dir / name if name == "locust" else ctx.workdir / name
    argv = locust_argv(ctx.stack.gateway_url, users, seconds, prefix)
    gateway = psutil.Process(ctx.stack.gateway_pid) if ctx.stack.gateway_pid else None
    ctx.log(f"{name}: {users} users for {seconds} s against {ctx.stack.gateway_url}")
    rss: list[tuple[float, float]] = []  # (s, gateway MiB), when this run started the gateway
    started = time.monotonic()
    env = {**os.environ, "BENCH_THINK_S": str(think_s)}
    with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=DEVNULL, stderr=DEVNULL) as locust:
        try:
            while locust.poll() is None:
                if gateway is not None:
                    rss.append((time.monotonic() - started, _rss_mib(gateway)))
                time.sleep(1.0 if ctx.tiny else 2.0)
        finally:
            if locust.poll() is None:
                locust.terminate()
    stats = read_stats(prefix)
    total = stats.get("Aggregated", {"requests": 0, "failures": 0})
    mib = [r for _, r in rss]
    fifth = max(1, len(mib) // 5)
    start_mib = float(np.median(mib[:fifth])) if mib else None
    end_mib = float(np.median(mib[-fifth:])) if mib else None
    memory = f"; gateway RSS {start_mib:.0f} -> {end_mib:.0f} MiB" if mib else ""
    results = {
        "users": users,
        "seconds": seconds,
        "think_time_s": [0.0, think_s],
        "command": " ".join(Path(a).name if a.endswith(".py") else a for a in argv),
        "requests": total["requests"],
        "failures": total["failures"],
        "endpoints": stats,
        "failure_samples": _rows(prefix, "failures")[:10],
        "rss_mib": [[round(t, 1), round(r, 1)] for t, r in rss],
        "rss_start_mib": start_mib,
        "rss_end_mib": end_mib,
        "headline": (
            f"{users} users, {seconds} s: {total.get('requests_per_s', 0):.1f} requests/s, "
            f"p50 {total.get('p50_ms', 0):.0f} ms, p95 {total.get('p95_ms', 0):.0f} ms, "
            f"{total['failures']} failures of {total['requests']}{memory}"
        ),
    }
    clean = total["requests"] > 0 and total["failures"] == 0
    targets = [
        target(
            f"{name} ({users} users, {seconds} s): zero errors",
            "0 failures",
            total["failures"],
            clean,
            "" if clean else f"failures: {results['failure_samples'][:3]}",
            f"{total['failures']} failures in {total['requests']} requests{memory}",
        )
    ]
    write_result(ctx, name, results, targets, _plot(name, stats, read_history(prefix), rss))
    return results


def _plot(
    name: str,
    stats: dict[str, dict[str, Any]],
    history: dict[str, list[float]],
    rss: list[tuple[float, float]],
) -> Any:
    fig, axes = figure(3, 1, width=11)
    axes[0][0].plot(history["t"], history["rps"], label="requests/s")
    axes[0][0].plot(history["t"], history["fps"], label="failures/s", color="#c44")
    axes[0][0].set(xlabel="s", title=f"{name}: the locust mix")
    axes[0][0].legend(fontsize=7)
    names = [n for n in stats if n != "Aggregated"]
    axes[0][1].barh(names, [stats[n]["p50_ms"] for n in names], label="p50")
    axes[0][1].barh(
        names,
        [stats[n]["p95_ms"] - stats[n]["p50_ms"] for n in names],
        left=[stats[n]["p50_ms"] for n in names],
        label="p95",
        color="#ec8",
    )
    axes[0][1].set_xlabel("ms")
    axes[0][1].tick_params(axis="y", labelsize=7)
    axes[0][1].legend(fontsize=7)
    axes[0][2].plot([t for t, _ in rss], [r for _, r in rss], color="#37a")
    axes[0][2].set(xlabel="s", ylabel="gateway RSS MiB", title="gateway memory")
    return fig


def _rss_mib(process: psutil.Process) -> float:
    try:
        return float(process.memory_info().rss) / 2**20
    except psutil.Error:
        return float("nan")
