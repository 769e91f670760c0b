"""CLIP ViT-B/32 (keras-hub): an image tower and a text tower, each with its projection."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from gateway.export.networks import BuiltNetwork, normalise
from gateway.export.weights import WeightsSource, WeightsUnavailableError
from gateway.models.registry import CLIP

# OpenAI CLIP's normalisation constants (on 0..1 RGB).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_PRESET = "clip_vit_base_patch32"


def build(source: WeightsSource) -> dict[str, BuiltNetwork]:
    backbone, provenance = load_clip(source)
    image_tower, text_tower = clip_towers(backbone, provenance)
    assert CLIP.text_model is not None
    return {CLIP.image_model.name: image_tower, CLIP.text_model.name: text_tower}


def clip_vit_b32_random(seed: int) -> Any:
    """CLIP ViT-B/32 with OpenAI's architecture and seeded random weights."""
    import keras_hub

    keras.utils.set_random_seed(seed)
    vision = keras_hub.models.CLIPVisionEncoder(
        patch_size=32,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        intermediate_dim=3072,
        intermediate_activation="quick_gelu",
        image_shape=(224, 224, 3),
    )
    text = keras_hub.models.CLIPTextEncoder(
        vocabulary_size=49408,
        embedding_dim=512,
        hidden_dim=512,
        num_layers=12,
        num_heads=8,
        intermediate_dim=2048,
        intermediate_activation="quick_gelu",
        max_sequence_length=77,
    )
    return keras_hub.models.CLIPBackbone(
        vision_encoder=vision, text_encoder=text, projection_dim=512
    )


def load_clip(source: WeightsSource) -> tuple[Any, str]:
    """The CLIP backbone for `source`, and its provenance."""
    import keras_hub

    provenance = source.provenance(CLIP.pretrained.published)
    if source.kind == "random":
        return clip_vit_b32_random(source.seed), provenance
    if source.kind == "file" and source.path is not None and source.path.is_file():
        backbone = clip_vit_b32_random(source.seed)
        backbone.load_weights(str(source.path))
        return backbone, provenance
    preset = CLIP_PRESET if source.kind == "pretrained" else str(source.path)
    try:
        return keras_hub.models.CLIPBackbone.from_preset(preset), provenance
    except Exception as exc:  # kagglehub raises a variety of network errors
        raise WeightsUnavailableError(
            f"could not load the CLIP preset {preset!r}: {exc}. Without internet, download the "
            "keras-hub preset folder elsewhere and pass it with --weights clip=PATH, "
            "or use --weights clip=random."
        ) from exc


def clip_towers(backbone: Any, provenance: str) -> tuple[BuiltNetwork, BuiltNetwork]:
    """Split CLIP into its image tower and its text tower, each with its projection."""
    mean = tf.constant(CLIP_MEAN, tf.float32)
    std = tf.constant(CLIP_STD, tf.float32)

    def embed_images(images: tf.Tensor) -> tf.Tensor:
        x = (tf.cast(images, tf.float32) / 255.0 - mean) / std
        return normalise(backbone.get_vision_embeddings(x))

    def embed_text(input_ids: tf.Tensor) -> tf.Tensor:
        # CLIP pools at the end-of-text token, found as the argmax id (it is the largest).
        return normalise(backbone.get_text_embeddings(input_ids))

    # Track only each tower's own layers, so each SavedModel holds only its own weights.
    image_layers = [backbone.vision_encoder, backbone.vision_pooler, backbone.vision_projection]
    text_layers = [backbone.text_encoder, backbone.text_pooler, backbone.text_projection]
    return (
        BuiltNetwork(embed_images, image_layers, provenance),
        BuiltNetwork(embed_text, text_layers, provenance),
    )
