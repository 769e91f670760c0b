"""Searches go first: their Milvus reads wait for no recent write yet never return a photo
deleted here, and their Triton calls join the most urgent queue."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.clients import priority, search_reads
from gateway.clients.search_reads import SearchReads
from gateway.export import triton_config
from gateway.models.registry import triton_models
from gateway.models.spec import TritonModelSpec


def test_a_search_reads_as_of_half_a_second_ago_unless_strong_or_bounded_is_asked_for() -> None:
    reads = SearchReads("Session").consistency()
    assert reads["consistency_level"] == "Customized"
    wall_ms = reads["guarantee_timestamp"] >> 18
    assert abs(wall_ms - (time.time() - search_reads.STALENESS_S) * 1000) < 1000
    assert SearchReads("Strong").consistency() == {"consistency_level": "Strong"}
    assert SearchReads("Bounded").consistency() == {"consistency_level": "Bounded"}
    # No staleness: this gateway's own writes at once (and waiting on them).
    assert SearchReads("Session", 0.0).consistency() == {"consistency_level": "Session"}


def test_the_hybrid_timestamp_is_milliseconds_shifted_past_the_logical_bits() -> None:
    assert search_reads.guarantee_timestamp(0.5, now=1000.0) == 999_500 << 18


def test_ids_deleted_here_are_filtered_out_of_searches_until_milvus_has_caught_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = SearchReads("Session")
    assert reads.filter("images_clip", "") == ""
    reads.deleted("images_clip", ["b", "a"])
    assert reads.filter("images_clip", "") == 'id not in ["a", "b"]'
    assert reads.filter("images_clip", "taken > 0") == '(taken > 0) and id not in ["a", "b"]'
    assert reads.filter("images_vgg16", "") == ""  # per collection
    later = time.monotonic() + search_reads.FORGET_AFTER_S + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert reads.filter("images_clip", "") == ""
    assert search_reads.FORGET_AFTER_S > search_reads.STALENESS_S


def test_searching_marks_model_calls_urgent_across_awaits_and_tasks_only_inside() -> None:
    async def level_in_a_task() -> int:
        await asyncio.sleep(0)
        return priority.current()

    async def run() -> tuple[int, int, int]:
        outside = priority.current()
        with priority.searching():
            inside = await asyncio.create_task(level_in_a_task())
        return outside, inside, priority.current()

    assert asyncio.run(run()) == (priority.BACKGROUND, priority.SEARCH, priority.BACKGROUND)


@pytest.mark.parametrize("spec", triton_models(), ids=lambda s: s.name)
def test_every_image_config_queues_by_priority_with_unmarked_calls_behind_searches(
    spec: TritonModelSpec,
) -> None:
    for variant in triton_config.VARIANT_PATHS:
        config = triton_config.build_config(spec, variant, "random:seed=1")
        batching = config.dynamic_batching
        if not spec.is_image_model:  # searches alone: nothing to go ahead of
            assert batching.priority_levels == 0
            continue
        assert batching.priority_levels == priority.LEVELS == 2
        assert batching.default_priority_level == priority.BACKGROUND > priority.SEARCH
