"""Labeled retrieval through the HTTP API equals the in-process reference, and real
weights (EfficientNet-Lite0's) beat random ones by a wide margin."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gateway.config import LimitSettings
from gateway.export.repository import load_signature
from gateway.models.registry import REGISTRY
from gateway.quality.labeled import prepared_inputs, retrieval_metrics
from gateway.quality.labeled_set import labeled_images
from tests.integration.conftest import GatewayFactory

# Real weights, and seeded random ones (CLIP's image tower: a third of VGG16's compute).
MODELS = ("efficientnet_lite0", "clip")
K = 5


@pytest.fixture(scope="module")
def labeled() -> dict[str, dict[str, bytes]]:
    return labeled_images(per_class=6)  # 19 classes: 114 real photos


def _in_process(test_models: Path, labeled: dict[str, dict[str, bytes]]) -> dict[str, float]:
    specs = {name: REGISTRY[name].image_model for name in MODELS}
    inputs, labels, skipped = prepared_inputs(labeled, list(specs.values()), LimitSettings())
    assert not skipped
    precision = {}
    for name, spec in specs.items():
        signature = load_signature(test_models, spec)
        vectors = np.concatenate([
            signature(images=tf.constant(inputs[spec.name][i : i + 32]))["embeddings"].numpy()
            for i in range(0, len(labels), 32)
        ])  # fmt: skip
        precision[name], _ = retrieval_metrics(vectors, labels, K)
    return precision


def test_labeled_precision_at_5_through_the_api_equals_the_in_process_reference(
    gateway_factory: GatewayFactory, test_models: Path, labeled: dict[str, dict[str, bytes]]
) -> None:
    env = {"PIC_SEARCH_MODELS__ENABLED": ",".join(MODELS)}
    label_of: dict[str, str] = {}
    over_api: dict[str, float] = {}
    with gateway_factory("labeled", env) as gateway, gateway.client() as client:
        for label, images in labeled.items():
            files = [("files", (name, data, "image/jpeg")) for name, data in images.items()]
            response = client.post(
                "/v1/images", files=files, data={"metadata": json.dumps({"class": label})}
            )
            assert response.status_code == 201, response.text
            for result in response.json()["results"]:
                assert result["status"] == "created", result  # every photo distinct
                label_of[result["id"]] = label
        for model in MODELS:
            shares = []
            for image_id, label in label_of.items():
                body = client.get(
                    f"/v1/images/{image_id}/similar", params={"model": model, "top_k": K}
                ).json()
                hits = [hit["metadata"]["class"] for hit in body["results"]]
                assert len(hits) == K
                shares.append(sum(hit == label for hit in hits) / K)
            over_api[model] = float(np.mean(shares))

    reference = _in_process(test_models, labeled)
    for model in MODELS:
        assert over_api[model] == pytest.approx(reference[model], abs=0.01), model
    print(f"labeled P@{K} through the API: {over_api}; in-process: {reference}")
    assert over_api["efficientnet_lite0"] >= over_api["clip"] + 0.2
