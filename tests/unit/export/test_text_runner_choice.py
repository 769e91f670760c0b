"""The text tower's precision check: with real weights a reduced precision is kept only when
the everyday queries still find the same photos; with random weights, whose results mean
nothing, when its vectors stay valid (finite, cosine to fp32 >= 0.99). Runners are faked at
their interface: a batch of token ids in, query vectors out."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from gateway.export.runner_choice import fastest_keeping
from gateway.models.spec import CpuRunner
from gateway.quality.text_trials import (
    RANDOM_MIN_COSINE,
    TextTrial,
    everyday_queries,
    query_ids,
    results_overlap,
    text_trial,
)
from gateway.quality.trials import Run

RNG = np.random.default_rng(3)
IDS = query_ids(everyday_queries())
QUERIES = RNG.normal(size=(len(IDS), 32)).astype(np.float32)
# Photos whose scores for each query are close together: a small drift reorders them.
PHOTOS = (RNG.normal(size=(60, 32)) * 0.01 + QUERIES.mean(axis=0)).astype(np.float32)


def _query(row: npt.NDArray[np.int32]) -> int:
    """Which everyday query a row of token ids is, alone or padded in a batch."""
    own = tuple(row[: int(row.argmax()) + 1])
    return next(i for i, ids in enumerate(IDS) if tuple(ids[: int(ids.argmax()) + 1]) == own)


def _runner(noise: float, nan_row: bool = False, batch_noise: float = 0.0) -> Run:
    """Each query's vector with `noise`; `batch_noise` more when it runs in a batch (a range
    measured over the batch, as dynamic int8 has)."""
    rng = np.random.default_rng(1)

    def run(ids: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        out = QUERIES[[_query(row) for row in ids]]
        drift = noise + (batch_noise if len(ids) > 1 else 0.0)
        out = out + drift * rng.normal(size=out.shape).astype(np.float32)
        if nan_row and len(ids) > 2:
            out[2] = np.nan
        return out

    return run


def _trial(
    noise: float, real: bool, nan_row: bool = False, batch_noise: float = 0.0
) -> tuple[TextTrial, TextTrial]:
    reference = text_trial(CpuRunner("openvino", "fp32"), _runner(0.0), IDS, PHOTOS, real)
    reduced, _ = text_trial(
        CpuRunner("onnxruntime", "int8"),
        _runner(noise, nan_row, batch_noise),
        IDS,
        PHOTOS,
        real,
        reference,
    )
    return reference[0], reduced


def test_the_queries_are_everyday_words_batched_at_their_longest_length() -> None:
    assert len(IDS) == len(everyday_queries()) >= 10
    assert IDS.shape[1] < 77  # run at the longest query's length, not 77
    assert all(q.startswith("a photo of ") for q in everyday_queries())


@pytest.mark.parametrize("real", [True, False])
def test_the_reference_keeps_its_own_results(real: bool) -> None:
    reference, _ = _trial(0.0, real)
    assert reference.keeps_rankings and reference.query_overlap == 1.0
    assert reference.min_cosine == pytest.approx(1.0) and reference.queries_per_s > 0
    assert reference.batch_queries_per_s > 0


def test_each_query_also_runs_alone_at_its_own_length() -> None:
    shapes: list[tuple[int, ...]] = []

    def run(ids: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        shapes.append(ids.shape)
        return QUERIES[[_query(row) for row in ids]]

    text_trial(CpuRunner("openvino", "fp32"), run, IDS, PHOTOS, True)
    alone = {shape for shape in shapes if shape[0] == 1}
    assert {length for _, length in alone} == {int(row.argmax()) + 1 for row in IDS}
    assert IDS.shape in shapes  # and as one batch


def test_real_weights_judge_the_worse_of_the_queries_alone_and_in_a_batch() -> None:
    _, batch_drift = _trial(0.0, real=True, batch_noise=0.1)
    assert batch_drift.query_overlap < 0.99 and not batch_drift.keeps_rankings


def test_real_weights_keep_a_precision_that_keeps_every_querys_photos() -> None:
    _, reduced = _trial(1e-5, real=True)
    assert reduced.keeps_rankings and reduced.query_overlap == 1.0


def test_real_weights_reject_a_precision_that_reorders_results_at_high_cosine() -> None:
    _, reduced = _trial(0.1, real=True)
    assert reduced.min_cosine >= RANDOM_MIN_COSINE  # the vectors barely moved ...
    assert reduced.query_overlap is not None and reduced.query_overlap < 0.99  # ... results did
    assert not reduced.keeps_rankings


def test_random_weights_judge_valid_vectors_and_report_the_results() -> None:
    _, drifted = _trial(0.1, real=False)
    assert drifted.keeps_rankings and drifted.query_overlap is not None  # reported, not judged
    _, broken = _trial(0.5, real=False)
    assert broken.min_cosine < RANDOM_MIN_COSINE and not broken.keeps_rankings


@pytest.mark.parametrize("real", [True, False])
def test_a_nan_row_is_never_kept(real: bool) -> None:
    _, reduced = _trial(0.0, real, nan_row=True)
    assert not reduced.keeps_rankings


def test_the_text_runner_fastest_one_query_at_a_time_and_kept_is_chosen() -> None:
    fp32 = TextTrial("openvino", "fp32", 30.0, 200.0, 1.0, 1.0, 1.0, True)
    bf16 = TextTrial("openvino", "bf16", 50.0, 900.0, 0.999, 0.9995, 1.0, True)
    int8 = TextTrial("onnxruntime", "int8", 90.0, 500.0, 0.999, 0.9995, 1.0, True)
    assert fastest_keeping([fp32, bf16, int8]) == CpuRunner("onnxruntime", "int8")
    rejected = TextTrial("openvino", "bf16", 50.0, 900.0, 0.999, 0.9995, 0.9, False)
    assert fastest_keeping([fp32, rejected]) == CpuRunner("openvino", "fp32")


def test_results_overlap_counts_the_shared_photos_of_each_querys_top_k() -> None:
    photos = np.eye(4, dtype=np.float32)
    queries = np.array([[4, 3, 2, 1], [1, 2, 3, 4]], dtype=np.float32)
    assert results_overlap(queries, queries, photos, k=2) == 1.0
    swapped = np.array([[1, 2, 3, 4], [1, 2, 3, 4]], dtype=np.float32)
    assert results_overlap(swapped, queries, photos, k=2) == 0.5  # first query lost both
