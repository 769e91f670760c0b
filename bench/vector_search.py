"""HNSW on the real Milvus server: latency and recall@10 (against exact search) for a few
(M, efConstruction, ef) settings, on clustered synthetic 512-d vectors like embeddings."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from bench.common import Context, figure, target, write_result
from bench.latency import percentiles
from gateway.config import MilvusSettings

DIM = 512
TOP_K = 10
RECALL_TARGET = 0.95
P99_TARGET_MS = 20.0
INSERT_BATCH = 5000
PASSES = 2  # latency passes over the queries per setting; the quieter one is reported


def run_vector_search(ctx: Context) -> dict[str, Any]:
    if ctx.tiny:
        return _run(ctx, "vector_search", 3000, 30, builds=[(16, 100)], efs=[16, 64])
    builds = [(8, 100), (16, 100), (16, 200), (32, 200)]
    return _run(ctx, "vector_search", 100_000, 200, builds, efs=[16, 32, 64, 128, 256])


def run_vector_search_1m(ctx: Context) -> dict[str, Any]:
    if ctx.tiny:
        return _run(ctx, "vector_search_1m", 5000, 20, builds=[(16, 100)], efs=[64])
    # A 1M-vector HNSW build takes tens of minutes on 2 cores: two settings, each capped at an hour.
    builds = [(16, 100), (16, 200)]
    return _run(ctx, "vector_search_1m", 1_000_000, 200, builds, [32, 64, 128, 256], 3600)


def mixture(count: int, queries: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A Gaussian mixture on the unit sphere: `count // 100` clusters of uneven sizes and spreads
    around centres sharing a direction, as embeddings do; queries are fresh draws, not rows."""
    rng = np.random.default_rng(7)  # every run measures the same data
    clusters = max(8, count // 100)
    common = rng.standard_normal(DIM).astype(np.float32)
    common /= np.linalg.norm(common)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32) / np.sqrt(DIM)
    centres += 0.4 * common
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.dirichlet(np.ones(clusters))
    spreads = rng.uniform(0.5, 1.0, clusters).astype(np.float32)

    def draw(n: int) -> np.ndarray:
        labels = rng.choice(clusters, size=n, p=weights)
        out = np.empty((n, DIM), np.float32)
        for start in range(0, n, 100_000):
            part = labels[start : start + 100_000]
            noise = rng.standard_normal((len(part), DIM)).astype(np.float32) / np.sqrt(DIM)
            block = centres[part] + spreads[part, None] * noise
            out[start : start + len(part)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out

    params = {"clusters": clusters, "spread": [0.5, 1.0], "common_direction_weight": 0.4}
    return draw(count), draw(queries), params


def exact_top_k(base: np.ndarray, queries: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Exact inner-product top-k rows, unordered (recall compares sets); 50 queries at a time."""
    blocks = [np.argpartition(-(queries[i : i + 50] @ base.T), k, axis=1)[:, :k]
              for i in range(0, len(queries), 50)]  # fmt: skip
    return np.concatenate(blocks)


def _run(
    ctx: Context,
    name: str,
    count: int,
    queries: int,
    builds: list[tuple[int, int]],
    efs: list[int],
    build_cap_s: float | None = None,
) -> dict[str, Any]:
    ctx.log(f"{name}: generating {count} clustered vectors")
    base, qs, params = mixture(count, queries)
    truth = exact_top_k(base, qs)
    client = MilvusClient(uri=ctx.stack.milvus_uri, timeout=600)
    collection = f"bench_vectors_{ctx.run_id}"
    rows: list[dict[str, Any]] = []
    try:
        insert_s = _load_data(client, collection, base)
        ctx.log(f"{name}: inserted {count} in {insert_s:.0f} s")
        for m, efc in builds:
            ctx.log(f"{name}: building HNSW M={m} efConstruction={efc}")
            try:
                build_s = _build(client, collection, m, efc, build_cap_s)
            except Exception as exc:  # a timeout at the cap, whatever pymilvus calls it
                ctx.log(f"{name}: build M={m} efC={efc} stopped: {exc}")
                rows.append({"M": m, "efConstruction": efc, "build_error": str(exc)[:300]})
                break
            # Each search walks one HNSW graph per loaded segment: their row counts.
            loaded = client.list_loaded_segments(collection)
            segments = sorted((s.num_rows for s in loaded), reverse=True)
            ctx.log(f"{name}: built in {build_s:.0f} s; {len(segments)} segments: {segments}")
            for ef in efs:
                one = _measure(client, collection, qs, truth, ef)
                rows.append({"M": m, "efConstruction": efc, "ef": ef, "build_s": build_s,
                             "segment_rows": segments, **one})  # fmt: skip
                ctx.log(f"{name}: ef={ef}: recall {one['recall_at_10']:.3f}, "
                        f"p99 {one['p99_ms']:.1f} ms")  # fmt: skip
    finally:
        if client.has_collection(collection):
            client.drop_collection(collection)
        client.close()
    measured = [r for r in rows if "recall_at_10" in r]
    good = [r for r in measured if r["recall_at_10"] >= RECALL_TARGET]
    best = min(good, key=lambda r: (r["p99_ms"], r["M"])) if good else None
    both = [r for r in good if r["p99_ms"] <= P99_TARGET_MS]
    defaults = MilvusSettings()
    setting = (defaults.hnsw_m, defaults.hnsw_ef_construction, defaults.search_ef)
    default_row = next(
        (r for r in measured if (r["M"], r["efConstruction"], r["ef"]) == setting), None
    )
    at = "1M" if count >= 1_000_000 else f"{count:,}"
    search = (f"one query at a time, top 10, IP, Bounded consistency (no time-tick wait); "
              f"{PASSES} passes per setting, the one with the lower p99 reported")  # fmt: skip
    results = {
        "vectors": count, "queries": queries, "dim": DIM, "data": params, "insert_s": insert_s,
        "search": search, "rows": rows, "recommended": best,
        "gateway_defaults": dict(zip(("M", "efConstruction", "ef"), setting, strict=True))
        | {"measured": default_row},
        "findings": _findings(best, default_row, at),
    }  # fmt: skip
    full_scale = count >= 1_000_000 or not name.endswith("_1m")
    goal = f"recall@10 >= {RECALL_TARGET} with p99 <= {P99_TARGET_MS:.0f} ms"
    label = f"vector search at {at}" + ("" if count >= 1_000_000 else " (target is at 1M)")
    value = min((r["p99_ms"] for r in good), default=None)
    pick = min(both, key=lambda r: r["p99_ms"]) if both else best
    display = (
        f"recall {pick['recall_at_10']:.3f}, p99 {pick['p99_ms']:.1f} ms "
        f"(M={pick['M']}, efC={pick['efConstruction']}, ef={pick['ef']})"
        if pick
        else "no setting reached the recall"
    )
    limit = "" if both else _limit(measured, rows)
    targets = [target(label, goal, value, bool(both) if full_scale else None, limit, display)]
    write_result(ctx, name, results, targets, _plot(measured, at))
    return results


def _load_data(client: MilvusClient, collection: str, base: np.ndarray) -> float:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection(collection, schema=schema, consistency_level="Bounded")
    started = time.perf_counter()
    for start in range(0, len(base), INSERT_BATCH):
        block = base[start : start + INSERT_BATCH]
        client.insert(collection, [{"id": start + i, "embedding": v} for i, v in enumerate(block)])
    client.flush(collection)
    return time.perf_counter() - started


def _build(client: MilvusClient, collection: str, m: int, efc: int, cap_s: float | None) -> float:
    if client.list_indexes(collection):
        client.release_collection(collection)
        client.drop_index(collection, "embedding")
    index, hnsw = client.prepare_index_params(), {"M": m, "efConstruction": efc}
    index.add_index(field_name="embedding", index_type="HNSW", metric_type="IP", params=hnsw)
    started = time.perf_counter()
    client.create_index(collection, index, timeout=cap_s)  # waits for the build
    _settle(client, collection, cap_s or 3600)
    build_s = time.perf_counter() - started
    client.load_collection(collection, timeout=cap_s)
    return build_s


def _settle(client: MilvusClient, collection: str, timeout_s: float) -> None:
    """Wait until Milvus has merged small segments and indexed every row: searching while
    it still compacts and rebuilds measures that background work, not the index."""
    deadline, job = time.monotonic() + timeout_s, client.compact(collection)
    while True:
        # Compaction first: the index state read after it has finished covers its segments.
        compacted = client.get_compaction_state(job) == "Completed"
        info = client.describe_index(collection, "embedding")
        if compacted and info.get("pending_index_rows", 0) == 0 and info.get("state") == "Finished":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"compaction or index not finished in time: {info}")
        time.sleep(2)


def _measure(
    client: MilvusClient, collection: str, queries: np.ndarray, truth: np.ndarray, ef: int
) -> dict[str, Any]:
    params = {"metric_type": "IP", "params": {"ef": max(ef, TOP_K)}}

    def search(q: np.ndarray) -> Any:
        return client.search(collection, data=[q.tolist()], anns_field="embedding", limit=TOP_K,
                             search_params=params)[0]  # fmt: skip

    for q in queries[:10]:  # warm
        search(q)
    passes: list[dict[str, Any]] = []
    for _ in range(PASSES):
        latencies: list[float] = []
        recalls: list[float] = []  # the last pass's (the index answers each pass alike)
        for q, expected in zip(queries, truth, strict=True):
            started = time.perf_counter()
            hits = search(q)
            latencies.append(time.perf_counter() - started)
            recalls.append(len({int(h["id"]) for h in hits} & {int(i) for i in expected}) / TOP_K)
        passes.append(percentiles(latencies))
    # The machine is shared: the pass with the lower p99 is the one less disturbed.
    best = min(passes, key=lambda p: p["p99_ms"])
    return {
        "recall_at_10": float(np.mean(recalls)),
        **best,
        "p99_ms_per_pass": [p["p99_ms"] for p in passes],
    }


def _findings(best: dict[str, Any] | None, default: dict[str, Any] | None, at: str) -> list[str]:
    rows = {"the cheapest setting reaching the recall": best, "the gateway's defaults": default}
    return [
        f"At {at}, {label} (M={r['M']}, efConstruction={r['efConstruction']}, ef={r['ef']}): "
        f"recall {r['recall_at_10']:.3f}, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms;"
        f" the build took {r['build_s']:.0f} s."
        for label, r in rows.items()
        if r
    ]


def _limit(measured: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    if not measured:
        return f"nothing measured: {[r['build_error'] for r in rows if 'build_error' in r][:1]}"
    best = max(measured, key=lambda r: r["recall_at_10"])
    fastest = min(measured, key=lambda r: r["p99_ms"])
    return (
        f"best recall {best['recall_at_10']:.3f} (p99 {best['p99_ms']:.1f} ms), lowest p99 "
        f"{fastest['p99_ms']:.1f} ms (recall {fastest['recall_at_10']:.3f}): on 2 cores the "
        "graph walk across segments bounds latency"
    )


def _plot(measured: list[dict[str, Any]], at: str) -> Any:
    fig, [[ax]] = figure(1, 1, width=6.5, height=4)
    by_ef = sorted(measured, key=lambda r: r["ef"])
    for m, efc in sorted({(r["M"], r["efConstruction"]) for r in measured}):
        series = [r for r in by_ef if (r["M"], r["efConstruction"]) == (m, efc)]
        recall, p99 = [r["recall_at_10"] for r in series], [r["p99_ms"] for r in series]
        ax.plot(recall, p99, marker="o", label=f"M={m} efC={efc}")
        for r in series:
            ax.annotate(str(r["ef"]), (r["recall_at_10"], r["p99_ms"]), fontsize=6)
    ax.axvline(RECALL_TARGET, color="#999", linestyle=":")
    ax.axhline(P99_TARGET_MS, color="#999", linestyle=":")
    ax.set(xlabel="recall@10 (labels: ef)", ylabel="p99 latency ms",
           title=f"Milvus HNSW, {at} clustered 512-d vectors")  # fmt: skip
    ax.legend(fontsize=7)
    return fig
