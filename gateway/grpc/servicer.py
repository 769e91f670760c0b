"""picsearch.v1.PicSearch: each method calls the same service functions as the HTTP routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from grpc import aio

from gateway.errors import BadInputError, ValidationError
from gateway.grpc import convert
from gateway.grpc.calls import Call, CallRules
from gateway.grpc.stubs import pb, pb_grpc
from gateway.services import (
    admin,
    deletion,
    facets,
    images,
    ingest,
    metadata,
    search,
    status,
    tag_counts,
)
from gateway.services.backends import Backends
from gateway.services.filters import check_sized_object, parse_json

_END = object()  # the client closed its side of the stream


class PicSearchServicer(pb_grpc.PicSearchServicer):  # type: ignore[misc]
    def __init__(self, backends: Backends, rules: CallRules) -> None:
        self.backends = backends
        self.rules = rules
        self.limits = backends.settings.limits

    def _call(self, method: str, context: aio.ServicerContext, write: bool = False) -> Call:
        return Call(method, context, self.rules, write)

    def _filter(self, values: Any, filter_json: str = "") -> dict[str, Any]:
        """The equalities map, or the full grammar as JSON (`filter_json`), not both."""
        if filter_json:
            if values:
                raise ValidationError("give filter or filter_json, not both", code="invalid_filter")
            return parse_json(filter_json, "filter", self.limits.max_metadata_bytes)
        return check_sized_object(
            convert.to_python(values), "filter", self.limits.max_metadata_bytes
        )

    def _options(self, request: Any) -> search.SearchOptions:
        options = request.options
        return search.SearchOptions(
            self._filter(request.filter, options.filter_json),
            options.sort or None,
            options.min_score if options.HasField("min_score") else None,
            options.cutoff or None,
            options.group,
        )

    async def SearchByImage(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("SearchByImage", context) as call:
            result = await call.bounded(
                search.by_image(
                    self.backends,
                    request.image,
                    request.model or None,
                    convert.optional_int(request, "top_k"),
                    self._options(request),
                )
            )
            return convert.search_response(result)

    async def SearchByText(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("SearchByText", context) as call:
            result = await call.bounded(
                search.by_text(
                    self.backends,
                    request.query,
                    convert.optional_int(request, "top_k"),
                    self._options(request),
                    request.model or None,
                )
            )
            return convert.search_response(result)

    async def SimilarTo(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("SimilarTo", context) as call:
            result = await call.bounded(
                search.similar(
                    self.backends,
                    request.id,
                    request.model or None,
                    convert.optional_int(request, "top_k"),
                    self._options(request),
                )
            )
            return convert.search_response(result)

    async def GetImage(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("GetImage", context) as call:
            record = await call.bounded(images.record(self.backends, request.id))
            content = thumbnail = b""
            if request.include_content:
                content = await call.bounded(images.blob(self.backends, request.id, "original"))
            if request.include_thumbnail:
                thumbnail = await call.bounded(images.blob(self.backends, request.id, "thumbnail"))
            return convert.image_response(record, content, thumbnail)

    async def ListImages(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("ListImages", context) as call:
            limit = convert.optional_int(request, "limit")
            if limit is None:
                limit = images.DEFAULT_PAGE_SIZE  # 0 and negatives get the service's error
            items, next_cursor = await call.bounded(
                images.newest(
                    self.backends,
                    request.cursor or None,
                    limit,
                    self._filter({}, request.filter_json) or None,
                    request.sort or None,
                )
            )
            return convert.list_response(items, next_cursor)

    async def GetFacets(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("GetFacets", context) as call:
            return convert.facets_response(await call.bounded(facets.facets(self.backends)))

    async def ListTags(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("ListTags", context) as call:
            body = await call.bounded(
                tag_counts.list_tags(
                    self.backends, request.prefix or None, request.limit or None,
                    request.cursor or None,
                )
            )  # fmt: skip
            return convert.tags_response(body)

    async def DeleteImage(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("DeleteImage", context, write=True) as call:
            await call.bounded(deletion.delete_one(self.backends, request.id))
            facets.invalidate(self.backends)
            return pb.DeleteImageResponse()

    async def DeleteImages(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("DeleteImages", context, write=True) as call:
            filters = self._filter(request.filter, request.filter_json) or None
            ids = list(request.ids) or None
            report = await call.bounded(
                deletion.delete_many(self.backends, ids, filters, request.dry_run)
            )
            if report.deleted:
                facets.invalidate(self.backends)
            return convert.delete_response(report)

    async def Stats(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("Stats", context) as call:
            return convert.stats_response(await call.bounded(status.stats(self.backends)))

    async def ImagesExist(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("ImagesExist", context) as call:
            found = await call.bounded(images.existing(self.backends, list(request.ids)))
            return pb.ImagesExistResponse(existing=found)

    async def UpdateMetadata(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("UpdateMetadata", context, write=True) as call:
            patch = parse_json(request.patch_json, "metadata", self.limits.max_metadata_bytes)
            record = await call.bounded(metadata.patch_metadata(self.backends, request.id, patch))
            facets.invalidate(self.backends)
            return convert.image_response(record, b"", b"")

    # Admin calls take as long as the library is large: the client's deadline bounds them,
    # not the gateway's per-request one.
    async def CheckConsistency(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("CheckConsistency", context, write=True):
            report = await admin.check(self.backends, request.repair, request.force)
            return convert.check_response(report)

    async def Reindex(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("Reindex", context, write=True):
            done = await admin.reindex(self.backends)
            return pb.ReindexResponse(
                collections=[pb.ReindexedCollection(**c) for c in done["collections"]]
            )

    async def ListModels(self, request: Any, context: aio.ServicerContext) -> Any:
        async with self._call("ListModels", context) as call:
            models = await call.bounded(status.search_models(self.backends))
            return pb.ListModelsResponse(models=[pb.SearchModel(**m) for m in models])

    async def IndexImages(
        self, requests: AsyncIterator[Any], context: aio.ServicerContext
    ) -> AsyncIterator[Any]:
        """Images are embedded in batches of what has arrived (up to `ingest_batch`), so a
        client that waits for each result before sending the next is never stalled."""
        async with self._call("IndexImages", context, write=True) as call:
            queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=2 * self._batch_size())
            reader = asyncio.create_task(_read_into(requests, queue))
            sent = 0
            try:
                while (batch := await self._next_batch(queue)) is not None:
                    for metadata, uploads in self._groups(batch):
                        report = await call.bounded(ingest.ingest(self.backends, uploads, metadata))
                        facets.invalidate(self.backends)
                        for result in convert.index_results(report, sent):
                            yield result
                        sent += len(uploads)
                if sent == 0:
                    raise BadInputError("the stream held no images", code="no_files")
            finally:
                reader.cancel()

    def _batch_size(self) -> int:
        return max(1, min(self.backends.settings.grpc.ingest_batch,
                          self.limits.max_files_per_request))  # fmt: skip

    async def _next_batch(self, queue: asyncio.Queue[Any]) -> list[Any] | None:
        """What has arrived, at least one message, waiting up to `ingest_linger_ms` for a
        fuller batch (a stream's first image would otherwise be embedded alone); None once
        the client is done."""
        batch = [await queue.get()]
        loop = asyncio.get_running_loop()
        linger_until = loop.time() + self.backends.settings.grpc.ingest_linger_ms / 1000
        while len(batch) < self._batch_size() and not _is_last(batch[-1]):
            if not queue.empty():
                batch.append(queue.get_nowait())
            elif loop.time() < linger_until:
                await asyncio.sleep(0.002)
            else:
                break
        if isinstance(batch[-1], BaseException):
            raise batch[-1]
        if batch[-1] is _END:
            batch.pop()
            if not batch:
                return None
            await queue.put(_END)
        return batch

    def _groups(self, batch: list[Any]) -> list[tuple[dict[str, Any], list[ingest.Upload]]]:
        """Consecutive images with the same metadata go in one ingest call."""
        groups: list[tuple[dict[str, Any], list[ingest.Upload]]] = []
        for message in batch:
            metadata = check_sized_object(
                convert.to_python(message.metadata), "metadata", self.limits.max_metadata_bytes
            )
            path = ingest.check_paths([message.path or None], 1)[0]
            upload = ingest.Upload((message.filename or "upload")[:255], message.data, path)
            if groups and groups[-1][0] == metadata:
                groups[-1][1].append(upload)
            else:
                groups.append((metadata, [upload]))
        return groups


def _is_last(item: Any) -> bool:
    return item is _END or isinstance(item, BaseException)


async def _read_into(requests: AsyncIterator[Any], queue: asyncio.Queue[Any]) -> None:
    try:
        async for message in requests:
            await queue.put(message)
        await queue.put(_END)
    except Exception as exc:  # the stream broke: the writer side re-raises it
        await queue.put(exc)
