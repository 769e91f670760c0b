"""Every generated Triton config parses with Triton's protobuf and matches its SavedModel
and its ONNX file (inputs, outputs, dtypes, shapes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnx
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tritonclient.grpc import model_config_pb2 as mc

from gateway.export import cpu_runtimes, triton_config
from gateway.export.onnx_export import onnx_path
from gateway.export.repository import savedmodel_path
from gateway.models import spec as model_spec
from gateway.models.registry import triton_models
from gateway.models.spec import CpuRunner, TritonModelSpec

TRITON_MODELS = triton_models()

_TRITON_TO_TF = {mc.TYPE_UINT8: tf.uint8, mc.TYPE_INT32: tf.int32, mc.TYPE_FP32: tf.float32}
_TRITON_TO_ONNX = {
    mc.TYPE_UINT8: onnx.TensorProto.UINT8,
    mc.TYPE_INT32: onnx.TensorProto.INT32,
    mc.TYPE_FP32: onnx.TensorProto.FLOAT,
}
CASES = [(spec, variant) for spec in TRITON_MODELS for variant in triton_config.VARIANT_PATHS]


@dataclass(frozen=True)
class Signed:
    """A tensor of the SavedModel's `serving_default` signature, as saved_model.pb declares it."""

    dtype: tf.DType
    shape: list[int | None]


def _signed(info: Any) -> Signed:
    dims = [None if d.size == -1 else d.size for d in info.tensor_shape.dim]
    return Signed(tf.as_dtype(info.dtype), dims)


@pytest.fixture(scope="module")
def signatures(test_models: Path) -> dict[str, tuple[dict[str, Signed], dict[str, Signed]]]:
    """Each model's (inputs, outputs), read from saved_model.pb: what a loaded signature
    reports, without restoring gigabytes of variables."""
    read = {}
    for spec in TRITON_MODELS:
        saved = saved_model_pb2.SavedModel()
        saved.ParseFromString((savedmodel_path(test_models, spec) / "saved_model.pb").read_bytes())
        [graph] = saved.meta_graphs
        signature = graph.signature_def["serving_default"]
        read[spec.name] = (
            {name: _signed(info) for name, info in signature.inputs.items()},
            {name: _signed(info) for name, info in signature.outputs.items()},
        )
    return read


@pytest.mark.parametrize(("spec", "variant"), CASES, ids=lambda c: getattr(c, "name", c))
def test_every_config_matches_the_savedmodel_signature(
    spec: TritonModelSpec,
    variant: triton_config.Variant,
    test_models: Path,
    signatures: dict[str, tuple[dict[str, Signed], dict[str, Signed]]],
) -> None:
    text = (test_models / spec.name / triton_config.VARIANT_PATHS[variant]).read_text()
    config = triton_config.parse(text)
    inputs, outputs = signatures[spec.name]

    assert config.name == spec.name
    assert [i.name for i in config.input] == list(inputs)
    # The embedding first, then a label head's probabilities (the signature's order is TF's);
    # a declared head is served only with a real classifier's weights (VGG16, ResNet50 and
    # EfficientNetV2-S are random in the test build).
    provenance = config.parameters[triton_config.PROVENANCE_PARAMETER].string_value
    served = replace(spec, labels=None) if model_spec.is_random(provenance) else spec
    assert [o.name for o in config.output] == [o.name for o in served.outputs]
    assert sorted(o.name for o in config.output) == sorted(outputs)
    for tensor in config.input:
        assert _TRITON_TO_TF[tensor.data_type] == inputs[tensor.name].dtype
        # Triton's dims exclude the batch dimension, which the signature leaves open, as
        # it leaves open a variable dim (-1: clip_text's length).
        assert [None, *(None if d == -1 else d for d in tensor.dims)] == inputs[tensor.name].shape
    for tensor in config.output:
        assert _TRITON_TO_TF[tensor.data_type] == outputs[tensor.name].dtype
        assert [None, *tensor.dims] == outputs[tensor.name].shape
    assert config.max_batch_size == spec.batching.max_batch_size > 0
    # Nothing waits for a fuller batch: what arrives while a batch runs is batched next.
    assert config.dynamic_batching.max_queue_delay_microseconds == 0
    # The test build's weights: seeded random, but EfficientNet-Lite0's packaged real ones.
    assert provenance.startswith("pretrained:" if spec.name == "efficientnet_lite0" else "random:")
    assert len(config.model_warmup) == 1


@pytest.mark.parametrize("spec", TRITON_MODELS, ids=lambda s: s.name)
def test_the_onnx_config_matches_the_onnx_file_tensor_for_tensor(
    spec: TritonModelSpec, test_models: Path
) -> None:
    config = triton_config.parse((test_models / spec.name / "configs/onnx.pbtxt").read_text())
    model = onnx.load(onnx_path(savedmodel_path(test_models, spec)), load_external_data=False)
    for configured, declared in (
        (config.input, model.graph.input),
        (config.output, model.graph.output),
    ):
        assert [t.name for t in configured] == [t.name for t in declared]
        for tensor, value in zip(configured, declared, strict=True):
            shape = value.type.tensor_type.shape.dim
            assert value.type.tensor_type.elem_type == _TRITON_TO_ONNX[tensor.data_type]
            # Batch first and open (a named dimension), then exactly the config's dims
            # (open where the config says -1).
            assert shape[0].dim_value == 0
            assert [d.dim_value for d in shape[1:]] == [max(d, 0) for d in tensor.dims]


def test_the_onnx_config_serves_the_onnx_file_on_gpu_with_tensorrt_at_fp32(
    test_models: Path,
) -> None:
    for spec in TRITON_MODELS:
        config = triton_config.parse((test_models / spec.name / "configs/onnx.pbtxt").read_text())
        # The stock image's ONNX Runtime backend; model.onnx is its default file name.
        assert config.platform == "onnxruntime_onnx" and not config.backend
        assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU
        (tensorrt,) = config.optimization.execution_accelerators.gpu_execution_accelerator
        assert tensorrt.name == "tensorrt"
        assert tensorrt.parameters["precision_mode"] == "FP32"
        assert not (test_models / spec.name / "config.pbtxt").exists()


def test_tensorrt_runs_fp16_only_when_the_build_asks_for_it() -> None:
    spec = TRITON_MODELS[0]
    options = triton_config.ServingOptions(tensorrt_fp16=True)
    config = triton_config.build_config(spec, "onnx", "random:seed=1", options)
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert accelerator.parameters["precision_mode"] == "FP16"
    assert triton_config.parse(triton_config.render(config)) == config


def test_the_cpu_config_runs_the_python_backend_on_cpu_with_its_runner(test_models: Path) -> None:
    for spec in TRITON_MODELS:
        config = triton_config.parse((test_models / spec.name / "configs/cpu.pbtxt").read_text())
        assert config.backend == "python"
        assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU
        for copied in ("model.py", "cpu_runtimes.py", "model.onnx"):
            assert (test_models / spec.name / "1" / copied).exists()
        # The registry's runner (fp32 where the CPU lacks its precision), or the build's
        # measured choice (a text tower's may be ONNX Runtime); either way the one
        # provenance.json records.
        runtime = config.parameters[model_spec.RUNTIME_PARAMETER].string_value
        precision = config.parameters[model_spec.PRECISION_PARAMETER].string_value
        runner = json.loads((test_models / spec.name / "1/provenance.json").read_text())
        assert (runtime, precision) == (
            runner["cpu_runner"]["runtime"],
            runner["cpu_runner"]["precision"],
        )
        chosen = runner["cpu_runner"]["chosen_by"] == "measured"
        assert runtime == spec.cpu.runtime or chosen, spec.name
        assert precision in {"fp32", spec.cpu.precision} or chosen, spec.name


@pytest.mark.parametrize(
    ("asked", "lacking", "having"),
    [
        (CpuRunner("openvino", "bf16"), frozenset({"avx2", "avx512_vnni"}), {"amx_bf16"}),
        (CpuRunner("onnxruntime", "int8"), frozenset({"avx2", "avx512_bf16"}), {"avx_vnni"}),
        (CpuRunner("openvino", "int8"), frozenset({"avx512f"}), {"amx_int8"}),
    ],
    ids=lambda v: str(sorted(v) if isinstance(v, frozenset | set) else v),  # stable across runs
)
def test_the_cpu_config_says_fp32_where_the_cpu_lacks_the_precision_asked_for(
    asked: CpuRunner, lacking: frozenset[str], having: set[str]
) -> None:
    """The config is what `/v1/stats` reports: it must name what will really run."""
    spec = TRITON_MODELS[0]
    precisions = {}
    for name, flags in (("lacking", lacking), ("having", frozenset(having))):
        options = triton_config.ServingOptions(cpu_runners=((spec.name, asked),), cpu_flags=flags)
        config = triton_config.build_config(spec, "cpu", "random:seed=1", options)
        precisions[name] = config.parameters[model_spec.PRECISION_PARAMETER].string_value
    assert precisions == {"lacking": "fp32", "having": asked.precision}


def test_the_runner_reads_the_parameter_names_the_gateway_reads() -> None:
    assert cpu_runtimes.RUNTIME_PARAMETER == model_spec.RUNTIME_PARAMETER
    assert cpu_runtimes.PRECISION_PARAMETER == model_spec.PRECISION_PARAMETER
    assert cpu_runtimes.RUNTIMES == ("tensorflow", "onnxruntime", "openvino")


def test_all_configs_of_a_model_share_one_dynamic_batching_block(test_models: Path) -> None:
    for spec in TRITON_MODELS:
        blocks = {
            triton_config.parse(
                (test_models / spec.name / path).read_text()
            ).dynamic_batching.SerializeToString()
            for path in triton_config.VARIANT_PATHS.values()
        }
        assert len(blocks) == 1
