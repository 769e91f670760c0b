"""What a search's results can and cannot mean, said to the person reading them.

A model exported with seeded random weights (offline, or in tests) still answers every
search, with scores that look like any others. Only copies and near-copies of an indexed
image are meaningful then, and text search means nothing at all. The notice travels in every
search response (HTTP `notice`, gRPC `SearchResponse.notice`) so the page and the CLI can put
it above the results; `docs/weights.md` tells the whole story.
"""

from __future__ import annotations

from gateway.models.spec import SearchModel

WEIGHTS_DOC = "docs/weights.md"


def _how_to_get(model: SearchModel) -> str:
    return (
        f"Get {model.title}'s pretrained weights with `make models WEIGHTS=pretrained` where "
        f"the internet is reachable, or, offline, `pic-search models build --weights "
        f"{model.name}=PATH` with {_path_holds(model)} ({WEIGHTS_DOC}); then `pic-search "
        "reindex` re-embeds the indexed images."
    )


def _path_holds(model: SearchModel) -> str:
    if model.builder == "clip":
        return (
            "PATH the keras-hub preset folder `clip_vit_base_patch32` saved on a connected machine"
        )
    return "PATH the weights saved on a connected machine"


def text_search_notice(model: SearchModel, random_weights: bool) -> str | None:
    """Set when the text tower has seeded random weights: its results ignore the words."""
    if not random_weights:
        return None
    return (
        f"Text search needs {model.title}'s pretrained weights, and this {model.title} has "
        "seeded random weights: these results do not match your words. " + _how_to_get(model)
    )


def image_search_notice(model: SearchModel, random_weights: bool) -> str | None:
    """Set when the image model has seeded random weights: near-copies only."""
    if not random_weights:
        return None
    return (
        f"{model.title} has seeded random weights: it finds copies and near-copies of an "
        "indexed image, and other results are arbitrary. " + _how_to_get(model)
    )
