"""Between service values (plain dicts and dataclasses) and picsearch.v1 messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message

from gateway.grpc.stubs import pb
from gateway.services.deletion import DeleteReport
from gateway.services.images import Listed
from gateway.services.ingest import FileResult, IngestReport
from gateway.services.records import FileInfo
from gateway.services.search import SearchResult
from gateway.services.stored import ImageRecord

_STATUS = {
    "created": pb.INDEX_STATUS_CREATED,
    "duplicate": pb.INDEX_STATUS_DUPLICATE,
    "rejected": pb.INDEX_STATUS_REJECTED,
}


def to_python(values: Mapping[str, Any]) -> dict[str, Any]:
    """A map<string, Value> as the JSON object the HTTP API would have received."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        kind = value.WhichOneof("kind")
        out[key] = None if kind in (None, "null_value") else getattr(value, kind)
    return out


def fill(target: Any, values: Mapping[str, Any]) -> None:
    """Copy a JSON object of scalars into a map<string, Value> field."""
    for key, item in values.items():
        slot = target[key]
        if item is None:
            slot.null_value = True
        elif isinstance(item, bool):
            slot.bool_value = item
        elif isinstance(item, int):
            slot.int_value = item
        elif isinstance(item, float):
            slot.double_value = item
        else:
            slot.string_value = str(item)


def optional_int(message: Message, field: str) -> int | None:
    return int(getattr(message, field)) if message.HasField(field) else None


def file_facts(file: FileInfo, created_at: int | None) -> Any:
    """Absent facts (older records, no path sent) become proto3 defaults: "" and 0."""
    return pb.FileFacts(
        filename=file.filename or "",
        path=file.path or "",
        format=file.format or "",
        width=file.width or 0,
        height=file.height or 0,
        bytes=file.bytes or 0,
        created_at=created_at or file.created_at or 0,
        capture=capture_facts(file),
        tags=tags(file.tags),
    )


def tags(shown: list[dict[str, Any]] | None) -> list[Any]:
    return [pb.Tag(name=t["name"], score=t["score"]) for t in shown or []]


def capture_facts(file: FileInfo) -> Any:
    """EXIF facts; absent ones are "" (and unset lat/lon), as proto3 has no null strings."""
    camera = file.camera or {}
    facts = pb.CaptureFacts(
        taken=file.taken or "",
        camera_make=camera.get("make") or "",
        camera_model=camera.get("model") or "",
        lens=file.lens or "",
    )
    if file.location is not None:
        facts.lat, facts.lon = file.location["lat"], file.location["lon"]
    return facts


def search_response(result: SearchResult) -> Any:
    cutoff = result.cutoff
    response = pb.SearchResponse(
        model=result.model,
        took_ms=round(result.took_ms, 2),
        sort=result.sort,
        random_weights=result.random_weights,
        notice=result.notice or "",
        cut=cutoff.cut,
        cutoff=pb.Cutoff(
            mode=cutoff.mode, min_score=cutoff.min_score, message=cutoff.message or ""
        ),
    )
    for match in result.matches:
        hit = match.hit
        facts = file_facts(match.file, hit.created_at)
        added = response.hits.add(id=hit.id, score=hit.score, file=facts)
        fill(added.metadata, hit.metadata)
        added.copies.extend(pb.CopyRef(id=c.id, score=c.score) for c in match.copies)
    return response


def facets_response(body: dict[str, Any]) -> Any:
    return pb.GetFacetsResponse(
        keys=[
            pb.FacetKey(key=k["key"], values=[pb.FacetValue(**v) for v in k["values"]])
            for k in body["keys"]
        ]
    )


def tags_response(body: dict[str, Any]) -> Any:
    """`GET /v1/tags`'s body as ListTagsResponse (no next page: an empty cursor)."""
    return pb.ListTagsResponse(
        tags=[pb.TagCount(name=t["name"], count=t["count"]) for t in body["tags"]],
        next_cursor=body["next_cursor"] or "",
    )


def delete_response(report: DeleteReport) -> Any:
    return pb.DeleteImagesResponse(
        matched=report.matched,
        deleted=report.deleted,
        dry_run=report.dry_run,
        sample=[
            pb.ImageRef(id=ref.id, filename=ref.filename or "", path=ref.path or "")
            for ref in report.sample
        ],
    )


def check_response(report: dict[str, Any]) -> Any:
    """The admin check's body (services/admin.report_body) as CheckConsistencyResponse."""
    return pb.CheckConsistencyResponse(
        consistent=report["consistent"],
        stored_images=report["stored_images"],
        collections=[pb.CollectionCheck(**c) for c in report["collections"]],
        unreadable=report["unreadable"],
        repaired=report["repaired"],
    )


def index_results(report: IngestReport, first_index: int) -> list[Any]:
    return [_index_result(first_index + i, r) for i, r in enumerate(report.results)]


def _index_result(index: int, result: FileResult) -> Any:
    return pb.IndexImagesResponse(
        index=index,
        filename=result.filename,
        status=_STATUS[result.status],
        id=result.id or "",
        code=result.code or "",
        message=result.message or "",
    )


def image_response(record: ImageRecord, content: bytes, thumbnail: bytes) -> Any:
    response = pb.GetImageResponse(
        id=record.id,
        filename=record.filename or "",
        format=record.format or "",
        width=record.width or 0,
        height=record.height or 0,
        bytes=record.bytes or 0,
        created_at=record.created_at,
        path=record.path or "",
        content=content,
        thumbnail=thumbnail,
        capture=capture_facts(record.file_info()),
        tags=tags(record.tags),
    )
    fill(response.metadata, record.metadata)
    return response


def list_response(items: list[Listed], next_cursor: str | None) -> Any:
    response = pb.ListImagesResponse(next_cursor=next_cursor or "")
    for item in items:
        row = item.row
        facts = file_facts(item.file, row.created_at)
        summary = response.items.add(id=row.id, created_at=row.created_at, file=facts)
        fill(summary.metadata, row.metadata)
    return response


def stats_response(stats: dict[str, Any]) -> Any:
    response = pb.StatsResponse(
        store=stats["store"], random_weights=stats["random_weights"], index_id=stats["index_id"]
    )
    for name, collection in stats["collections"].items():
        response.collections.add(
            name=name,
            model=collection["model"],
            count=collection["count"],
            fingerprint=collection["fingerprint"] or "",
        )
    for model, info in stats["models"].items():
        response.model_weights[model] = info["weights"]
        response.model_serving[model].runtime = info["runtime"]
        response.model_serving[model].precision = info["precision"]
    return response
