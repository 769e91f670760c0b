"""Labeled retrieval metrics and the labeled set assembled from installed packages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.quality.labeled import read_labeled_folder, retrieval_metrics
from gateway.quality.labeled_set import FACE_CLASSES, TILED_PHOTOS, write_labeled_set


def test_perfectly_clustered_vectors_score_one_and_interleaved_ones_less() -> None:
    labels = ["a", "a", "a", "b", "b", "b"]
    clustered = np.array([[1, 0], [1, 0.01], [1, 0.02], [0, 1], [0.01, 1], [0.02, 1]], np.float32)
    assert retrieval_metrics(clustered, labels, k=2) == (1.0, 1.0)
    # Both "a" queries have the "b" vector nearest ("b" has no other member: left out).
    interleaved = np.array([[1, 0], [1, 0.01], [0.9, 0.3]], np.float32)
    precision, mean_ap = retrieval_metrics(interleaved, ["a", "b", "a"], k=1)
    assert precision == 0.0
    assert mean_ap == pytest.approx(0.5)


def test_average_precision_is_computed_over_the_whole_ranking() -> None:
    # Query 0's ranking: [2 (b), 1 (a)]: its only relevant item is at rank 2 -> AP 0.5.
    vectors = np.array([[1, 0], [0, 1], [1, 0.1]], np.float32)
    precision, mean_ap = retrieval_metrics(vectors, ["a", "a", "b"], k=1)
    assert precision == 0.0  # query 2 (class b) has no other member and is left out
    assert mean_ap == pytest.approx(0.5)


def test_the_labeled_set_is_written_as_class_folders_of_real_photos(tmp_path: Path) -> None:
    count = write_labeled_set(tmp_path, per_class=3)
    classes = read_labeled_folder(tmp_path)
    assert set(classes) == set(TILED_PHOTOS) | set(FACE_CLASSES)
    assert count == 3 * len(classes) == sum(len(v) for v in classes.values())
    chelsea = classes["chelsea"]
    assert len(set(chelsea.values())) == 3  # distinct tiles, not copies


def test_a_folder_without_two_classes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "x.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="two class subfolders"):
        read_labeled_folder(tmp_path)
