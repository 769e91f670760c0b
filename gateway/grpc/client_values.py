"""What the gRPC client returns: typed results, and the conversions from picsearch.v1
messages into the shapes the HTTP API answers with (so the CLI prints both alike)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.grpc import convert
from gateway.grpc.stubs import pb

INDEX_STATUS = {
    pb.INDEX_STATUS_CREATED: "created",
    pb.INDEX_STATUS_DUPLICATE: "duplicate",
    pb.INDEX_STATUS_REJECTED: "rejected",
}


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    metadata: dict[str, Any]
    file: dict[str, Any] = field(default_factory=dict)  # filename, path, format, ...
    copies: list[dict[str, Any]] = field(default_factory=list)  # with group: {id, score}


@dataclass(frozen=True)
class SearchResult:
    model: str
    hits: list[Hit]
    took_ms: float
    sort: str = "score"
    cut: int = 0
    cutoff: dict[str, Any] = field(default_factory=dict)  # mode, min_score, message
    random_weights: bool = False
    notice: str | None = None  # for people: what these results can and cannot mean


@dataclass(frozen=True)
class IndexResult:
    index: int
    filename: str
    status: str  # created, duplicate or rejected
    id: str
    code: str
    message: str


@dataclass(frozen=True)
class ImageToIndex:
    filename: str
    data: bytes
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # the source path to store with it; empty: none


def result_options(filter: dict[str, Any] | None, options: dict[str, Any]) -> Any:
    return pb.ResultOptions(
        filter_json=json.dumps(filter) if filter is not None else "",
        sort=options.get("sort") or "",
        min_score=options.get("min_score"),
        cutoff=options.get("cutoff") or "",
        group=bool(options.get("group")),
    )


def file_facts(file: Any) -> dict[str, Any]:
    """FileFacts as the HTTP API shows them (null where absent)."""
    return {
        "filename": file.filename or None, "path": file.path or None,
        "format": file.format or None, "width": file.width or None,
        "height": file.height or None, "bytes": file.bytes or None,
        "created_at": file.created_at or None, **capture_facts(file.capture),
        "tags": tag_scores(file.tags),
    }  # fmt: skip


def tag_scores(tags: Any) -> list[dict[str, Any]] | None:
    """Tags as the HTTP API shows them: null where the photo is untagged."""
    return [{"name": t.name, "score": t.score} for t in tags] or None


def capture_facts(capture: Any) -> dict[str, Any]:
    """CaptureFacts as the HTTP API shows them: taken, camera {make, model}, lens,
    location {lat, lon}; null where EXIF said nothing."""
    camera = None
    if capture.camera_make or capture.camera_model:
        camera = {"make": capture.camera_make or None, "model": capture.camera_model or None}
    location = None
    if capture.HasField("lat") and capture.HasField("lon"):
        location = {"lat": capture.lat, "lon": capture.lon}
    return {"taken": capture.taken or None, "camera": camera, "lens": capture.lens or None,
            "location": location}  # fmt: skip


def image_record(r: Any) -> dict[str, Any]:
    """A GetImageResponse as `GET /v1/images/{id}` shows it (without the bytes)."""
    return {
        "id": r.id, "filename": r.filename, "format": r.format, "width": r.width,
        "height": r.height, "bytes": r.bytes, "created_at": r.created_at,
        "path": r.path or None, "metadata": convert.to_python(r.metadata),
        **capture_facts(r.capture), "tags": tag_scores(r.tags),
    }  # fmt: skip


def search_result(r: Any) -> SearchResult:
    hits = [
        Hit(
            h.id,
            h.score,
            convert.to_python(h.metadata),
            file_facts(h.file),
            [{"id": c.id, "score": c.score} for c in h.copies],
        )
        for h in r.hits
    ]
    cutoff = {
        "mode": r.cutoff.mode or "none",
        "min_score": r.cutoff.min_score if r.cutoff.HasField("min_score") else None,
        "message": r.cutoff.message or None,
    }
    return SearchResult(
        r.model,
        hits,
        r.took_ms,
        r.sort or "score",
        r.cut,
        cutoff,
        r.random_weights,
        r.notice or None,
    )


def search_body(result: SearchResult) -> dict[str, Any]:
    """The HTTP API's search body (without links), for printing and comparisons."""
    hits = [
        {**h.file, "id": h.id, "score": h.score, "metadata": h.metadata, "copies": h.copies}
        for h in result.hits
    ]
    return {
        "model": result.model,
        "results": hits,
        "took_ms": result.took_ms,
        "sort": result.sort,
        "cut": result.cut,
        "cutoff": result.cutoff,
        "random_weights": result.random_weights,
        "notice": result.notice,
    }


def index_summary(results: Sequence[IndexResult]) -> dict[str, int]:
    return {s: sum(r.status == s for r in results) for s in ("created", "duplicate", "rejected")}
