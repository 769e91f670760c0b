"""Writes a Triton model repository for the registry models asked for.

Layout per model: `<name>/configs/{onnx,cpu}.pbtxt`, `<name>/1/model.savedmodel/` (the
source of truth), `<name>/1/model.onnx` (converted from it), `<name>/1/model.int8.onnx`
(quantized from that, only where the CPU runner asks for int8), `<name>/1/model.py` with
`cpu_runtimes.py` (the Python-backend CPU runner), `<name>/1/provenance.json`, and for
`clip_text` the tokenizer files under `<name>/tokenizer/`.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import tensorflow as tf

from gateway.export import copy_threshold, cpu_runtimes, triton_config
from gateway.export.int8_export import export_int8
from gateway.export.networks import BuiltNetwork
from gateway.export.onnx_export import export_onnx
from gateway.export.runner_choice import choose_runner, choose_text_runner, image_tower
from gateway.export.weights import WeightsSource, WeightsUnavailableError
from gateway.models import clip_tokenizer
from gateway.models.registry import CLIP, REGISTRY, search_models
from gateway.models.spec import SearchModel, TritonModelSpec, is_random

_TF_DTYPES = {"UINT8": tf.uint8, "INT32": tf.int32, "FP32": tf.float32}
PYTHON_MODEL = Path(__file__).with_name("triton_python_model.py")
# What earlier builds wrote for the TensorFlow backend and TensorFlow-in-Python on GPU.
_RETIRED_CONFIGS = ("config.pbtxt", "configs/gpu.pbtxt")


def savedmodel_path(repository: Path, spec: TritonModelSpec) -> Path:
    return repository / spec.name / "1" / "model.savedmodel"


def save_savedmodel(net: BuiltNetwork, spec: TritonModelSpec, path: Path) -> None:
    """Export `net` with a `serving_default` signature named after the spec's tensors."""
    dims = [None if d == -1 else d for d in spec.input.dims]  # -1: any length (clip_text)
    signature = tf.TensorSpec([None, *dims], _TF_DTYPES[spec.input.dtype], spec.input.name)
    module = tf.Module()
    module.layers = net.keras_model
    if (spec.labels is None) != (net.embed_with_labels is None):
        raise ValueError(f"{spec.name}: the registry and the builder disagree on a label head")

    def serve(x: tf.Tensor) -> dict[str, tf.Tensor]:
        if spec.labels is None or net.embed_with_labels is None:
            return {spec.output.name: net.embed(x)}
        embeddings, probabilities = net.embed_with_labels(x)
        return {spec.output.name: embeddings, spec.labels.name: probabilities}

    module.serve = tf.function(serve, input_signature=[signature])
    # Write next to the target, then swap, so a crash never leaves half a model behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=".staging-"))
    tf.saved_model.save(module, str(staging), signatures={"serving_default": module.serve})
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)


def served_spec(spec: TritonModelSpec, net: BuiltNetwork) -> TritonModelSpec:
    """The registry's spec as this build serves it: a label head only where the builder
    has a classifier's weights (real ones: spec.py)."""
    return replace(spec, labels=None) if net.embed_with_labels is None else spec


def write_model(
    repository: Path,
    spec: TritonModelSpec,
    net: BuiltNetwork,
    options: triton_config.ServingOptions = triton_config.ServingOptions(),
    log: Callable[[str], None] = print,
) -> None:
    savedmodel = savedmodel_path(repository, spec)
    save_savedmodel(net, spec, savedmodel)
    onnx_file = export_onnx(savedmodel, spec)
    runner: dict[str, Any] = {"chosen_by": "asked" if _asked(spec, options) else "registry"}
    image = _image_tower(repository, spec)
    if _measures_precision(spec, options, image):
        real, flags = not is_random(net.provenance), cpu_runtimes.cpu_flags()
        if image is None:
            chosen, trials = choose_runner(spec, savedmodel.parent, flags, log, real_weights=real)
        else:
            chosen, trials = choose_text_runner(
                spec, savedmodel.parent, image, flags, log, real_weights=real
            )
        options = replace(options, cpu_runners=(*options.cpu_runners, (spec.name, chosen)))
        runner = {"chosen_by": "measured", "trials": trials}
    # Asked for, not resolved: a repository built on a CPU without VNNI still ships the
    # file (its config says fp32 there) for the CPU it is deployed on.
    if options.cpu_runner(spec).precision != "int8":
        # A file quantized from earlier weights, or for a trial, must not outlive them.
        cpu_runtimes.onnx_path(savedmodel.parent, "int8").unlink(missing_ok=True)
    elif runner["chosen_by"] != "measured":  # the measurement's int8 trial wrote it
        export_int8(onnx_file, spec, savedmodel.parent)
    copies = None
    if spec.is_image_model:  # measured on these weights as served: export/copy_threshold.py
        # A reduced precision moves similarities a little: measure the one served, where it
        # runs (a build for another CPU's flags cannot run it here).
        served = triton_config.resolved_cpu_runner(spec, options)
        here = served.precision != "fp32" and options.cpu_flags is None
        copies = copy_threshold.measure(spec, savedmodel.parent, served if here else None)
        log(
            f"{spec.name} copy threshold: {copies.min_similarity} "
            f"(distinct photos up to {copies.distinct_max:.4f}, "
            f"copies found {copies.copy_recall:.0%})"
        )
        if copies.min_similarity is not None:
            options = replace(
                options,
                copy_thresholds=(*options.copy_thresholds, (spec.name, copies.min_similarity)),
            )
    model_dir = repository / spec.name
    write_configs(model_dir, spec, net.provenance, options)
    shutil.copyfile(PYTHON_MODEL, model_dir / "1" / "model.py")
    shutil.copyfile(cpu_runtimes.__file__, model_dir / "1" / "cpu_runtimes.py")
    runner |= asdict(triton_config.resolved_cpu_runner(spec, options))
    provenance = {"model": spec.name, "weights": net.provenance, "cpu_runner": runner}
    if copies is not None:
        provenance["copy_threshold"] = asdict(copies)
    (model_dir / "1" / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    if spec == CLIP.text_model:
        # Clients that call Triton directly tokenize with the same files the gateway ships.
        clip_tokenizer.write_assets(model_dir / "tokenizer")


def _asked(spec: TritonModelSpec, options: triton_config.ServingOptions) -> bool:
    return spec.name in dict(options.cpu_runners)


def _measures_precision(
    spec: TritonModelSpec,
    options: triton_config.ServingOptions,
    image: tuple[TritonModelSpec, Path] | None,
) -> bool:
    """Photos check an image model (real weights on every ranking, random ones on copy
    detection), and a text tower by what its queries find among them as its `image` tower,
    built first, serves them; only this machine's CPU can be measured here."""
    return (
        options.choose_precision
        and (spec.is_image_model or image is not None)
        and not _asked(spec, options)
        and options.cpu_flags is None
    )


def _image_tower(repository: Path, spec: TritonModelSpec) -> tuple[TritonModelSpec, Path] | None:
    """The built image tower that a text tower's queries search (None for an image model,
    or before its image tower is built)."""
    tower = image_tower(spec)
    if tower is None or not (repository / tower.name / triton_config.VARIANT_PATHS["cpu"]).exists():
        return None
    return tower, repository / tower.name


def write_configs(
    model_dir: Path,
    spec: TritonModelSpec,
    provenance: str,
    options: triton_config.ServingOptions = triton_config.ServingOptions(),
) -> None:
    for variant, relative in triton_config.VARIANT_PATHS.items():
        target = model_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        config = triton_config.build_config(spec, variant, provenance, options)
        target.write_text(triton_config.render(config))
    for retired in _RETIRED_CONFIGS:
        (model_dir / retired).unlink(missing_ok=True)


def build_repository(
    repository: Path,
    weights: Mapping[str, WeightsSource],
    default: WeightsSource,
    models: Iterable[str],
    log: Callable[[str], None] = print,
    options: triton_config.ServingOptions = triton_config.ServingOptions(),
    jobs: int = 1,
) -> dict[str, str]:
    """Export the registry models `models`, each with `weights[name]` (else `default`).

    `auto` weights mean pretrained where they can be had, seeded random otherwise (said
    loudly). With `jobs` > 1 that many models are built at once, each in a process of its
    own (`log` must then be picklable). Returns each Triton model's provenance.
    """
    repository.mkdir(parents=True, exist_ok=True)
    names = [model.name for model in search_models(models)]
    sources = [weights.get(name, default) for name in names]
    written: dict[str, str] = {}
    if jobs > 1 and len(names) > 1:
        # A SavedModel export or an ONNX conversion keeps about one core busy, and CLIP
        # alone takes as long as the other models together: two builds at once finish
        # the whole registry in ~3 minutes instead of ~5.5 on two cores.
        spawn = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
        with ProcessPoolExecutor(min(jobs, len(names)), mp_context=spawn) as pool:
            every = len(names)
            for provenance in pool.map(
                _write_registry_model,
                [repository] * every, names, sources, [options] * every, [log] * every,
            ):  # fmt: skip
                written.update(provenance)
    else:
        for name, source in zip(names, sources, strict=True):
            written.update(_write_registry_model(repository, name, source, options, log))
    log(f"model repository ready at {repository}")
    return written


def _write_registry_model(
    repository: Path,
    name: str,
    source: WeightsSource,
    options: triton_config.ServingOptions,
    log: Callable[[str], None],
) -> dict[str, str]:
    model = REGISTRY[name]
    networks = _build(model, source, log)
    for spec in model.triton_models:
        log(f"writing {spec.name} ({networks[spec.name].provenance})")
        write_model(repository, served_spec(spec, networks[spec.name]), networks[spec.name],
                    options, log)  # fmt: skip
    return {spec.name: networks[spec.name].provenance for spec in model.triton_models}


def _build(
    model: SearchModel, source: WeightsSource, log: Callable[[str], None]
) -> dict[str, BuiltNetwork]:
    builder = importlib.import_module(f"gateway.export.builders.{model.builder}")
    if source.kind != "auto":
        log(f"building {model.title} ({source.kind} weights)")
        built: dict[str, BuiltNetwork] = builder.build(source)
        return built
    try:
        log(f"building {model.title} (pretrained weights, if reachable)")
        built = builder.build(WeightsSource("pretrained", seed=source.seed))
    except WeightsUnavailableError as exc:
        log(f"*** {model.title}: pretrained weights unreachable ({exc})")
        log(f"*** {model.title}: using SEEDED RANDOM weights: it finds near-duplicates only.")
        built = builder.build(WeightsSource("random", seed=source.seed))
    return built


def load_signature(repository: Path, spec: TritonModelSpec) -> Any:
    """The exported `serving_default` signature, for in-process reference calls."""
    return tf.saved_model.load(str(savedmodel_path(repository, spec))).signatures["serving_default"]
