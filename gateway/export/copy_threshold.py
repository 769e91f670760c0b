"""The similarity at which two photos are copies of each other (`group=true`), measured when
the repository is built, on the weights being built.

The copy-detection set (gateway/quality/copy_detection.py) gives the sample photos and their
resized, re-encoded and slightly cropped copies. The threshold is as strict as 95% of the
copies allow (a few diverse samples say little about two different photos of one scene), but
never below the highest similarity between two distinct photos there plus a margin, so
grouping never hides a different photo of that set; it is written only when at least half the
copies reach it. Otherwise the model gets no threshold, and its searches say grouping is
unavailable rather than guess one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.export import cpu_runtimes
from gateway.models.spec import CpuRunner, TritonModelSpec
from gateway.quality.copy_detection import TRANSFORMS, copy_detection_inputs
from gateway.quality.samples import sample_photos
from gateway.quality.trials import embed_all

# What a library holds as "the same photo": resized, re-saved, trimmed at the edges. Larger
# crops, flips and rotations are other pictures to a person browsing results.
COPY_EDITS = ("scale_50", "scale_25", "jpeg_q50", "crop_90")
MARGIN = 0.01
# The threshold sits at this quantile of the copies' similarities to their originals (so 95%
# of the set's copies group), unless distinct photos come closer than that.
COPY_QUANTILE = 0.05
# Copies that must reach the threshold for it to be worth grouping by.
MIN_RECALL = 0.5


@dataclass(frozen=True)
class CopyThreshold:
    min_similarity: float | None  # None: no threshold separates copies on this set
    distinct_max: float  # the most similar two different photos are
    copy_recall: float  # the share of copies that reach the threshold


def threshold_from(vectors: npt.NDArray[np.float32], originals: int) -> CopyThreshold:
    """For `copy_detection_inputs`' rows: originals, then one block of copies per edit."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    base, copies = unit[:originals], unit[originals:].reshape(-1, originals, unit.shape[1])
    between = base @ base.T
    np.fill_diagonal(between, -1.0)
    distinct = [float(between.max())]
    same: list[npt.NDArray[np.float32]] = []
    for block in copies:
        scores = block @ base.T  # copy i against every original
        same.append(np.diag(scores).copy())
        np.fill_diagonal(scores, -1.0)
        distinct.append(float(scores.max()))
    distinct_max = max(distinct)
    found = np.concatenate(same)
    # As strict as most copies allow, never below what separates distinct photos here.
    chosen = round(
        min(max(float(np.quantile(found, COPY_QUANTILE)), distinct_max + MARGIN), 1.0), 4
    )
    recall = float(np.mean(found >= chosen))
    if recall < MIN_RECALL:
        return CopyThreshold(None, distinct_max, recall)
    return CopyThreshold(chosen, distinct_max, recall)


def measure(
    spec: TritonModelSpec, version_dir: Path, runner: CpuRunner | None = None
) -> CopyThreshold:
    """`spec`'s threshold from its files in `version_dir`, on `runner` (default: the fp32
    ONNX file on ONNX Runtime)."""
    runner = runner or CpuRunner("onnxruntime", "fp32")
    edits = [t for t in TRANSFORMS if t.name in COPY_EDITS]
    inputs, originals = copy_detection_inputs(sample_photos(), spec, edits)
    run = cpu_runtimes.load_runner(
        runner.runtime, runner.precision, version_dir, spec.input.name, spec.output.name
    )
    return threshold_from(embed_all(run, inputs), originals)
