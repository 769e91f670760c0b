"""Deleting: a bulk delete by filter of many images, and single deletes one at a time.

The images are ingested through the gateway first (real records, real bytes, both
collections), tagged with this run's id so the filter matches exactly them. Afterwards
every one of them must be gone from both collections (asked of Milvus directly, Strong)
and from the store (their records and originals 404).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from pymilvus import MilvusClient

from bench.common import Context, figure, percentiles, target, write_result
from bench.photos import distinct_photos
from bench.stack import COLLECTION_PREFIX  # also the tiny test's gateway's
from gateway.config import get_settings
from gateway.models.registry import search_models
from gateway.store.base import check_id

BULK_TARGET = 50.0  # images/s
SINGLE_P50_MS = 100.0
BATCH = 16


def _ingest(client: httpx.Client, photos: list[bytes], tag: dict[str, str]) -> list[str]:
    def upload(start: int) -> list[str]:
        files = [
            ("files", (f"del-{start + i}.jpg", data, "image/jpeg"))
            for i, data in enumerate(photos[start : start + BATCH])
        ]
        response = client.post("/v1/images", files=files, data={"metadata": json.dumps(tag)})
        response.raise_for_status()
        return [r["id"] for r in response.json()["results"]]

    with ThreadPoolExecutor(2) as pool:
        batches = pool.map(upload, range(0, len(photos), BATCH))
        return [check_id(i) for batch in batches for i in batch]


def _left_in_collections(ctx: Context, ids: list[str]) -> dict[str, int]:
    milvus = MilvusClient(uri=ctx.stack.milvus_uri)
    try:
        out = {}
        for model in search_models(get_settings().models.enabled):
            name = f"{COLLECTION_PREFIX}{model.name}"
            found = 0
            for start in range(0, len(ids), 1000):
                rows = milvus.get(
                    name, ids=ids[start : start + 1000], output_fields=["id"],
                    consistency_level="Strong",
                )  # fmt: skip
                found += len(rows)
            out[name] = found
        return out
    finally:
        milvus.close()


def _left_in_store(client: httpx.Client, ids: list[str]) -> int:
    def present(image_id: str) -> bool:
        record = client.get(f"/v1/images/{image_id}").status_code
        content = client.get(f"/v1/images/{image_id}/content").status_code
        return record != 404 or content != 404

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(present, ids))


def run(ctx: Context) -> dict[str, Any]:
    bulk_n, single_n = (20, 10) if ctx.tiny else (1000, 100)
    photos = distinct_photos(bulk_n + single_n, seed=f"delete-{ctx.run_id}")
    tag = {"bench_delete": ctx.run_id}
    with httpx.Client(base_url=ctx.stack.gateway_url, timeout=600) as client:
        ctx.log(f"delete: ingesting {bulk_n + single_n} images")
        started = time.perf_counter()
        bulk_ids = _ingest(client, photos[:bulk_n], {**tag, "part": "bulk"})
        single_ids = _ingest(client, photos[bulk_n:], {**tag, "part": "single"})
        ingest_s = time.perf_counter() - started

        ctx.log(f"delete: {single_n} single deletes, one at a time")
        single_s = []
        for image_id in single_ids:
            t0 = time.perf_counter()
            client.delete(f"/v1/images/{image_id}").raise_for_status()
            single_s.append(time.perf_counter() - t0)

        selector = {"filter": {**tag, "part": "bulk"}}
        t0 = time.perf_counter()
        dry = client.post("/v1/images:delete", json={**selector, "dry_run": True}).json()
        dry_s = time.perf_counter() - t0
        ctx.log(f"delete: bulk delete of {dry['matched']} images by filter")
        t0 = time.perf_counter()
        done = client.post("/v1/images:delete", json=selector).json()
        bulk_s = time.perf_counter() - t0
        repeat = client.post("/v1/images:delete", json=selector).json()

        everything = bulk_ids + single_ids
        in_collections = _left_in_collections(ctx, everything)
        in_store = _left_in_store(client, everything)

    rate = done["deleted"] / bulk_s
    single = percentiles(single_s)
    empty = not any(in_collections.values()) and in_store == 0
    complete = dry["matched"] == done["deleted"] == bulk_n and repeat["matched"] == 0
    results = {
        "bulk_images": bulk_n,
        "single_deletes": single_n,
        "ingest_s": ingest_s,
        "bulk": {
            "dry_run_s": dry_s,
            "dry_run_matched": dry["matched"],
            "delete_s": bulk_s,
            "deleted": done["deleted"],
            "images_per_s": rate,
            "repeat_matched": repeat["matched"],
        },
        "single_ms": single,
        "left_afterwards": {"collections": in_collections, "store": in_store},
    }
    targets = [
        target(
            "bulk delete",
            f">= {BULK_TARGET:.0f} images/s",
            rate,
            rate >= BULK_TARGET and complete,
            limit=(
                "the filter did not match exactly these images"
                if not complete
                else ""
                if rate >= BULK_TARGET
                else "per-file store deletes and one Milvus delete per collection"
            ),
            display=f"{rate:.0f} images/s ({bulk_n} images by filter)",
        ),
        target(
            "single delete p50",
            f"< {SINGLE_P50_MS:.0f} ms",
            single["p50_ms"],
            single["p50_ms"] < SINGLE_P50_MS,
            limit="" if single["p50_ms"] < SINGLE_P50_MS else "Milvus' delete calls (two)",
            display=f"{single['p50_ms']:.1f} ms (p99 {single['p99_ms']:.1f} ms)",
        ),
        target(
            "left afterwards",
            "none in either collection or the store",
            float(sum(in_collections.values()) + in_store),
            empty,
            limit="" if empty else "images were left behind",
            display="none" if empty else json.dumps(results["left_afterwards"]),
        ),
    ]
    fig, axes = figure(cols=2)
    axes[0][0].hist([s * 1000 for s in single_s], bins=20, color="tab:blue")
    axes[0][0].axvline(SINGLE_P50_MS, color="tab:red", linestyle="--", label="p50 target")
    axes[0][0].set(title=f"single delete ({single_n})", xlabel="ms", ylabel="deletes")
    axes[0][0].legend()
    axes[0][1].bar(["bulk delete"], [rate], color="tab:green")
    axes[0][1].axhline(BULK_TARGET, color="tab:red", linestyle="--", label="target")
    axes[0][1].set(title=f"bulk delete by filter ({bulk_n})", ylabel="images/s")
    axes[0][1].legend()
    write_result(ctx, "delete", results, targets, fig)
    ctx.log(f"delete: bulk {rate:.0f} img/s, single p50 {single['p50_ms']:.1f} ms, empty {empty}")
    return results
