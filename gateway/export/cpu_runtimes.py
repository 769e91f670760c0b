"""The runtimes the CPU runner can execute a model with, and the precisions this CPU offers.

The exporter copies this file beside `model.py` (the Python-backend runner), which imports
it from there: Triton's container has no `gateway` package. So it imports nothing of the
project, and the heavy runtimes only when a model asks for them. The exporter uses the
same rules to write into `configs/cpu.pbtxt` what the runner will really run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

Runtime = Literal["tensorflow", "onnxruntime", "openvino"]
Precision = Literal["fp32", "bf16"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
# Config parameter names; gateway/models/spec.py names the same ones for the gateway.
RUNTIME_PARAMETER = "runtime"
PRECISION_PARAMETER = "precision"
# Either instruction set runs bf16 matrix products natively; without them OpenVINO would
# emulate bf16 more slowly than fp32.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# OpenVINO's names. The hint is always set: on a bf16 CPU OpenVINO picks bf16 by itself.
_OPENVINO_PRECISION = {"fp32": "f32", "bf16": "bf16"}

Array = np.ndarray[Any, Any]
Runner = Callable[[Array], Array]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags of this machine's CPU (empty when unknown)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def offered_precisions(runtime: Runtime, flags: frozenset[str]) -> tuple[Precision, ...]:
    """What `runtime` can run on a CPU with `flags`: fp32 always, bf16 with native support."""
    if runtime == "openvino" and flags & BF16_FLAGS:
        return ("fp32", "bf16")
    return ("fp32",)


def resolve_precision(
    runtime: Runtime, precision: Precision, flags: frozenset[str]
) -> tuple[Precision, str | None]:
    """The precision to run, and why it differs from the one asked for (None when not)."""
    if precision in offered_precisions(runtime, flags):
        return precision, None
    return "fp32", f"{runtime} {precision} is not offered on this CPU; running fp32"


def parse_runtime(text: str) -> Runtime:
    if text not in RUNTIMES:
        raise ValueError(f"unknown CPU runtime {text!r}; choose from {RUNTIMES}")
    return text


def parse_precision(text: str) -> Precision:
    if text not in PRECISIONS:
        raise ValueError(f"unknown precision {text!r}; choose from {PRECISIONS}")
    return text


def load_runner(
    runtime: Runtime, precision: Precision, version_dir: Path, input_name: str, output_name: str
) -> Runner:
    """A function from one input batch to its output rows, for the model in `version_dir`."""
    if runtime == "tensorflow":
        return _tensorflow(version_dir / "model.savedmodel", input_name, output_name)
    if runtime == "onnxruntime":
        return _onnxruntime(version_dir / "model.onnx", input_name, output_name)
    return _openvino(version_dir / "model.onnx", _OPENVINO_PRECISION[precision], input_name)


def _tensorflow(path: Path, input_name: str, output_name: str) -> Runner:
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]

    def run(batch: Array) -> Array:
        return np.asarray(signature(**{input_name: tf.constant(batch)})[output_name].numpy())

    return run


def _onnxruntime(path: Path, input_name: str, output_name: str) -> Runner:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(batch: Array) -> Array:
        return np.asarray(session.run([output_name], {input_name: batch})[0])

    return run


def _openvino(path: Path, precision: str, input_name: str) -> Runner:
    import openvino as ov

    # LATENCY: one execution at a time uses every core; the Python backend runs one batch
    # per instance at a time, so THROUGHPUT's parallel streams would sit idle.
    compiled = ov.Core().compile_model(
        str(path),
        "CPU",
        {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"},
    )
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def run(batch: Array) -> Array:
        # A copy: the request reuses its output buffer on the next call.
        return np.array(request.infer({input_name: batch})[output])

    return run
