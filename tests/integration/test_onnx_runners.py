"""Every model's ONNX file, run by the CPU runner at fp32 in the real Triton server with
either runtime, equals its SavedModel (the source of truth) called in-process; and
EfficientNet-Lite0 (the model with real weights) quantized to int8 by the exporter stays
close to it on real photos, with the config (what `/v1/stats` reports) saying int8."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tritonclient.grpc as grpcclient

from gateway.clients.base import ModelServing
from gateway.clients.triton import TritonClient
from gateway.config import TritonSettings
from gateway.export import cpu_runtimes
from gateway.export.derived import derived_repository, set_cpu_runner
from gateway.export.int8_export import calibration_inputs, export_int8
from gateway.export.repository import load_signature
from gateway.export.triton_config import ServingOptions, resolved_cpu_runner
from gateway.models.registry import EFFICIENTNET_LITE0, triton_models
from gateway.models.spec import CpuRunner, CpuRuntime, TritonModelSpec
from gateway.quality.labeled_set import labeled_images
from gateway.serving.process import free_port
from gateway.serving.triton import TritonPorts, triton_process
from tests.integration.conftest import RunningTriton
from tests.integration.test_triton_models import _grpc_infer, _inputs

RUNTIMES: tuple[CpuRuntime, ...] = ("onnxruntime", "openvino")
SPECS = triton_models()
# The bound for fp32: the same model in another runtime, up to summation order.
MAX_ABS_DIFF = 1e-4
INT8_SPEC = EFFICIENTNET_LITE0.image_model
# Measured on the 19 held-out photos below (2-core Xeon with AMX and AVX512_VNNI, both
# runtimes alike): int8 calibrated on the sample photos has a worst cosine to the fp32
# SavedModel of 0.945 and a mean of 0.983; calibrated on uniform noise, 0.81 and 0.945. The
# bounds sit between, leaving another CPU's rounding room.
MIN_INT8_COSINE = 0.92
MIN_INT8_MEAN_COSINE = 0.97


def _served(spec: TritonModelSpec, runtime: CpuRuntime) -> str:
    return f"{spec.name}__{runtime}"


def _served_int8(runtime: CpuRuntime) -> str:
    return f"{INT8_SPEC.name}__{runtime}_int8"


@pytest.fixture(scope="module")
def int8_source(test_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`test_models` (linked) with EfficientNet-Lite0's version folder rebuilt as links plus
    the int8 file the exporter writes for a model whose CPU runner asks for int8."""
    source = tmp_path_factory.mktemp("int8-source")
    for model in test_models.iterdir():
        if model.is_dir() and model.name != INT8_SPEC.name:
            (source / model.name).symlink_to(model.resolve())
    built = test_models / INT8_SPEC.name
    (source / INT8_SPEC.name / "1").mkdir(parents=True)
    (source / INT8_SPEC.name / "configs").symlink_to((built / "configs").resolve())
    for file in (built / "1").iterdir():
        (source / INT8_SPEC.name / "1" / file.name).symlink_to(file.resolve())
    export_int8(built / "1" / "model.onnx", INT8_SPEC, source / INT8_SPEC.name / "1")
    return source


@pytest.fixture(scope="module")
def cpu_runners_triton(
    int8_source: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningTriton]:
    workdir = tmp_path_factory.mktemp("onnx-runners")
    variants = {_served(s, r): (s.name, CpuRunner(r, "fp32")) for s in SPECS for r in RUNTIMES}
    for runtime in RUNTIMES:
        # Resolved as the build resolves it: the config names what this CPU will run.
        asked = ServingOptions(cpu_runners=((INT8_SPEC.name, CpuRunner(runtime, "int8")),))
        variants[_served_int8(runtime)] = (INT8_SPEC.name, resolved_cpu_runner(INT8_SPEC, asked))
    repository = derived_repository(
        int8_source,
        workdir / "repository",
        {served: name for served, (name, _) in variants.items()},
        lambda _, config: set_cpu_runner(config, variants[config.name][1]),
    )
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    with triton_process(repository, workdir, ports, list(variants)) as process:
        yield RunningTriton(process, ports)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_onnx_file_at_fp32_equals_the_savedmodel_in_both_runtimes(
    cpu_runners_triton: RunningTriton, test_models: Path, spec: TritonModelSpec
) -> None:
    batch = _inputs(spec, 2, seed=11)
    signature = load_signature(test_models, spec)
    expected = signature(**{spec.input.name: tf.constant(batch)})[spec.output.name].numpy()
    client = grpcclient.InferenceServerClient(cpu_runners_triton.grpc_url)
    for runtime in RUNTIMES:
        served = _served(spec, runtime)
        config = client.get_model_config(served).config
        assert config.parameters["runtime"].string_value == runtime
        got = _grpc_infer(cpu_runners_triton.grpc_url, replace(spec, name=served), batch)
        assert np.abs(got - expected).max() <= MAX_ABS_DIFF, runtime
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_efficientnet_lite0_at_int8_stays_close_to_its_savedmodel_on_real_photos(
    cpu_runners_triton: RunningTriton, test_models: Path
) -> None:
    # One tile of each photo and one face crop and non-face patch: real photos, prepared as
    # the gateway prepares uploads, none of them a calibration photo itself.
    held_out = {n: d for images in labeled_images(per_class=1).values() for n, d in images.items()}
    batch = np.stack(calibration_inputs(INT8_SPEC, held_out))
    signature = load_signature(test_models, INT8_SPEC)
    expected = signature(**{INT8_SPEC.input.name: tf.constant(batch)})[INT8_SPEC.output.name]
    flags = cpu_runtimes.cpu_flags()
    servings = asyncio.run(_servings(cpu_runners_triton.grpc_url, RUNTIMES))
    for runtime, serving in zip(RUNTIMES, servings, strict=True):
        served = replace(INT8_SPEC, name=_served_int8(runtime))
        offered = "int8" in cpu_runtimes.offered_precisions(runtime, flags)
        assert (serving.runtime, serving.precision) == (runtime, "int8" if offered else "fp32")
        got = _grpc_infer(cpu_runners_triton.grpc_url, served, batch)
        cosines = np.sum(got * expected.numpy(), axis=1)
        if offered:
            # The quantized file ran, not model.onnx: fp32 would match within 1e-4.
            assert np.abs(got - expected.numpy()).max() > MAX_ABS_DIFF, runtime
        assert cosines.min() >= MIN_INT8_COSINE, runtime
        assert cosines.mean() >= MIN_INT8_MEAN_COSINE, runtime


async def _servings(url: str, runtimes: tuple[CpuRuntime, ...]) -> list[ModelServing]:
    """What `/v1/stats` reports for each int8 variant, read by the gateway's own client."""
    triton = TritonClient(TritonSettings(url=url))
    try:
        return [await triton.serving(replace(INT8_SPEC, name=_served_int8(r))) for r in runtimes]
    finally:
        await triton.close()
