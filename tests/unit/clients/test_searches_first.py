"""Searches go first: their Milvus reads wait for no recent write yet never return a photo
deleted here, and no Triton queue strands them."""

from __future__ import annotations

import time

import pytest

from gateway.clients import search_reads
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


@pytest.mark.parametrize("spec", triton_models(), ids=lambda s: s.name)
def test_no_config_has_priority_levels_in_which_triton_strands_a_search(
    spec: TritonModelSpec,
) -> None:
    # With levels, a search sat 170-500 ms in an idle model's queue (triton_config.py).
    for variant in triton_config.VARIANT_PATHS:
        batching = triton_config.build_config(spec, variant, "random:seed=1").dynamic_batching
        assert batching.priority_levels == 0
        assert batching.default_priority_level == 0
