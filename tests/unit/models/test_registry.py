"""The model registry: one entry per model, everything else derived from it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.export.weights import file_sha256, packaged_file
from gateway.models.registry import DEFAULT_ENABLED, REGISTRY, search_models, triton_models
from gateway.services.backends import Backends
from tests.fakes import fake_backends


def test_every_entry_names_an_existing_builder_and_its_own_dimension() -> None:
    for model in REGISTRY.values():
        assert importlib.util.find_spec(f"gateway.export.builders.{model.builder}"), model.name
        assert model.image_model.output.dims == (model.dim,)
        assert model.image_model.is_image_model
        if model.text_model is not None:
            assert model.text_model.output.dims == (model.dim,)
    dims = {m.name: m.dim for m in REGISTRY.values()}
    assert dims.items() >= {"vgg16": 512, "clip": 512, "efficientnet_lite0": 1280}.items()


def test_triton_model_names_are_unique_across_the_registry() -> None:
    names = [spec.name for spec in triton_models()]
    assert len(names) == len(set(names))
    assert [s.name for s in triton_models(["clip"])] == ["clip_image", "clip_text"]


def test_unknown_model_names_are_refused() -> None:
    with pytest.raises(KeyError, match="nope"):
        search_models(["clip", "nope"])
    assert set(DEFAULT_ENABLED) <= set(REGISTRY)


def test_the_packaged_efficientnet_lite0_weights_match_the_recorded_checksum() -> None:
    packaged = REGISTRY["efficientnet_lite0"].pretrained.packaged
    assert packaged is not None
    path = packaged_file(packaged)
    assert file_sha256(path) == packaged.sha256


def _backends(provenance: dict[str, str], tmp_path: Path) -> Backends:
    backends = fake_backends(tmp_path, Settings())
    backends.provenance = provenance
    return backends


def test_the_default_search_model_is_the_best_one_with_real_weights(tmp_path: Path) -> None:
    offline = _backends({
        "vgg16": "random:seed=1", "clip": "random:seed=1", "efficientnet_lite0": "pretrained:x",
    }, tmp_path)  # fmt: skip
    assert offline.default_model().name == "efficientnet_lite0"
    assert offline.random_weights(REGISTRY["clip"])
    online = _backends({m: "pretrained:x" for m in DEFAULT_ENABLED}, tmp_path)
    assert online.default_model().name == "clip"
    all_random = _backends({m: "random:seed=1" for m in DEFAULT_ENABLED}, tmp_path)
    assert all_random.default_model().name == "clip"
    assert all_random.text_model().name == "clip"


def test_a_model_that_is_not_enabled_is_an_unknown_model(tmp_path: Path) -> None:
    from gateway.errors import ValidationError

    backends = _backends({}, tmp_path)
    backends.models = [REGISTRY["vgg16"]]
    with pytest.raises(ValidationError) as caught:
        backends.model("clip")
    assert caught.value.code == "unknown_model"
    with pytest.raises(ValidationError):
        backends.text_model()


def test_the_gateway_never_imports_tensorflow_or_torch() -> None:
    # The gateway reads the registry, but the export tooling stays out of its process.
    code = (
        "import sys, gateway.api.app, gateway.cli.main, gateway.services.search; "
        "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
