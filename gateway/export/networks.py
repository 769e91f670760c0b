"""What every builder returns: a Keras network ready to export, with its provenance.

Each builder (`gateway/export/builders/<name>.py`, named by the model's registry entry)
exposes `build(source) -> {triton model name: BuiltNetwork}`. `embed` maps the model's raw
input tensor (uint8 pixels or int32 token ids) to L2-normalised embeddings, so
preprocessing lives inside the exported graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

Embed = Callable[[tf.Tensor], tf.Tensor]


@dataclass
class BuiltNetwork:
    """A network ready to export: `embed` maps raw inputs to unit-norm embeddings."""

    embed: Embed
    keras_model: Any  # the layers whose variables the SavedModel must hold
    provenance: str


def normalise(x: tf.Tensor) -> tf.Tensor:
    return tf.math.l2_normalize(x, axis=-1)
