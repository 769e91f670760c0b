"""What every builder returns: a Keras network ready to export, with its provenance.

Each builder (`gateway/export/builders/<name>.py`, named by the model's registry entry)
exposes `build(source) -> {triton model name: BuiltNetwork}`. `embed` maps the model's raw
input tensor (uint8 pixels or int32 token ids) to L2-normalised embeddings, so
preprocessing lives inside the exported graph. A model with a label head also has
`embed_with_labels`, adding its classifier's probabilities from the same forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

Embed = Callable[[tf.Tensor], tf.Tensor]
EmbedWithLabels = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


@dataclass
class BuiltNetwork:
    """A network ready to export: `embed` maps raw inputs to unit-norm embeddings."""

    embed: Embed
    keras_model: Any  # the layers whose variables the SavedModel must hold
    provenance: str
    # For a model with a label head: raw inputs to (embeddings, class probabilities) in one
    # forward pass; the exported graph serves both outputs from it.
    embed_with_labels: EmbedWithLabels | None = None


def normalise(x: tf.Tensor) -> tf.Tensor:
    return tf.math.l2_normalize(x, axis=-1)
