"""Search: by an uploaded image, by text (CLIP), or by an indexed image's stored vector."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gateway.capture import TAKEN_NONE
from gateway.clients.base import Hit
from gateway.errors import (
    NotFoundError,
    PicSearchError,
    TooLargeError,
    ValidationError,
)
from gateway.models.spec import SearchModel
from gateway.observability import stage
from gateway.preprocess import prepare_image
from gateway.services import grouping
from gateway.services.backends import Backends
from gateway.services.cutoff import Cutoff, CutoffRequest
from gateway.services.cutoff import check_request as check_cutoff
from gateway.services.cutoff import resolve as resolve_cutoff
from gateway.services.filters import to_expression
from gateway.services.notices import image_search_notice, text_search_notice
from gateway.services.records import FileInfo, file_infos
from gateway.services.schema import SORT_TAKEN, Needs, filter_needs, require
from gateway.store.base import check_id

__all__ = [
    "Hit",
    "Match",
    "SearchOptions",
    "SearchResult",
    "by_image",
    "by_text",
    "similar",
]

# score: best first; date: newest indexed first (`created_at`, when the gateway indexed the
# file); taken: newest photo first by its EXIF date, undated photos last.
Sort = Literal["score", "date", "taken"]
SORTS: tuple[Sort, ...] = ("score", "date", "taken")


@dataclass(frozen=True)
class SearchOptions:
    """How to shape the results: a filter, a cutoff, and the order among what passes."""

    filters: Any = None
    sort: str | None = None
    min_score: float | None = None
    cutoff: str | None = None
    # Collapse near-copies into one result; `top_k` then counts groups (services/grouping.py).
    group: bool = False


@dataclass(frozen=True)
class Match:
    """A hit and the stored facts of its file; with grouping, its near-copies."""

    hit: Hit
    file: FileInfo
    copies: tuple[Hit, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    model: str
    matches: list[Match]
    took_ms: float
    cutoff: Cutoff = field(default_factory=lambda: Cutoff("none"))
    sort: Sort = "score"
    # The model's weights are seeded random: only copies and near-copies are found.
    random_weights: bool = False
    # For people: what these results can and cannot mean (services/notices.py).
    notice: str | None = None


def check_sort(sort: str | None) -> Sort:
    if sort in (None, "", "score"):
        return "score"
    if sort == "date":
        return "date"
    if sort == "taken":
        return "taken"
    raise ValidationError(
        "sort must be `score`, `date` (newest indexed first) or `taken` (newest photo first)",
        code="invalid_sort",
    )


def check_top_k(backends: Backends, top_k: int | None) -> int:
    limits = backends.settings.limits
    value = limits.default_top_k if top_k is None else top_k
    if not 1 <= value <= limits.max_top_k:
        raise ValidationError(
            f"top_k must be between 1 and {limits.max_top_k}", code="invalid_top_k"
        )
    return value


@dataclass(frozen=True)
class CheckedOptions:
    expression: str
    sort: Sort
    cutoff: CutoffRequest
    needs: list[Needs]  # the schema versions the filter and the sort read fields of
    group: bool = False


def check_options(options: SearchOptions) -> CheckedOptions:
    """Everything about the options that can be wrong, before any model runs."""
    sort = check_sort(options.sort)
    return CheckedOptions(
        to_expression(options.filters),
        sort,
        check_cutoff(options.min_score, options.cutoff),
        filter_needs(options.filters) + ([SORT_TAKEN] if sort == "taken" else []),
        options.group,
    )


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
    checked: CheckedOptions,
    started: float,
    exclude: str | None = None,
) -> SearchResult:
    await backends.ensure_collections()
    await require(backends, [backends.collection(model)], checked.needs)
    wanted = top_k
    if checked.group:  # read enough candidates to still have `top_k` groups
        wanted = grouping.fetch_size(top_k, backends.settings.limits.max_top_k * 4)
    with stage("milvus"):
        hits = await backends.vectors.search(
            backends.collection(model),
            vector.tolist(),
            wanted + (exclude is not None),
            checked.expression,
        )
    hits = [h for h in hits if h.id != exclude][:wanted]
    cutoff = resolve_cutoff(
        checked.cutoff, backends.fingerprints.get(model.name, ""), backends.cutoffs.get(model.name)
    )
    if cutoff.min_score is not None:
        kept = [h for h in hits if h.score >= cutoff.min_score]
        cutoff = replace(cutoff, cut=len(hits) - len(kept))
        hits = kept
    copies: dict[str, tuple[Hit, ...]] = {}
    if checked.group:
        hits, copies = await grouping.collapse(
            backends, backends.collection(model), model, hits, top_k
        )
    if checked.sort == "date":  # newest first, among the results that passed
        hits = sorted(hits, key=lambda h: (-h.created_at, -h.score))
    elif checked.sort == "taken":  # newest photo first, undated ones last
        hits = sorted(hits, key=lambda h: (-taken_key(h), -h.score))
    files = await file_infos(backends, [(h.id, h.created_at) for h in hits])
    matches = [Match(h, files[h.id], copies.get(h.id, ())) for h in hits]
    took_ms = (time.perf_counter() - started) * 1000
    random = backends.random_weights(model)
    notice = image_search_notice(model, random)
    if checked.group:
        notice = joined_notice(notice, grouping.unavailable(backends, model))
    return SearchResult(model.name, matches, took_ms, cutoff, checked.sort, random, notice)


def joined_notice(*notes: str | None) -> str | None:
    """The notes present, as one notice (None when there are none)."""
    return " ".join(n for n in notes if n) or None


def taken_key(hit: Hit) -> int:
    """A hit's date taken as a sort key: undated photos sort below every date."""
    return TAKEN_NONE if hit.taken is None else hit.taken


async def by_image(
    backends: Backends,
    data: bytes,
    model_name: str | None,
    top_k: int | None,
    options: SearchOptions,
) -> SearchResult:
    started = time.perf_counter()
    model, k = await _chosen_model(backends, model_name), check_top_k(backends, top_k)
    limits = backends.settings.limits
    if len(data) > limits.max_upload_bytes:
        raise TooLargeError(
            f"the file is over {limits.max_upload_bytes} bytes", code="file_too_large"
        )
    checked = check_options(options)
    with stage("decode"):
        image = await backends.run_cpu(
            prepare_image, data, [model.image_model], backends.settings.limits, thumbnail=False
        )
    with stage("triton"):
        vectors = await backends.triton.embed(
            model.image_model, image.inputs[model.image_model.name][None]
        )
    return await _search(backends, model, vectors[0], k, checked, started)


async def by_text(
    backends: Backends,
    text: str,
    top_k: int | None,
    options: SearchOptions,
    model_name: str | None = None,
) -> SearchResult:
    started = time.perf_counter()
    limits = backends.settings.limits
    checked = check_options(options)
    if not text.strip():
        raise ValidationError("the query text is empty", code="empty_query")
    if len(text) > limits.max_text_chars:
        raise ValidationError(
            f"the query is {len(text)} characters; the limit is {limits.max_text_chars}",
            code="query_too_long",
        )
    from gateway.services import tag_search  # it builds on this module

    if await tag_search.wants_tags(backends, model_name):
        return await tag_search.by_tags(backends, text, top_k, options)
    model, k = backends.text_model(model_name), check_top_k(backends, top_k)
    assert model.text_model is not None
    with stage("tokenize"):
        # Only as long as the query: clip_text runs each batch at its longest row's length.
        ids = backends.tokenizer.tokenize([text], trim=True)
    with stage("triton"):
        vectors = await backends.triton.embed(model.text_model, ids)
    result = await _search(backends, model, vectors[0], k, checked, started)
    notice = text_search_notice(model, result.random_weights)
    if checked.group:
        notice = joined_notice(notice, grouping.unavailable(backends, model))
    return replace(result, notice=notice)


async def similar(
    backends: Backends,
    image_id: str,
    model_name: str | None,
    top_k: int | None,
    options: SearchOptions | None = None,
) -> SearchResult:
    """Search with an indexed image's stored vector ("click a result"); excludes itself."""
    started = time.perf_counter()
    check_id(image_id)
    model, k = await _chosen_model(backends, model_name), check_top_k(backends, top_k)
    checked = check_options(options or SearchOptions())
    await backends.ensure_collections()
    with stage("milvus"):
        row = await backends.vectors.get(backends.collection(model), image_id, with_vector=True)
    if row is None:
        raise NotFoundError(f"no image with id {image_id}", code="image_not_found")
    vector = np.asarray(row["embedding"], np.float32)
    return await _search(backends, model, vector, k, checked, started, exclude=image_id)
