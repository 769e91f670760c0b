"""Every generated Triton config parses with Triton's protobuf and matches its SavedModel."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf
from tritonclient.grpc import model_config_pb2 as mc

from gateway.export import triton_config
from gateway.export.repository import savedmodel_path
from gateway.models.registry import triton_models
from gateway.models.spec import TritonModelSpec

TRITON_MODELS = triton_models()

_TRITON_TO_TF = {mc.TYPE_UINT8: tf.uint8, mc.TYPE_INT32: tf.int32, mc.TYPE_FP32: tf.float32}
CASES = [(spec, variant) for spec in TRITON_MODELS for variant in triton_config.VARIANT_PATHS]


@pytest.fixture(scope="module")
def signatures(test_models: Path) -> dict[str, tf.types.experimental.ConcreteFunction]:
    return {
        spec.name: tf.saved_model.load(str(savedmodel_path(test_models, spec))).signatures[
            "serving_default"
        ]
        for spec in TRITON_MODELS
    }


@pytest.mark.parametrize(("spec", "variant"), CASES, ids=lambda c: getattr(c, "name", c))
def test_every_config_matches_the_savedmodel_signature(
    spec: TritonModelSpec,
    variant: triton_config.Variant,
    test_models: Path,
    signatures: dict[str, tf.types.experimental.ConcreteFunction],
) -> None:
    text = (test_models / spec.name / triton_config.VARIANT_PATHS[variant]).read_text()
    config = triton_config.parse(text)
    signature = signatures[spec.name]
    inputs = signature.structured_input_signature[1]
    outputs = signature.structured_outputs

    assert config.name == spec.name
    assert [i.name for i in config.input] == list(inputs)
    assert [o.name for o in config.output] == list(outputs)
    for tensor in config.input:
        assert _TRITON_TO_TF[tensor.data_type] == inputs[tensor.name].dtype
        # Triton's dims exclude the batch dimension, which the signature leaves open.
        assert [None, *tensor.dims] == inputs[tensor.name].shape.as_list()
    for tensor in config.output:
        assert _TRITON_TO_TF[tensor.data_type] == outputs[tensor.name].dtype
        assert [None, *tensor.dims] == outputs[tensor.name].shape.as_list()
    assert config.max_batch_size == spec.batching.max_batch_size > 0
    assert config.dynamic_batching.max_queue_delay_microseconds > 0
    provenance = config.parameters[triton_config.PROVENANCE_PARAMETER].string_value
    # The test build's weights: seeded random, but EfficientNet-Lite0's packaged real ones.
    assert provenance.startswith("pretrained:" if spec.name == "efficientnet_lite0" else "random:")
    assert len(config.model_warmup) == 1


def test_the_production_config_targets_the_native_tensorflow_backend_on_gpu(
    test_models: Path,
) -> None:
    for spec in TRITON_MODELS:
        config = triton_config.parse((test_models / spec.name / "config.pbtxt").read_text())
        assert config.platform == "tensorflow_savedmodel"
        assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU


def test_the_cpu_config_runs_the_python_backend_on_cpu(test_models: Path) -> None:
    for spec in TRITON_MODELS:
        config = triton_config.parse((test_models / spec.name / "configs/cpu.pbtxt").read_text())
        assert config.backend == "python"
        assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU
        assert (test_models / spec.name / "1" / "model.py").exists()


def test_all_configs_of_a_model_share_one_dynamic_batching_block(test_models: Path) -> None:
    for spec in TRITON_MODELS:
        blocks = {
            triton_config.parse(
                (test_models / spec.name / path).read_text()
            ).dynamic_batching.SerializeToString()
            for path in triton_config.VARIANT_PATHS.values()
        }
        assert len(blocks) == 1
