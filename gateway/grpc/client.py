"""A small typed client for picsearch.v1 (what `pic-search --grpc HOST:PORT` and the tests
use). Errors raise GrpcApiError with the status code and the HTTP API's error code."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from gateway.grpc import convert
from gateway.grpc.client_values import (
    INDEX_STATUS,
    ImageToIndex,
    IndexResult,
    SearchResult,
    file_facts,
    image_record,
    index_summary,
    result_options,
    search_body,
    search_result,
)
from gateway.grpc.errors import reason_of
from gateway.grpc.stubs import SERVICE_NAME, pb, pb_grpc

__all__ = ["GrpcApiError", "ImageToIndex", "PicSearchClient", "index_summary", "search_body"]


class GrpcApiError(RuntimeError):
    def __init__(self, status: grpc.StatusCode, code: str, message: str) -> None:
        super().__init__(f"{status.name} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class PicSearchClient:
    """`with PicSearchClient("127.0.0.1:50051", api_key=...) as client: client.stats()`"""

    def __init__(
        self,
        target: str,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("PIC_SEARCH_API_KEY")
        self.metadata: list[tuple[str, str]] = [("x-api-key", key)] if key else []
        self.timeout_s = timeout_s
        self.channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ],
        )
        self.stub = pb_grpc.PicSearchStub(self.channel)  # type: ignore[no-untyped-call]

    def __enter__(self) -> PicSearchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _unary(
        self, method: str, request: Any, timeout_s: float | None = None, no_deadline: bool = False
    ) -> Any:
        timeout = None if no_deadline else (timeout_s or self.timeout_s)
        try:
            return getattr(self.stub, method)(request, metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as exc:
            raise _api_error(exc) from exc

    # -- the API ---------------------------------------------------------------------------
    def index_images(self, images: Iterable[ImageToIndex]) -> Iterator[IndexResult]:
        """Streams the images in; yields each one's result as the gateway sends it."""

        def requests() -> Iterator[Any]:
            for image in images:
                message = pb.IndexImagesRequest(
                    filename=image.filename, data=image.data, path=image.path
                )
                convert.fill(message.metadata, image.metadata)
                yield message

        responses = self.stub.IndexImages(
            requests(), metadata=self.metadata, timeout=self.timeout_s
        )
        try:
            for r in responses:
                yield IndexResult(
                    r.index, r.filename, INDEX_STATUS[r.status], r.id, r.code, r.message
                )
        except grpc.RpcError as exc:
            raise _api_error(exc) from exc

    def search_by_image(
        self,
        image: bytes,
        model: str = "",
        top_k: int | None = None,
        filter: dict[str, Any] | None = None,
        **options: Any,
    ) -> SearchResult:
        """`filter`: the full grammar (sent as JSON); `options`: sort, min_score, cutoff."""
        request = pb.SearchByImageRequest(
            image=image, model=model, top_k=top_k, options=result_options(filter, options)
        )
        return search_result(self._unary("SearchByImage", request))

    def search_by_text(
        self,
        query: str,
        top_k: int | None = None,
        filter: dict[str, Any] | None = None,
        model: str = "",
        **options: Any,
    ) -> SearchResult:
        """`model`: one with a text tower; empty: the gateway's default text model."""
        request = pb.SearchByTextRequest(
            query=query, top_k=top_k, model=model, options=result_options(filter, options)
        )
        return search_result(self._unary("SearchByText", request))

    def similar_to(
        self,
        image_id: str,
        model: str = "",
        top_k: int | None = None,
        filter: dict[str, Any] | None = None,
        **options: Any,
    ) -> SearchResult:
        request = pb.SimilarToRequest(
            id=image_id, model=model, top_k=top_k, options=result_options(filter, options)
        )
        return search_result(self._unary("SimilarTo", request))

    def get_image(
        self, image_id: str, content: bool = False, thumbnail: bool = False
    ) -> dict[str, Any]:
        request = pb.GetImageRequest(
            id=image_id, include_content=content, include_thumbnail=thumbnail
        )
        r = self._unary("GetImage", request)
        record = image_record(r)
        if content:
            record["content"] = bytes(r.content)
        if thumbnail:
            record["thumbnail"] = bytes(r.thumbnail)
        return record

    def update_metadata(self, image_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Applies an RFC 7396 merge patch to the image's metadata; the updated record."""
        request = pb.UpdateMetadataRequest(id=image_id, patch_json=json.dumps(patch))
        return image_record(self._unary("UpdateMetadata", request))

    def images_exist(self, ids: Sequence[str]) -> list[str]:
        """The subset of `ids` (up to 10,000) whose original the service holds."""
        r = self._unary("ImagesExist", pb.ImagesExistRequest(ids=list(ids)))
        return list(r.existing)

    def check_consistency(self, repair: bool = False, force: bool = False) -> dict[str, Any]:
        """As `POST /v1/admin/check`: the report (after the repair, when one ran)."""
        request = pb.CheckConsistencyRequest(repair=repair, force=force)
        r = self._unary("CheckConsistency", request, no_deadline=True)
        return {
            "consistent": r.consistent,
            "stored_images": r.stored_images,
            "collections": [
                {"name": c.name, "vectors": c.vectors, "missing": list(c.missing),
                 "orphans": list(c.orphans)}
                for c in r.collections
            ],
            "unreadable": list(r.unreadable),
            "repaired": r.repaired,
        }  # fmt: skip

    def reindex(self) -> dict[str, Any]:
        """As `POST /v1/admin/reindex`; it may take minutes, so no deadline."""
        r = self._unary("Reindex", pb.ReindexRequest(), no_deadline=True)
        return {
            "collections": [
                {"name": c.name, "action": c.action, "images": c.images, "target": c.target}
                for c in r.collections
            ]
        }

    def list_images(
        self, cursor: str = "", limit: int | None = None, sort: str = "", filter_json: str = ""
    ) -> tuple[list[dict[str, Any]], str | None]:
        request = pb.ListImagesRequest(
            cursor=cursor, limit=limit, sort=sort, filter_json=filter_json
        )
        r = self._unary("ListImages", request)
        items = [
            {**file_facts(i.file), "id": i.id, "created_at": i.created_at,
             "metadata": convert.to_python(i.metadata)}
            for i in r.items
        ]  # fmt: skip
        return items, (r.next_cursor or None)

    def delete_image(self, image_id: str) -> None:
        self._unary("DeleteImage", pb.DeleteImageRequest(id=image_id))

    def delete_images(
        self,
        ids: Sequence[str] | None = None,
        filter: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """By ids or by a filter (the full grammar); {"matched", "deleted", "dry_run",
        "sample": [{"id", "filename", "path"}]} (up to 10 of the matched images)."""
        request = pb.DeleteImagesRequest(
            ids=list(ids or []),
            filter_json=json.dumps(filter) if filter is not None else "",
            dry_run=dry_run,
        )
        r = self._unary("DeleteImages", request)
        sample = [{"id": i.id, "filename": i.filename, "path": i.path or None} for i in r.sample]
        return {"matched": r.matched, "deleted": r.deleted, "dry_run": r.dry_run, "sample": sample}

    def facets(self) -> dict[str, Any]:
        """`{"keys": [{"key", "values": [{"value", "count"}]}]}`, as GET /v1/facets."""
        r = self._unary("GetFacets", pb.GetFacetsRequest())
        return {
            "keys": [
                {"key": k.key, "values": [{"value": v.value, "count": v.count} for v in k.values]}
                for k in r.keys
            ]
        }

    def tags(self, prefix: str = "", limit: int = 0, cursor: str = "") -> dict[str, Any]:
        """`{"tags": [{"name", "count"}], "next_cursor"}`, as GET /v1/tags."""
        request = pb.ListTagsRequest(prefix=prefix, limit=limit, cursor=cursor)
        r = self._unary("ListTags", request)
        return {
            "tags": [{"name": t.name, "count": t.count} for t in r.tags],
            "next_cursor": r.next_cursor or None,
        }

    def stats(self) -> dict[str, Any]:
        r = self._unary("Stats", pb.StatsRequest())
        return {
            "collections": {
                c.name: {"model": c.model, "count": c.count, "fingerprint": c.fingerprint or None}
                for c in r.collections
            },
            "models": {
                name: {
                    "weights": w,
                    "runtime": r.model_serving[name].runtime,
                    "precision": r.model_serving[name].precision,
                }
                for name, w in r.model_weights.items()
            },
            "store": r.store,
            "random_weights": r.random_weights,
            "index_id": r.index_id or None,
        }

    def models(self) -> list[dict[str, Any]]:
        """As `GET /v1/models`: name, title, dimension, text, weights, random_weights, default."""
        r = self._unary("ListModels", pb.ListModelsRequest())
        return [
            {
                "name": m.name,
                "title": m.title,
                "dimension": m.dimension,
                "text": m.text,
                "weights": m.weights,
                "random_weights": m.random_weights,
                "default": m.default,
                "text_default": m.text_default,
            }
            for m in r.models
        ]

    def health(self, service: str = SERVICE_NAME) -> str:
        """SERVING or NOT_SERVING (the standard grpc.health.v1 service)."""
        stub = health_pb2_grpc.HealthStub(self.channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        except grpc.RpcError as exc:
            raise _api_error(exc) from exc
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def _api_error(exc: grpc.RpcError) -> GrpcApiError:
    call: Any = exc
    code = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    details = call.details() if hasattr(call, "details") else str(exc)
    try:
        reason = reason_of(rpc_status.from_call(call))
    except ValueError:
        reason = None
    return GrpcApiError(code, reason or code.name.lower(), str(details or ""))
