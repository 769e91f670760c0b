"""The Makefile's own lists that mirror the registry stay in step with it."""

from __future__ import annotations

import re

from gateway.models.registry import DEFAULT_ENABLED, REGISTRY
from tests.conftest import ROOT


def test_the_test_build_asks_for_every_zoo_model_at_fp32_and_measures_the_defaults() -> None:
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^ZOO_MODELS := (.+)$", makefile, re.MULTILINE)
    assert listed, "ZOO_MODELS is defined"
    zoo = {m.image_model.name for m in REGISTRY.values() if m.name not in DEFAULT_ENABLED}
    assert set(listed.group(1).split()) == zoo
    recipe = makefile.split("$(STAMPS)/test-models:", 1)[1].split("\n\n", 1)[0]
    assert "--cpu-runner $(m)=openvino:fp32" in recipe and "$(ZOO_MODELS)" in recipe
