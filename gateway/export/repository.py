"""Writes a Triton model repository for every model in the spec.

Layout per model: `<name>/config.pbtxt`, `<name>/configs/{cpu,gpu}.pbtxt`,
`<name>/1/model.savedmodel/`, `<name>/1/model.py` (Python backend), `<name>/1/provenance.json`,
and for `clip_text` the tokenizer files under `<name>/tokenizer/`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import tensorflow as tf

from gateway.export import networks, triton_config
from gateway.export.weights import WeightsSource
from gateway.models import clip_tokenizer
from gateway.models.spec import CLIP_IMAGE, CLIP_TEXT, TRITON_MODELS, VGG16, TritonModelSpec

_TF_DTYPES = {"UINT8": tf.uint8, "INT32": tf.int32, "FP32": tf.float32}
PYTHON_MODEL = Path(__file__).with_name("triton_python_model.py")


def savedmodel_path(repository: Path, spec: TritonModelSpec) -> Path:
    return repository / spec.name / "1" / "model.savedmodel"


def save_savedmodel(net: networks.BuiltNetwork, spec: TritonModelSpec, path: Path) -> None:
    """Export `net` with a `serving_default` signature named after the spec's tensors."""
    signature = tf.TensorSpec(
        [None, *spec.input.dims], _TF_DTYPES[spec.input.dtype], spec.input.name
    )
    module = tf.Module()
    module.layers = net.keras_model
    module.serve = tf.function(
        lambda x: {spec.output.name: net.embed(x)}, input_signature=[signature]
    )
    # Write next to the target, then swap, so a crash never leaves half a model behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=".staging-"))
    tf.saved_model.save(module, str(staging), signatures={"serving_default": module.serve})
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)


def write_model(repository: Path, spec: TritonModelSpec, net: networks.BuiltNetwork) -> None:
    save_savedmodel(net, spec, savedmodel_path(repository, spec))
    model_dir = repository / spec.name
    for variant, relative in triton_config.VARIANT_PATHS.items():
        target = model_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            triton_config.render(triton_config.build_config(spec, variant, net.provenance))
        )
    shutil.copyfile(PYTHON_MODEL, model_dir / "1" / "model.py")
    (model_dir / "1" / "provenance.json").write_text(
        json.dumps({"model": spec.name, "weights": net.provenance}, indent=2) + "\n"
    )
    if spec == CLIP_TEXT:
        # Clients that call Triton directly tokenize with the same files the gateway ships.
        clip_tokenizer.write_assets(model_dir / "tokenizer")


def build_repository(
    repository: Path,
    vgg16: WeightsSource,
    clip: WeightsSource,
    models: Iterable[str] | None = None,
    log: Callable[[str], None] = print,
) -> None:
    wanted = set(models) if models is not None else {m.name for m in TRITON_MODELS}
    repository.mkdir(parents=True, exist_ok=True)
    if VGG16.name in wanted:
        log(f"building {VGG16.name} ({vgg16.kind} weights)")
        write_model(repository, VGG16, networks.build_vgg16(vgg16))
    if wanted & {CLIP_IMAGE.name, CLIP_TEXT.name}:
        log(f"building CLIP ViT-B/32 ({clip.kind} weights)")
        backbone, provenance = networks.load_clip(clip)
        image_tower, text_tower = networks.clip_towers(backbone, provenance)
        for spec, net in ((CLIP_IMAGE, image_tower), (CLIP_TEXT, text_tower)):
            if spec.name in wanted:
                log(f"writing {spec.name}")
                write_model(repository, spec, net)
    log(f"model repository ready at {repository}")


def load_signature(repository: Path, spec: TritonModelSpec) -> Any:
    """The exported `serving_default` signature, for in-process reference calls."""
    return tf.saved_model.load(str(savedmodel_path(repository, spec))).signatures["serving_default"]
