"""Search: by an uploaded image, by text (CLIP), or by an indexed image's stored vector."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.clients.base import Hit
from gateway.errors import NotFoundError, PicSearchError, TooLargeError, ValidationError
from gateway.models.spec import SearchModel
from gateway.observability import stage
from gateway.preprocess import prepare_image
from gateway.services.backends import Backends
from gateway.services.filters import to_expression
from gateway.store.base import check_id

__all__ = ["Hit", "SearchResult", "by_image", "by_text", "similar"]


@dataclass(frozen=True)
class SearchResult:
    model: str
    hits: list[Hit]
    took_ms: float
    # The model's weights are seeded random: only copies and near-copies are found.
    random_weights: bool = False


def check_top_k(backends: Backends, top_k: int | None) -> int:
    limits = backends.settings.limits
    value = limits.default_top_k if top_k is None else top_k
    if not 1 <= value <= limits.max_top_k:
        raise ValidationError(
            f"top_k must be between 1 and {limits.max_top_k}", code="invalid_top_k"
        )
    return value


async def _chosen_model(backends: Backends, name: str | None) -> SearchModel:
    """The model asked for, else the default, which depends on the weights Triton holds."""
    if name is None and not backends.collections_ready:
        # A dependency outage surfaces on the search itself, after the input is checked.
        with contextlib.suppress(PicSearchError):
            await backends.ensure_collections()
    return backends.model(name)


async def _search(
    backends: Backends,
    model: SearchModel,
    vector: npt.NDArray[np.float32],
    top_k: int,
    filters: dict[str, Any],
    started: float,
    exclude: str | None = None,
) -> SearchResult:
    expression = to_expression(filters)
    await backends.ensure_collections()
    with stage("milvus"):
        hits = await backends.vectors.search(
            backends.collection(model), vector.tolist(), top_k + (exclude is not None), expression
        )
    hits = [h for h in hits if h.id != exclude][:top_k]
    took_ms = (time.perf_counter() - started) * 1000
    return SearchResult(model.name, hits, took_ms, backends.random_weights(model))


async def by_image(
    backends: Backends,
    data: bytes,
    model_name: str | None,
    top_k: int | None,
    filters: dict[str, Any],
) -> SearchResult:
    started = time.perf_counter()
    model, k = await _chosen_model(backends, model_name), check_top_k(backends, top_k)
    limits = backends.settings.limits
    if len(data) > limits.max_upload_bytes:
        raise TooLargeError(
            f"the file is over {limits.max_upload_bytes} bytes", code="file_too_large"
        )
    with stage("decode"):
        image = await backends.run_cpu(
            prepare_image, data, [model.image_model], backends.settings.limits
        )
    with stage("triton"):
        vectors = await backends.triton.embed(
            model.image_model, image.inputs[model.image_model.name][None]
        )
    return await _search(backends, model, vectors[0], k, filters, started)


async def by_text(
    backends: Backends, text: str, top_k: int | None, filters: dict[str, Any]
) -> SearchResult:
    started = time.perf_counter()
    limits = backends.settings.limits
    if not text.strip():
        raise ValidationError("the query text is empty", code="empty_query")
    if len(text) > limits.max_text_chars:
        raise ValidationError(
            f"the query is {len(text)} characters; the limit is {limits.max_text_chars}",
            code="query_too_long",
        )
    model, k = backends.text_model(), check_top_k(backends, top_k)
    assert model.text_model is not None
    with stage("tokenize"):
        ids = backends.tokenizer.tokenize([text])
    with stage("triton"):
        vectors = await backends.triton.embed(model.text_model, ids)
    return await _search(backends, model, vectors[0], k, filters, started)


async def similar(
    backends: Backends, image_id: str, model_name: str | None, top_k: int | None
) -> SearchResult:
    """Search with an indexed image's stored vector ("click a result"); excludes itself."""
    started = time.perf_counter()
    check_id(image_id)
    model, k = await _chosen_model(backends, model_name), check_top_k(backends, top_k)
    await backends.ensure_collections()
    with stage("milvus"):
        row = await backends.vectors.get(backends.collection(model), image_id, with_vector=True)
    if row is None:
        raise NotFoundError(f"no image with id {image_id}", code="image_not_found")
    vector = np.asarray(row["embedding"], np.float32)
    return await _search(backends, model, vector, k, {}, started, exclude=image_id)
