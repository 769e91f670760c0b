"""A precision trial for a text tower: what the everyday queries find, against fp32.

Users see a text query's photos. With real weights, a reduced precision keeps the rankings
when each everyday query's 10 nearest labeled photos (embedded by the image tower as served)
are on average fp32's to within `MAX_METRIC_CHANGE`, as an image model's neighbours must be
(trials.py). With random weights a query's photos mean nothing (text search is not
meaningful, and the gateway says so), so the result lists are reported, not judged: a
reduced precision is kept when its vectors are valid, every row finite and within
`RANDOM_MIN_COSINE` of fp32's, the tolerance the served embeddings are tested to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gateway.models.clip_tokenizer import ClipTokenizer, trim_to_longest
from gateway.models.spec import CpuRunner
from gateway.quality.tag_quality import EVERYDAY_WORDS
from gateway.quality.trials import (
    MAX_METRIC_CHANGE,
    NEIGHBOURS,
    Embeddings,
    Run,
    shared_share,
    unit_rows,
)

RANDOM_MIN_COSINE = 0.99
TIMED_ROUNDS = 5


@dataclass(frozen=True)
class TextTrial:
    """One runner of a text tower on the everyday queries, against the reference (fp32)."""

    runtime: str
    precision: str
    # The queries one at a time, each at its own length: what a user's searches cost, and
    # what decides (OpenVINO plans again for every new input shape; a batch hides that).
    queries_per_s: float
    # The queries as one batch at its longest query's length, as Triton runs a busy queue.
    batch_queries_per_s: float
    min_cosine: float
    mean_cosine: float
    # Mean share of each query's 10 best photos that are the reference's (the worse of the
    # queries alone and in the batch: a dynamic int8 range depends on the batch).
    query_overlap: float
    keeps_rankings: bool

    @property
    def per_s(self) -> float:
        return self.queries_per_s


def everyday_queries() -> list[str]:
    """What people type: a photo of each everyday word the labeled set has pictures of."""
    return [f"a photo of {word}" for word in EVERYDAY_WORDS.values()]


def query_ids(queries: list[str]) -> npt.NDArray[np.int32]:
    """The queries as one batch at its longest query's length, as Triton serves them."""
    return ClipTokenizer.from_package().tokenize(queries, trim=True)


def text_trial(
    runner: CpuRunner,
    run: Run,
    ids: npt.NDArray[np.int32],
    photos: Embeddings,
    real_weights: bool,
    reference: tuple[TextTrial, Embeddings] | None = None,
) -> tuple[TextTrial, Embeddings]:
    """`run` on the queries `ids` (one batch at its longest query's length), alone and as
    that batch, ranking `photos` (unit rows from the image tower); with no `reference`, it
    is the reference (fp32), and its batch's vectors are what it returns."""
    alone = [trim_to_longest(ids[row : row + 1]) for row in range(len(ids))]
    singles_per_s, single_rows = _timed(run, alone)
    batch_per_s, batch_rows = _timed(run, [ids])
    base, base_vectors = reference if reference else (None, batch_rows)
    cosines = np.concatenate(
        [np.sum(unit_rows(v) * unit_rows(base_vectors), axis=1) for v in (single_rows, batch_rows)]
    )
    overlap = min(results_overlap(v, base_vectors, photos) for v in (single_rows, batch_rows))
    finite = bool(np.isfinite(single_rows).all() and np.isfinite(batch_rows).all())
    if base is None:
        keeps = finite
    elif real_weights:
        keeps = finite and overlap >= 1.0 - MAX_METRIC_CHANGE
    else:
        keeps = finite and float(cosines.min()) >= RANDOM_MIN_COSINE
    result = TextTrial(
        runner.runtime,
        runner.precision,
        singles_per_s,
        batch_per_s,
        float(np.nan_to_num(cosines.min(), nan=-1.0)),
        float(np.nan_to_num(cosines.mean(), nan=-1.0)),
        overlap,
        keeps,
    )
    return result, batch_rows


def _timed(run: Run, batches: list[npt.NDArray[np.int32]]) -> tuple[float, Embeddings]:
    """Queries per second over `TIMED_ROUNDS` of `batches` in turn, and their rows."""
    for batch in batches:  # warm: kernel choice, each shape's first run
        run(batch)
    started = time.perf_counter()
    for _ in range(TIMED_ROUNDS):
        rows = [np.asarray(run(batch), dtype=np.float32) for batch in batches]
    queries = TIMED_ROUNDS * sum(len(batch) for batch in batches)
    return queries / (time.perf_counter() - started), np.concatenate(rows)


def results_overlap(
    queries: Embeddings, reference: Embeddings, photos: Embeddings, k: int = NEIGHBOURS
) -> float:
    """The mean share of each query's `k` best photos under `queries` that are also among its
    `k` best under `reference` (1.0: every result list is the same set)."""
    k = min(k, len(photos))
    if k < 1:
        return 1.0
    found = np.argsort(-(queries @ photos.T), axis=1, kind="stable")[:, :k]
    expected = np.argsort(-(reference @ photos.T), axis=1, kind="stable")[:, :k]
    return shared_share(found, expected)
