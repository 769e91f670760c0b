"""Searches on seeded random weights say what their results cannot mean, in both APIs'
responses; searches on real weights say nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.api.routes.links import search_response as http_response
from gateway.config import Settings
from gateway.grpc.convert import search_response as grpc_response
from gateway.models.spec import TritonModelSpec
from gateway.services.backends import Backends
from gateway.services.search import SearchOptions, SearchResult, by_image, by_text
from gateway.store.local import LocalImageStore
from tests.fakes import FakeMilvus, FakeTriton
from tests.unit.images import shade_jpeg


class PretrainedTriton(FakeTriton):
    """Triton holding the published weights of every model."""

    async def provenance(self, spec: TritonModelSpec) -> str:
        return "pretrained:published"


def backends_with(tmp_path: Path, triton: FakeTriton) -> Backends:
    settings = Settings.model_validate({"models": {"enabled": ["clip", "vgg16"]}})
    return Backends.create(settings, triton, FakeMilvus(), LocalImageStore(tmp_path / "store"))


def http_notice(backends: Backends, result: SearchResult) -> str | None:
    notice: str | None = json.loads(bytes(http_response(backends, result).body))["notice"]
    return notice


def test_text_search_on_random_clip_says_it_needs_pretrained_weights_and_how(
    tmp_path: Path,
) -> None:
    backends = backends_with(tmp_path, FakeTriton())
    result = asyncio.run(by_text(backends, "a cat on a sofa", 5, SearchOptions()))

    assert result.random_weights
    notice = result.notice or ""
    assert "Text search needs CLIP's pretrained weights" in notice
    assert "these results do not match your words" in notice
    assert "`make models WEIGHTS=pretrained`" in notice
    assert "`pic-search models build --weights clip=PATH`" in notice
    assert "clip_vit_base_patch32" in notice  # what PATH must hold
    assert "docs/weights.md" in notice
    # Both APIs carry the same words.
    assert http_notice(backends, result) == notice
    assert grpc_response(result).notice == notice


def test_image_search_on_random_weights_says_only_near_copies_are_found(
    tmp_path: Path,
) -> None:
    backends = backends_with(tmp_path, FakeTriton())
    result = asyncio.run(by_image(backends, shade_jpeg(40), "vgg16", 5, SearchOptions()))

    notice = result.notice or ""
    assert notice.startswith("VGG16 has seeded random weights")
    assert "copies and near-copies" in notice
    assert "`make models WEIGHTS=pretrained`" in notice
    assert "--weights vgg16=PATH" in notice
    assert "Text search" not in notice
    assert http_notice(backends, result) == notice
    assert grpc_response(result).notice == notice


@pytest.mark.parametrize("search", ["text", "image"])
def test_searches_on_pretrained_weights_carry_no_notice(tmp_path: Path, search: str) -> None:
    backends = backends_with(tmp_path, PretrainedTriton())
    if search == "text":
        result = asyncio.run(by_text(backends, "a cat on a sofa", 5, SearchOptions()))
    else:
        result = asyncio.run(by_image(backends, shade_jpeg(40), None, 5, SearchOptions()))

    assert not result.random_weights
    assert result.notice is None
    assert http_notice(backends, result) is None  # null in JSON, never absent
    assert grpc_response(result).notice == ""  # proto3's "nothing to say"
