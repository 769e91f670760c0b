"""Weight sources: checksums, the `auto` fallback and `--weights NAME=SOURCE`."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from gateway.cli.models import parse_weights
from gateway.export import repository
from gateway.export.weights import WeightsSource, WeightsUnavailableError, file_sha256, verified
from gateway.models.registry import VGG16


def test_a_weights_file_whose_checksum_differs_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "efficientnet-lite0-57934424.pth"
    fake.write_bytes(b"not the published weights")
    with pytest.raises(WeightsUnavailableError, match="sha256"):
        verified(fake, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")
    assert verified(fake, file_sha256(fake)) == fake
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        verified(tmp_path / "missing.pth", "0" * 64)


def test_weights_options_give_a_default_and_per_model_sources(tmp_path: Path) -> None:
    weights_file = tmp_path / "w.h5"
    weights_file.write_bytes(b"x")
    per_model, default = parse_weights(
        ["random", "efficientnet_lite0=pretrained", f"vgg16={weights_file}"], seed=3
    )
    assert default == WeightsSource("random", seed=3)
    assert per_model["efficientnet_lite0"].kind == "pretrained"
    assert per_model["vgg16"].path == weights_file.resolve()
    import typer

    with pytest.raises(typer.BadParameter, match="unknown model"):
        parse_weights(["resnet=random"], seed=3)


def test_auto_weights_fall_back_to_seeded_random_when_pretrained_are_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def build(source: WeightsSource) -> dict[str, object]:
        calls.append(source.kind)
        if source.kind == "pretrained":
            raise WeightsUnavailableError("no internet")
        return {"vgg16": source.provenance("x")}

    fake = types.ModuleType("gateway.export.builders.vgg16")
    fake.build = build  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gateway.export.builders.vgg16", fake)
    said: list[str] = []
    built = repository._build(VGG16, WeightsSource("auto", seed=5), said.append)
    assert calls == ["pretrained", "random"]
    assert built == {"vgg16": "random:seed=5"}  # type: ignore[comparison-overlap]
    assert any("SEEDED RANDOM" in line for line in said)
