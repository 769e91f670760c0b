"""ONNX export of a model's SavedModel (the SavedModel stays the source of truth).

Triton dropped its TensorFlow backend after 25.02; current releases serve ONNX through the
ONNX Runtime backend, and the CPU runner executes the same file with OpenVINO or ONNX
Runtime. The conversion is tf2onnx's own `--saved-model` path (what its CLI does), run
in-process so one TensorFlow import serves every model of a build.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from tf2onnx import tf_loader, utils
from tf2onnx.convert import _convert_common
from tf2onnx.handler import tf_op

from gateway.models.spec import TritonModelSpec

# Opset 18 converts every registry model (checked) and ONNX Runtime >= 1.14, OpenVINO and
# Triton's onnxruntime backend since 23.x all read it.
OPSET = 18


@tf_op("Erfc")
class _Erfc:
    """tf2onnx 1.17 has no Erfc (Keras' exact GELU in DINOv2 uses it); ONNX has Erf, and
    erfc(x) = 1 - erf(x) loses nothing that matters inside GELU (x * erfc(-x / sqrt 2))."""

    @classmethod
    def version_9(cls, ctx: Any, node: Any, **kwargs: Any) -> None:
        dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
        erf = ctx.make_node("Erf", [node.input[0]]).output[0]
        one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype)).output[0]
        node.type = "Sub"
        ctx.replace_inputs(node, [one, erf])


def onnx_path(savedmodel: Path) -> Path:
    return savedmodel.with_name("model.onnx")


def export_onnx(savedmodel: Path, spec: TritonModelSpec) -> Path:
    """Convert `savedmodel`'s `serving_default` to `model.onnx` beside it; returns its path.

    Input and output keep the signature's names (`images`/`input_ids`, `embeddings`),
    which the Triton configs name too; a mismatch fails here, not at server start.
    """
    graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
        str(savedmodel),
        None,
        None,
        tag="serve",
        signatures=["serving_default"],
        return_initialized_tables=True,
        return_tensors_to_rename=True,
    )
    target = onnx_path(savedmodel)
    # Written next to the target and renamed, so a crash never leaves half a file behind.
    handle, staging = tempfile.mkstemp(dir=target.parent, prefix=".staging-", suffix=".onnx")
    os.close(handle)
    try:
        _convert_common(
            graph_def,
            name=str(savedmodel),
            opset=OPSET,
            input_names=inputs,
            output_names=outputs,
            tensors_to_rename=renames,
            initialized_tables=tables,
            output_path=staging,
        )
        # tf2onnx leaves ops it cannot convert in the graph; the checker refuses them.
        onnx.checker.check_model(staging)
        _check_names(onnx.load(staging, load_external_data=False), spec)
        # mkstemp makes it private; Triton's container user must read what a builder wrote.
        os.chmod(staging, 0o644)
        os.replace(staging, target)
    finally:
        Path(staging).unlink(missing_ok=True)
    return target


def _check_names(model: onnx.ModelProto, spec: TritonModelSpec) -> None:
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    expected = sorted(o.name for o in spec.outputs)
    if inputs != [spec.input.name] or sorted(outputs) != expected:
        raise ValueError(
            f"{spec.name}: ONNX tensors {inputs} -> {outputs}, "
            f"expected [{spec.input.name}] -> {expected}"
        )
