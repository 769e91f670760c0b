"""DINOv2 ViT-S/14 (keras-hub): the normalised CLS token, 384-d.

Pretrained weights come from the Hugging Face checkpoint `facebook/dinov2-small`, which
keras-hub converts, where the internet is reachable; seeded random otherwise.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from gateway.export.networks import BuiltNetwork, normalise
from gateway.export.weights import WeightsSource, WeightsUnavailableError
from gateway.models.registry import DINOV2_SMALL

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HF_CHECKPOINT = "hf://facebook/dinov2-small"


def dinov2_small_random(seed: int) -> Any:
    """ViT-S/14 with DINOv2's architecture (22 M parameters) and seeded random weights."""
    import keras_hub

    keras.utils.set_random_seed(seed)
    return keras_hub.models.DINOV2Backbone(
        patch_size=14,
        num_layers=12,
        hidden_dim=384,
        num_heads=6,
        intermediate_dim=1536,
        image_shape=(224, 224, 3),
        position_embedding_shape=(518, 518, 3),
    )


def _load(source: WeightsSource) -> Any:
    import keras_hub

    if source.kind == "random":
        return dinov2_small_random(source.seed)
    checkpoint = HF_CHECKPOINT if source.kind == "pretrained" else str(source.path)
    try:
        return keras_hub.models.DINOV2Backbone.from_preset(checkpoint, image_shape=(224, 224, 3))
    except Exception as exc:  # the hub raises a variety of network errors
        raise WeightsUnavailableError(
            f"could not load DINOv2 {checkpoint!r}: {exc}. Without internet, pass a local "
            "keras-hub preset folder with --weights dinov2_small=PATH, or use "
            "--weights dinov2_small=random."
        ) from exc


def build(source: WeightsSource) -> dict[str, BuiltNetwork]:
    backbone = _load(source)
    mean = tf.constant(IMAGENET_MEAN, tf.float32)
    std = tf.constant(IMAGENET_STD, tf.float32)

    def embed(images: tf.Tensor) -> tf.Tensor:
        x = (tf.cast(images, tf.float32) / 255.0 - mean) / std
        return normalise(backbone({"images": x}, training=False)[:, 0])

    provenance = source.provenance(DINOV2_SMALL.pretrained.published)
    return {DINOV2_SMALL.image_model.name: BuiltNetwork(embed, backbone, provenance)}
