"""The cutoff rule on vectors whose classes are known: it keeps what shares the class."""

from __future__ import annotations

import numpy as np

from gateway.quality.cutoff import choose_cutoff


def test_a_threshold_between_the_classes_keeps_only_same_class_results() -> None:
    rng = np.random.default_rng(3)
    centres = np.eye(8, 64, dtype=np.float32)  # eight orthogonal classes, five photos each
    vectors = np.repeat(centres, 5, axis=0) + 0.05 * rng.standard_normal((40, 64))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    labels = [f"class{i // 5}" for i in range(40)]
    rule = choose_cutoff(vectors, labels, top_k=10)
    assert 0.1 < rule["threshold"] < 0.9  # above other classes (~0), below its own (~0.99)
    assert rule["held_out"] == {"precision": 1.0, "recall": 1.0, "kept_per_query": 4.0}
    assert rule["no_cutoff"]["precision"] == 0.4  # 4 of the top 10 share the class


def test_with_nothing_to_separate_the_cutoff_gains_no_precision() -> None:
    vectors = np.random.default_rng(4).standard_normal((30, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = ["a", "b", "c"] * 10
    rule = choose_cutoff(vectors, labels, top_k=10)
    assert rule["held_out"]["precision"] < 0.7
