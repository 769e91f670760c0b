"""Locust, headless: the mixed load test (`locust`) and the soak (`soak`), which also
follows the gateway's memory (RSS) while a fixed number of users keep it busy."""

from __future__ import annotations

import csv
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.common import ROOT, Context, figure, target, write_result
from gateway.serving.process import venv_bin

LOCUSTFILE = ROOT / "bench" / "locustfile.py"


def locust_argv(host: str, users: int, seconds: int, csv_prefix: Path) -> list[str]:
    return [
        str(venv_bin() / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--host",
        host,
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "30",
    ]


def read_stats(prefix: Path) -> dict[str, dict[str, Any]]:
    """`<prefix>_stats.csv` -> endpoint name -> counts, rates and percentiles (ms)."""
    out: dict[str, dict[str, Any]] = {}
    with Path(f"{prefix}_stats.csv").open() as handle:
        for row in csv.DictReader(handle):
            out[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "requests_per_s": float(row["Requests/s"]),
                "p50_ms": _num(row["50%"]),
                "p95_ms": _num(row["95%"]),
                "p99_ms": _num(row["99%"]),
                "max_ms": _num(row["Max Response Time"]),
            }
    return out


def read_history(prefix: Path) -> dict[str, list[float]]:
    """The aggregated per-second series of `<prefix>_stats_history.csv`."""
    series: dict[str, list[float]] = {"t": [], "rps": [], "fps": [], "p50": [], "p95": []}
    path = Path(f"{prefix}_stats_history.csv")
    if not path.exists():
        return series
    with path.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["Name"] == "Aggregated"]
    if not rows:
        return series
    start = int(rows[0]["Timestamp"])
    for row in rows:
        series["t"].append(int(row["Timestamp"]) - start)
        series["rps"].append(_num(row["Requests/s"]))
        series["fps"].append(_num(row["Failures/s"]))
        series["p50"].append(_num(row["50%"]))
        series["p95"].append(_num(row["95%"]))
    return series


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first response
        return float("nan")


def _failures(prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))[:10]


def run_locust(ctx: Context) -> dict[str, Any]:
    users, seconds = (4, 8) if ctx.tiny else (16, 60)
    prefix = ctx.results_dir / "locust"
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    argv = locust_argv(ctx.stack.gateway_url, users, seconds, prefix)
    ctx.log(f"locust: {users} users for {seconds} s against {ctx.stack.gateway_url}")
    subprocess.run(argv, capture_output=True, timeout=seconds + 180, cwd=ROOT)
    stats = read_stats(prefix)
    history = read_history(prefix)
    total = stats.get("Aggregated", {})
    results = {
        "users": users,
        "seconds": seconds,
        "think_time_s": [0.0, 1.0],
        "command": " ".join(Path(a).name if a.endswith(".py") else a for a in argv),
        "endpoints": stats,
        "failures": _failures(prefix),
        "headline": (
            f"{users} users, {seconds} s: {total.get('requests_per_s', 0):.1f} requests/s, "
            f"p50 {total.get('p50_ms', 0):.0f} ms, p95 {total.get('p95_ms', 0):.0f} ms, "
            f"{total.get('failures', 0)} failures of {total.get('requests', 0)}"
        ),
    }
    fig, axes = figure(2, 1, width=8)
    axes[0][0].plot(history["t"], history["rps"], label="requests/s")
    axes[0][0].plot(history["t"], history["fps"], label="failures/s", color="#c44")
    axes[0][0].set_xlabel("s")
    axes[0][0].legend(fontsize=7)
    axes[0][0].set_title(f"locust mix, {users} users")
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
    write_result(ctx, "locust", results, [], fig)
    return results


def run_soak(ctx: Context) -> dict[str, Any]:
    users, seconds, every = (4, 8, 1.0) if ctx.tiny else (8, 180, 2.0)
    prefix = ctx.workdir / "soak"
    argv = locust_argv(ctx.stack.gateway_url, users, seconds, prefix)
    gateway = psutil.Process(ctx.stack.gateway_pid) if ctx.stack.gateway_pid else None
    ctx.log(
        f"soak: {users} users for {seconds} s; gateway RSS "
        f"{'sampled every ' + str(every) + ' s' if gateway else 'not known (no pid)'}"
    )
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    env = {**os.environ, "BENCH_THINK_S": "0.5"}
    with subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as locust:
        try:
            while locust.poll() is None:
                if gateway is not None:
                    samples.append((time.monotonic() - started, _rss_mib(gateway)))
                time.sleep(every)
        finally:
            if locust.poll() is None:
                locust.terminate()
    stats = read_stats(prefix)
    total = stats.get("Aggregated", {"requests": 0, "failures": 0})
    rss = [r for _, r in samples]
    fifth = max(1, len(rss) // 5)
    growth = (np.median(rss[-fifth:]) - np.median(rss[:fifth])) if rss else float("nan")
    zero_errors = total["requests"] > 0 and total["failures"] == 0
    results = {
        "users": users,
        "seconds": seconds,
        "requests": total["requests"],
        "failures": total["failures"],
        "endpoints": stats,
        "failure_samples": _failures(prefix),
        "rss_mib": [[round(t, 1), round(r, 1)] for t, r in samples],
        "rss_start_mib": float(np.median(rss[:fifth])) if rss else None,
        "rss_end_mib": float(np.median(rss[-fifth:])) if rss else None,
        "rss_growth_mib": growth,
        "headline": (
            f"{users} users for {seconds} s: {total['requests']} requests, "
            f"{total['failures']} failures; gateway RSS "
            + (
                f"{np.median(rss[:fifth]):.0f} -> {np.median(rss[-fifth:]):.0f} MiB"
                if rss
                else "not sampled"
            )
        ),
    }
    fig, axes = figure(1, 1, width=6.5, height=3.4)
    if samples:
        axes[0][0].plot([t for t, _ in samples], rss, color="#37a")
    axes[0][0].set_xlabel("s")
    axes[0][0].set_ylabel("gateway RSS MiB")
    axes[0][0].set_title(f"soak: {total['requests']} requests, {total['failures']} failures")
    limit = "" if zero_errors else f"failures: {results['failure_samples'][:3]}"
    display = f"{total['failures']} failures in {total['requests']} requests" + (
        f"; gateway RSS {np.median(rss[:fifth]):.0f} -> {np.median(rss[-fifth:]):.0f} MiB"
        if rss
        else ""
    )
    targets = [
        target(
            f"soak ({users} users, {seconds} s): zero errors",
            "0 failures",
            total["failures"],
            zero_errors,
            limit,
            display,
        )
    ]
    write_result(ctx, "soak", results, targets, fig)
    return results


def _rss_mib(process: psutil.Process) -> float:
    try:
        return float(process.memory_info().rss) / 2**20
    except psutil.Error:
        return float("nan")
