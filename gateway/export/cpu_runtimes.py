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
Precision = Literal["fp32", "bf16", "int8"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
# Config parameter names; gateway/models/spec.py names the same ones for the gateway.
RUNTIME_PARAMETER = "runtime"
PRECISION_PARAMETER = "precision"
# Either instruction set runs bf16 matrix products natively; without them OpenVINO would
# emulate bf16 more slowly than fp32.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# VNNI's (or AMX's) int8 dot products are what make int8 fast; without them the u8*s8
# products take several instructions each and can saturate, so int8 is not worth it.
INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
# Each reduced precision: the runtimes that run it, and the CPU flags (any one) it needs.
# The one rule the exporter, the runner, the benchmark and the tests all read.
REDUCED_PRECISIONS: dict[Precision, tuple[frozenset[Runtime], frozenset[str]]] = {
    "bf16": (frozenset({"openvino"}), BF16_FLAGS),
    # Both read the statically quantized QDQ file; TensorFlow runs the SavedModel only.
    "int8": (frozenset({"openvino", "onnxruntime"}), INT8_FLAGS),
}
# The calibrated int8 file the exporter writes beside `model.onnx` when a model asks for it.
INT8_ONNX = "model.int8.onnx"
# OpenVINO's names. The hint is always set: on a bf16 CPU OpenVINO picks bf16 by itself.
# int8: the QDQ file's quantized convolutions run in int8 whatever the hint; f32 keeps the
# few operations left unquantized (pooling, the L2 norm) at full precision.
_OPENVINO_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}

Array = np.ndarray[Any, Any]
Runner = Callable[[Array], Array]
OutputsRunner = Callable[[Array], list[Array]]


def stack_ragged(arrays: list[Array]) -> Array:
    """One batch of the requests' rows. Requests of different lengths (`clip_text`, whose
    config allows ragged batches) are zero-padded to the longest: zeros after the end token
    change nothing in a causal text tower that pools at that token."""
    longest = tuple(max(sizes) for sizes in zip(*(a.shape[1:] for a in arrays), strict=True))
    padded = [
        a
        if a.shape[1:] == longest
        else np.pad(a, [(0, 0), *((0, n - m) for n, m in zip(longest, a.shape[1:], strict=True))])
        for a in arrays
    ]
    return np.concatenate(padded, axis=0)


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
    """What `runtime` can run on a CPU with `flags`: fp32 always, a reduced precision where
    the runtime runs it and the CPU has native support."""
    reduced = tuple(
        precision
        for precision, (runtimes, needed) in REDUCED_PRECISIONS.items()
        if runtime in runtimes and flags & needed
    )
    return ("fp32", *reduced)


def resolve_precision(
    runtime: Runtime, precision: Precision, flags: frozenset[str]
) -> tuple[Precision, str | None]:
    """The precision to run, and why it differs from the one asked for (None when not)."""
    if precision in offered_precisions(runtime, flags):
        return precision, None
    runtimes, needed = REDUCED_PRECISIONS[precision]
    why = (
        f"this CPU has none of {', '.join(sorted(needed))}"
        if runtime in runtimes
        else f"{runtime} does not run it"
    )
    return "fp32", f"{runtime} {precision} is not offered ({why}); running fp32"


def parse_runtime(text: str) -> Runtime:
    if text not in RUNTIMES:
        raise ValueError(f"unknown CPU runtime {text!r}; choose from {RUNTIMES}")
    return text


def parse_precision(text: str) -> Precision:
    if text not in PRECISIONS:
        raise ValueError(f"unknown precision {text!r}; choose from {PRECISIONS}")
    return text


def onnx_path(version_dir: Path, precision: Precision) -> Path:
    """The ONNX file a runner reads at `precision`: int8 has a quantized file of its own."""
    return version_dir / (INT8_ONNX if precision == "int8" else "model.onnx")


def load_runner(
    runtime: Runtime, precision: Precision, version_dir: Path, input_name: str, output_name: str
) -> Runner:
    """A function from one input batch to its output rows, for the model in `version_dir`."""
    run = load_outputs_runner(runtime, precision, version_dir, input_name, (output_name,))
    return lambda batch: run(batch)[0]


def load_outputs_runner(
    runtime: Runtime,
    precision: Precision,
    version_dir: Path,
    input_name: str,
    output_names: tuple[str, ...],
) -> OutputsRunner:
    """A function from one input batch to the rows of each of `output_names`, in that order:
    a model with a label head has two outputs from one forward pass."""
    if runtime == "tensorflow":
        return _tensorflow(version_dir / "model.savedmodel", input_name, output_names)
    onnx_file = onnx_path(version_dir, precision)
    if not onnx_file.exists():
        # Fail at load, by name: falling back to fp32 here would report int8 and run fp32.
        raise FileNotFoundError(
            f"{onnx_file} is missing: `pic-search models build` writes it for models whose "
            "CPU runner asks for int8"
        )
    if runtime == "onnxruntime":
        return _onnxruntime(onnx_file, input_name, output_names)
    return _openvino(onnx_file, _OPENVINO_PRECISION[precision], input_name, output_names)


def _tensorflow(path: Path, input_name: str, output_names: tuple[str, ...]) -> OutputsRunner:
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]

    def run(batch: Array) -> list[Array]:
        outputs = signature(**{input_name: tf.constant(batch)})
        return [np.asarray(outputs[name].numpy()) for name in output_names]

    return run


def _onnxruntime(path: Path, input_name: str, output_names: tuple[str, ...]) -> OutputsRunner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Its threads spin between the parallel parts of a run (fast), but not on after it: a
    # served model's spinning took a core from Milvus and the gateway between requests
    # (CLIP's text tower at fp32, one client: 31 against 24 ms of Triton CPU a query).
    options.add_session_config_entry("session.force_spinning_stop", "1")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(batch: Array) -> list[Array]:
        return [np.asarray(a) for a in session.run(list(output_names), {input_name: batch})]

    return run


def _openvino(
    path: Path, precision: str, input_name: str, output_names: tuple[str, ...]
) -> OutputsRunner:
    import openvino as ov

    # LATENCY: one execution at a time uses every core; the Python backend runs one batch
    # per instance at a time, so THROUGHPUT's parallel streams would sit idle.
    compiled = ov.Core().compile_model(
        str(path),
        "CPU",
        {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"},
    )
    request = compiled.create_infer_request()
    outputs = [compiled.output(name) for name in output_names]

    def run(batch: Array) -> list[Array]:
        # Copies: the request reuses its output buffers on the next call.
        result = request.infer({input_name: batch})
        return [np.array(result[output]) for output in outputs]

    return run
