"""The `cutoff=auto` rules, a build input: `python -m bench --only cutoff` chooses a threshold
per fingerprint (Triton model @ weights provenance) on labeled photos and writes them to
bench/results/cutoff.json; the exporter writes a model's rule into its Triton config (the
CUTOFF_PARAMETER) only when the weights it builds are the ones the rule was chosen for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Relative to where `pic-search models build` runs: the repository root (make, Compose's
# model-builder at /src), or `--cutoff-rules`.
DEFAULT_RULES = Path("bench/results/cutoff.json")


def rules(path: Path = DEFAULT_RULES) -> dict[str, dict[str, Any]]:
    """fingerprint -> {"min_score", "precision", "recall", "no_cutoff_precision"} for every
    model the benchmark chose a threshold for (none for random weights); empty without file."""
    if not path.exists():
        return {}
    models: dict[str, dict[str, Any]] = json.loads(path.read_text())["results"]["models"]
    return {
        m["fingerprint"]: {
            "min_score": float(m["threshold"]),
            "precision": m["held_out"]["precision"],
            "recall": m["held_out"]["recall"],
            "no_cutoff_precision": m["no_cutoff"]["precision"],
        }
        for m in models.values()
        if m.get("threshold") is not None
    }


def thresholds(path: Path = DEFAULT_RULES) -> tuple[tuple[str, float], ...]:
    """(fingerprint, min_score) pairs, as `ServingOptions.cutoffs` takes them."""
    return tuple((fingerprint, rule["min_score"]) for fingerprint, rule in rules(path).items())
