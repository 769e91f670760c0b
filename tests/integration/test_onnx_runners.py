"""Every model's ONNX file, run by the CPU runner at fp32 in the real Triton server with
either runtime, equals its SavedModel (the source of truth) called in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tritonclient.grpc as grpcclient

from gateway.export.derived import derived_repository, set_cpu_runner
from gateway.export.repository import load_signature
from gateway.models.registry import triton_models
from gateway.models.spec import CpuRunner, CpuRuntime, TritonModelSpec
from gateway.serving.process import free_port
from gateway.serving.triton import TritonPorts, triton_process
from tests.integration.conftest import RunningTriton
from tests.integration.test_triton_models import _grpc_infer, _inputs

RUNTIMES: tuple[CpuRuntime, ...] = ("onnxruntime", "openvino")
SPECS = triton_models()
# The bound for fp32: the same model in another runtime, up to summation order.
MAX_ABS_DIFF = 1e-4


def _served(spec: TritonModelSpec, runtime: CpuRuntime) -> str:
    return f"{spec.name}__{runtime}"


@pytest.fixture(scope="module")
def fp32_triton(
    test_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningTriton]:
    workdir = tmp_path_factory.mktemp("onnx-runners")
    variants = {_served(s, r): (s.name, r) for s in SPECS for r in RUNTIMES}
    repository = derived_repository(
        test_models,
        workdir / "repository",
        {served: name for served, (name, _) in variants.items()},
        lambda _, config: set_cpu_runner(config, CpuRunner(variants[config.name][1], "fp32")),
    )
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    with triton_process(repository, workdir, ports, list(variants)) as process:
        yield RunningTriton(process, ports)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_onnx_file_at_fp32_equals_the_savedmodel_in_both_runtimes(
    fp32_triton: RunningTriton, test_models: Path, spec: TritonModelSpec
) -> None:
    batch = _inputs(spec, 2, seed=11)
    signature = load_signature(test_models, spec)
    expected = signature(**{spec.input.name: tf.constant(batch)})[spec.output.name].numpy()
    client = grpcclient.InferenceServerClient(fp32_triton.grpc_url)
    for runtime in RUNTIMES:
        served = _served(spec, runtime)
        assert client.get_model_config(served).config.parameters["runtime"].string_value == runtime
        got = _grpc_infer(fp32_triton.grpc_url, replace(spec, name=served), batch)
        assert np.abs(got - expected).max() <= MAX_ABS_DIFF, runtime
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
