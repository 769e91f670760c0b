"""Search by words through auto-tags (`model=tags`): what finds photos by words on every
install, CLIP's pretrained weights or not.

The query's words are matched longest first against the tag vocabulary (a word means its
first three WordNet noun senses; stop-words are ignored); the matches are OR'ed. Candidates
are the rows whose kept classes include a class under any matched tag (Milvus'
`array_contains_any` on the `classes` field, with the request's filter); each is scored with
the summed probability of its classes under them and ranked here. Unknown words are named in
the response's notice while the known ones still rank; a query with no known word has no
results.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from gateway.clients.base import Candidates, Hit
from gateway.errors import PicSearchError, ValidationError
from gateway.models.tag_vocabulary import vocabulary
from gateway.observability import stage
from gateway.services import grouping
from gateway.services.backends import Backends
from gateway.services.records import file_infos
from gateway.services.schema import TAG_SEARCH, require
from gateway.services.search import (
    Match,
    SearchOptions,
    SearchResult,
    check_options,
    check_top_k,
    joined_notice,
    taken_key,
)
from gateway.services.tags import label_model

TAGS = "tags"  # the `model=` value


def tags_needed_message() -> str:
    return (
        "model=tags needs an enabled model with a label head and real weights: add "
        "efficientnet_lite0 to PIC_SEARCH_MODELS__ENABLED and build it with "
        "`pic-search models build` (its ImageNet weights ship in a package), with "
        "PIC_SEARCH_MODELS__AUTO_TAGS left true"
    )


async def tags_available(backends: Backends) -> bool:
    """Whether an enabled label head with real weights tags photos (asks Triton once)."""
    if not backends.collections_ready:
        with contextlib.suppress(PicSearchError):
            await backends.ensure_collections()
    return label_model(backends) is not None


async def wants_tags(backends: Backends, model_name: str | None) -> bool:
    """`model=tags`, or no model named while no text tower has real weights and a label head
    does: words then find photos through tags instead of random CLIP vectors."""
    if model_name == TAGS:
        return True
    if model_name is not None:
        return False
    towers = [m for m in backends.models if m.text_model is not None]
    if not await tags_available(backends):
        return False
    return not any(not backends.random_weights(m) for m in towers)


async def by_tags(
    backends: Backends, text: str, top_k: int | None, options: SearchOptions
) -> SearchResult:
    """Text search through tags; the caller checked the text (empty, too long)."""
    started = time.perf_counter()
    checked = check_options(options)
    k = check_top_k(backends, top_k)
    # An outage or a collection of other weights is the answer, as for every search.
    await backends.ensure_collections()
    if not await tags_available(backends):
        raise ValidationError(tags_needed_message(), code="no_label_head")
    model = label_model(backends)
    assert model is not None
    collection = backends.collection(model)
    await require(backends, [collection], [TAG_SEARCH, *checked.needs])
    words = vocabulary()
    parsed = words.parse(text)
    classes = sorted(words.classes_under(parsed.tags))
    wanted = {words.class_names[i] for i in classes}
    found = Candidates([], np.zeros(0, np.float32))
    if wanted:
        with stage("milvus"):
            found = await backends.vectors.labelled(collection, sorted(wanted), checked.expression)
    kept = np.arange(len(found.ids))
    if options.min_score is not None:  # compared as the response shows scores: float64
        kept = np.flatnonzero(found.scores.astype(np.float64) >= options.min_score)
    cut = len(found.ids) - len(kept)
    # Candidates can be every photo (a broad word): only the best are read and made hits.
    needed = grouping.fetch_size(k, backends.settings.limits.max_top_k * 4) if checked.group else k
    hits = await _best_hits(backends, collection, found, kept, needed)
    copies: dict[str, tuple[Hit, ...]] = {}
    if checked.group:  # near-copies by the label model's own vectors, as image search groups
        hits, copies = await grouping.collapse(backends, collection, model, hits, k)
    hits = hits[:k]
    if checked.sort == "date":
        hits.sort(key=lambda h: (-h.created_at, -h.score))
    elif checked.sort == "taken":
        hits.sort(key=lambda h: (-taken_key(h), -h.score))
    files = await file_infos(backends, [(h.id, h.created_at) for h in hits])
    matches = [Match(h, files[h.id], copies.get(h.id, ())) for h in hits]
    result = SearchResult(
        TAGS,
        matches,
        (time.perf_counter() - started) * 1000,
        sort=checked.sort,
        notice=_notice(parsed.unknown, bool(parsed.tags)),
    )
    if checked.group:
        unable = grouping.unavailable(backends, model)
        result = replace(result, notice=joined_notice(result.notice, unable))
    return replace(result, cutoff=replace(result.cutoff, cut=cut))


async def _best_hits(
    backends: Backends,
    collection: str,
    found: Candidates,
    kept: npt.NDArray[np.intp],
    needed: int,
) -> list[Hit]:
    """The `needed` best of the `kept` candidates, by score, then newest, then id. Only the
    best scores and any tied with the last of them are read further (their dates and
    metadata): the tie-break needs the dates, and candidates can be every photo."""
    if len(kept) > needed:
        values = found.scores[kept]
        floor = np.partition(values, len(values) - needed)[len(values) - needed]
        kept = kept[values >= floor]
    if not len(kept):
        return []
    with stage("milvus"):
        rows = await backends.vectors.rows_by_id(collection, [found.ids[i] for i in kept])
    hits = [
        Hit(row.id, float(found.scores[i]), row.metadata, row.created_at, row.taken)
        for i in kept
        if (row := rows.get(found.ids[i])) is not None  # else deleted since the scan
    ]
    return sorted(hits, key=lambda h: (-h.score, -h.created_at, h.id))[:needed]


def _notice(unknown: list[str], any_known: bool) -> str | None:
    if not unknown:
        return None
    names = ", ".join(f"'{w}'" for w in unknown)
    if any_known:
        return f"No tag for {names}: ranked by the other words."
    return f"No tag for {names}: tag search knows ImageNet's things and their broader names."
