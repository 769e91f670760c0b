"""Where the good matches end: a fixed `min_score`, or `cutoff=auto`, a rule per model.

A fixed threshold means little across models (their scores live on different scales), so
`auto` uses a threshold chosen for the exact weights being served, on a labeled set of real
photos: `python -m bench --only cutoff` chooses it per fingerprint (Triton model + weights
provenance) into bench/results/cutoff.json, `pic-search models build` writes it into the
model's Triton config when the fingerprint matches, and the gateway reads it from there with
the weights. Weights without a rule, random ones above all, get every result back and a
message saying no meaningful cutoff exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from gateway.errors import ValidationError
from gateway.models.spec import is_random

Mode = Literal["none", "min_score", "auto"]


@dataclass(frozen=True)
class Cutoff:
    """What was applied to a result list, and how many results it removed."""

    mode: Mode
    min_score: float | None = None
    cut: int = 0
    message: str | None = None


@dataclass(frozen=True)
class CutoffRequest:
    mode: Mode
    min_score: float | None = None


def check_request(min_score: float | None, cutoff: str | None) -> CutoffRequest:
    if cutoff not in (None, "", "none", "auto"):
        raise ValidationError("cutoff must be `auto` or absent", code="invalid_cutoff")
    if min_score is not None and cutoff == "auto":
        raise ValidationError("give min_score or cutoff=auto, not both", code="invalid_cutoff")
    if min_score is not None:
        if not math.isfinite(min_score) or not -1.0 <= min_score <= 1.0:
            raise ValidationError(
                "min_score must be between -1 and 1 (scores are cosine similarities)",
                code="invalid_min_score",
            )
        return CutoffRequest("min_score", float(min_score))
    return CutoffRequest("auto" if cutoff == "auto" else "none")


def resolve(request: CutoffRequest, fingerprint: str, rule: float | None) -> Cutoff:
    """The threshold to apply (none for `none`, or for `auto` without a `rule`: the threshold
    the served model's config records for its weights)."""
    if request.mode == "min_score":
        return Cutoff("min_score", request.min_score)
    if request.mode == "none":
        return Cutoff("none")
    if rule is not None:
        return Cutoff("auto", rule)
    weights = fingerprint.partition("@")[2]
    if is_random(weights):
        why = f"{weights} scores do not separate matches from the rest"
    else:
        why = f"no rule has been chosen on labeled photos for {fingerprint}"
    return Cutoff("auto", None, message=f"no meaningful cutoff exists: {why}")
