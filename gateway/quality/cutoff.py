"""Where `cutoff=auto` should cut a model's results: the score threshold that maximises F1
over each query's top k on labeled photos (a result is relevant when it shares the query's
class), chosen on half of the queries (even positions) and judged on the other half beside
keeping everything. `python -m bench --only cutoff` runs it on the served models."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

GRID = np.round(np.arange(-1.0, 1.0001, 0.0025), 4)


def _cut(top: Any, relevant: Any, threshold: float) -> dict[str, float]:
    """Precision (relevant kept / kept), recall (relevant kept / relevant in the top k) and
    results kept per query, of keeping the results scoring at least `threshold`."""
    kept = top >= threshold
    hits = (kept & relevant).sum()
    return {
        "precision": float(hits / kept.sum()) if kept.sum() else 1.0,
        "recall": float(hits / max(relevant.sum(), 1)),
        "kept_per_query": float(kept.sum(axis=1).mean()),
    }


def _f1(q: dict[str, float]) -> float:
    total = q["precision"] + q["recall"]
    return 2 * q["precision"] * q["recall"] / total if total else 0.0


def choose_cutoff(
    vectors: npt.NDArray[np.float32], labels: list[str], top_k: int
) -> dict[str, Any]:
    """The threshold, its precision and recall where it was chosen and held out, and the
    held-out precision and recall with no cutoff."""
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)  # a photo is not its own result
    order = np.argsort(-scores, axis=1)[:, :top_k]
    top = np.take_along_axis(scores, order, axis=1)
    relevant = np.asarray(labels)[order] == np.asarray(labels)[:, None]
    fit, held = slice(0, None, 2), slice(1, None, 2)
    best = float(max(GRID, key=lambda t: _f1(_cut(top[fit], relevant[fit], float(t)))))
    chosen_on, baseline = _cut(top[fit], relevant[fit], best), _cut(top[held], relevant[held], -1)
    return {
        "threshold": best,
        "chosen_on": {k: chosen_on[k] for k in ("precision", "recall")},
        "held_out": _cut(top[held], relevant[held], best),
        "no_cutoff": {k: baseline[k] for k in ("precision", "recall")},
    }
