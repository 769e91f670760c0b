"""The model spec: the single place that names models, tensors, sizes and preprocessing.

The exporter, the Triton config generator, the gateway and the tests all read it, so adding
a model means adding one entry here (and its builder in `gateway/export/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EMBEDDING_DIM = 512
CLIP_CONTEXT_LENGTH = 77
# The Triton config parameter where the exporter records which weights a model holds.
PROVENANCE_PARAMETER = "weights_provenance"

TritonDType = Literal["UINT8", "INT32", "FP32"]
ResizePolicy = Literal["direct", "shortest_side_center_crop"]
Interpolation = Literal["bilinear", "bicubic"]


@dataclass(frozen=True)
class Tensor:
    """One Triton tensor; `dims` excludes the batch dimension."""

    name: str
    dtype: TritonDType
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ImagePreprocess:
    """How the gateway turns a decoded RGB image into the model's uint8 input."""

    size: int
    resize: ResizePolicy
    interpolation: Interpolation


@dataclass(frozen=True)
class Batching:
    """Triton's dynamic batcher settings, shared by every serving config of a model."""

    max_batch_size: int = 32
    preferred_batch_sizes: tuple[int, ...] = (8, 16, 32)
    max_queue_delay_microseconds: int = 5000


@dataclass(frozen=True)
class TritonModelSpec:
    """A model as Triton serves it."""

    name: str
    input: Tensor
    output: Tensor
    batching: Batching
    preprocess: ImagePreprocess | None  # None for text models

    @property
    def is_image_model(self) -> bool:
        return self.preprocess is not None


@dataclass(frozen=True)
class SearchModel:
    """A searchable embedding space: one Milvus collection, fed by an image model."""

    name: str  # public name used by the API: `model=clip`
    image_model: TritonModelSpec
    text_model: TritonModelSpec | None
    dim: int = EMBEDDING_DIM


_IMAGE_INPUT = Tensor("images", "UINT8", (224, 224, 3))
_EMBEDDING_OUTPUT = Tensor("embeddings", "FP32", (EMBEDDING_DIM,))

VGG16 = TritonModelSpec(
    name="vgg16",
    input=_IMAGE_INPUT,
    output=_EMBEDDING_OUTPUT,
    batching=Batching(),
    # Keras' `load_img(target_size=...)` resizes directly, ignoring aspect ratio.
    preprocess=ImagePreprocess(size=224, resize="direct", interpolation="bilinear"),
)
CLIP_IMAGE = TritonModelSpec(
    name="clip_image",
    input=_IMAGE_INPUT,
    output=_EMBEDDING_OUTPUT,
    batching=Batching(),
    # OpenAI CLIP: bicubic resize of the shortest side to 224, then a centre crop.
    preprocess=ImagePreprocess(
        size=224, resize="shortest_side_center_crop", interpolation="bicubic"
    ),
)
CLIP_TEXT = TritonModelSpec(
    name="clip_text",
    input=Tensor("input_ids", "INT32", (CLIP_CONTEXT_LENGTH,)),
    output=_EMBEDDING_OUTPUT,
    batching=Batching(max_batch_size=64, preferred_batch_sizes=(16, 64)),
    preprocess=None,
)

TRITON_MODELS: tuple[TritonModelSpec, ...] = (VGG16, CLIP_IMAGE, CLIP_TEXT)

SEARCH_MODELS: dict[str, SearchModel] = {
    "clip": SearchModel(name="clip", image_model=CLIP_IMAGE, text_model=CLIP_TEXT),
    "vgg16": SearchModel(name="vgg16", image_model=VGG16, text_model=None),
}
DEFAULT_SEARCH_MODEL = "clip"


def triton_model(name: str) -> TritonModelSpec:
    for spec in TRITON_MODELS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown Triton model {name!r}; known: {[m.name for m in TRITON_MODELS]}")
