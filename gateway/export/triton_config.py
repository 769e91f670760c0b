"""Triton `config.pbtxt` files, generated from the model spec (never hand-edited).

Built with Triton's own protobuf (`model_config_pb2`), so a config that parses here parses
in the server. Two variants share one `dynamic_batching` block:
- `configs/onnx.pbtxt`: `model.onnx` on the GPU with Triton's ONNX Runtime backend and the
  TensorRT accelerator (fp32, or fp16 when asked), served by the stock current Triton image
  (`--model-config-name=onnx`; Compose and Kubernetes);
- `configs/cpu.pbtxt`: the Python-backend runner on CPU (local stack, tests, benchmarks,
  CPU containers; `--model-config-name=cpu`), its runtime and precision as parameters.
Both record the weights provenance and, where bench chose one for those weights, the
`cutoff=auto` threshold (export/cutoff_rules.py) in `parameters`, where the gateway reads them.
The TensorFlow backend's `config.pbtxt` is gone with the backend (last shipped in 25.02).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from gateway.export import cpu_runtimes
from gateway.models.spec import (
    COPY_PARAMETER,
    CUTOFF_PARAMETER,
    PRECISION_PARAMETER,
    PROVENANCE_PARAMETER,
    RUNTIME_PARAMETER,
    CpuRunner,
    TritonModelSpec,
)

Variant = Literal["onnx", "cpu"]
VARIANT_PATHS: dict[Variant, str] = {
    "onnx": "configs/onnx.pbtxt",
    "cpu": "configs/cpu.pbtxt",
}
__all__ = ["PROVENANCE_PARAMETER", "ServingOptions", "build_config", "parse", "render"]


@dataclass(frozen=True)
class ServingOptions:
    """Choices of the one building the repository, beyond what the registry says."""

    # TensorRT's fp16 on the GPU: about twice fp32's speed; check the rankings before use.
    tensorrt_fp16: bool = False
    # Per Triton model: a CPU runner other than the registry's (`--cpu-runner`).
    cpu_runners: tuple[tuple[str, CpuRunner], ...] = ()
    # The CPU the CPU config is for (None: this machine's), deciding what precision runs.
    cpu_flags: frozenset[str] | None = None
    # Image models with real weights and no runner asked for: measure each precision this
    # CPU offers at build and take the fastest that keeps the rankings (runner_choice.py).
    choose_precision: bool = False
    # (fingerprint, min_score): the `cutoff=auto` rules bench chose (export/cutoff_rules.py).
    cutoffs: tuple[tuple[str, float], ...] = ()
    # (Triton model, min similarity): copy thresholds measured at build (export/copy_threshold.py).
    copy_thresholds: tuple[tuple[str, float], ...] = ()

    def cpu_runner(self, spec: TritonModelSpec) -> CpuRunner:
        return dict(self.cpu_runners).get(spec.name, spec.cpu)


_DTYPES = {"UINT8": mc.TYPE_UINT8, "INT32": mc.TYPE_INT32, "FP32": mc.TYPE_FP32}


def build_config(
    spec: TritonModelSpec,
    variant: Variant,
    provenance: str,
    options: ServingOptions = ServingOptions(),
) -> mc.ModelConfig:
    config = mc.ModelConfig(name=spec.name, max_batch_size=spec.batching.max_batch_size)
    if variant == "onnx":
        config.platform = "onnxruntime_onnx"
        _tensorrt(config, spec, fp16=options.tensorrt_fp16)
        config.parameters[RUNTIME_PARAMETER].string_value = "onnxruntime+tensorrt"
        config.parameters[PRECISION_PARAMETER].string_value = (
            "fp16" if options.tensorrt_fp16 else "fp32"
        )
    else:
        config.backend = "python"
        _cpu_runner(config, spec, options)
    model_input = config.input.add(
        name=spec.input.name, data_type=_DTYPES[spec.input.dtype], dims=spec.input.dims
    )
    # The CPU runner pads a batch of different lengths to its longest (causal text towers
    # ignore what follows the end token), so requests of any length batch together there.
    # ONNX Runtime's backend cannot: it batches requests of equal shape only.
    model_input.allow_ragged_batch = variant == "cpu" and spec.input.is_variable
    for output in spec.outputs:  # the embedding, then a label head's probabilities
        config.output.add(name=output.name, data_type=_DTYPES[output.dtype], dims=output.dims)
    # No queue delay (Triton's default, 0): with one instance, what arrives while a batch
    # runs (tens of ms on a CPU) is batched next anyway, and ingest sends its images as one
    # call a turn; waiting 5 ms for more cost a lone search a fifth of its time (mixed
    # benchmark, 2 cores: one client's idle p50 21-22 against 25-27 ms, 46-47 against 37-40
    # searches/s).
    config.dynamic_batching.preferred_batch_size.extend(spec.batching.preferred_batch_sizes)
    # No priority levels. Ingest's model calls take turns in the gateway, so a model's queue
    # holds at most `triton.ingest_calls` ingest requests (one by default) ahead of a search;
    # and with levels, Triton's batcher stranded a search in an idle model's queue until the
    # next request came (or its idle wait, 0.5 s): 3 of 1,126 searches held 170-180 ms while
    # 2 clients uploaded, 22 with no queue delay, none without levels (Triton traces; the
    # text tower did the same before).
    kind = mc.ModelInstanceGroup.KIND_CPU if variant == "cpu" else mc.ModelInstanceGroup.KIND_GPU
    config.instance_group.add(count=1, kind=kind)
    # One zero-filled request at load time, so the first user does not pay graph tracing.
    warmup = config.model_warmup.add(name=f"{spec.name}_zeros", batch_size=1)
    warmup.inputs[spec.input.name].CopyFrom(
        mc.ModelWarmup.Input(
            data_type=_DTYPES[spec.input.dtype], dims=spec.input.largest, zero_data=True
        )
    )
    config.parameters[PROVENANCE_PARAMETER].string_value = provenance
    # Only for the exact weights the threshold was chosen on: other weights score otherwise.
    cutoff = dict(options.cutoffs).get(f"{spec.name}@{provenance}")
    if cutoff is not None:
        config.parameters[CUTOFF_PARAMETER].string_value = repr(cutoff)
    copies = dict(options.copy_thresholds).get(spec.name)
    if copies is not None:
        config.parameters[COPY_PARAMETER].string_value = repr(copies)
    return config


# The token count TensorRT tunes a variable-length text model for: most queries are a few
# words (a handful of BPE tokens plus start and end); longer ones still run, a little slower.
TYPICAL_QUERY_TOKENS = 16


def optimization_profile(spec: TritonModelSpec) -> dict[str, str]:
    """TensorRT's one optimization profile: every batch size the dynamic batcher forms, every
    length up to the maximum, tuned for the first preferred batch at a typical length.

    Without it TensorRT builds an engine for the first shape it sees and rebuilds (seconds
    to minutes) whenever a batch falls outside it."""
    batching = spec.batching
    opt_batch = min(batching.preferred_batch_sizes, default=batching.max_batch_size)
    typical = tuple(
        min(TYPICAL_QUERY_TOKENS, most) if dim == -1 else dim
        for dim, most in zip(spec.input.dims, spec.input.largest, strict=True)
    )
    smallest = tuple(1 if dim == -1 else dim for dim in spec.input.dims)

    def shape(batch: int, dims: tuple[int, ...]) -> str:
        return f"{spec.input.name}:" + "x".join(str(d) for d in (batch, *dims))

    return {
        "trt_profile_min_shapes": shape(1, smallest),
        "trt_profile_opt_shapes": shape(opt_batch, typical),
        "trt_profile_max_shapes": shape(batching.max_batch_size, spec.input.largest),
    }


def _tensorrt(config: mc.ModelConfig, spec: TritonModelSpec, fp16: bool) -> None:
    # ONNX Runtime hands TensorRT the graph it can run and keeps the rest on CUDA.
    tensorrt = config.optimization.execution_accelerators.gpu_execution_accelerator.add(
        name="tensorrt"
    )
    tensorrt.parameters.update(optimization_profile(spec))
    tensorrt.parameters["precision_mode"] = "FP16" if fp16 else "FP32"
    tensorrt.parameters["max_workspace_size_bytes"] = str(1 << 30)
    # Engines are built on first load; caching them beside nothing would rebuild on restart.
    tensorrt.parameters["trt_engine_cache_enable"] = "true"
    tensorrt.parameters["trt_engine_cache_path"] = "/tmp/triton-trt-cache"


def resolved_cpu_runner(
    spec: TritonModelSpec, options: ServingOptions = ServingOptions()
) -> CpuRunner:
    """The runner the CPU config asks for: the registry's (or an override), at a precision
    the CPU offers. The config says what really runs there, so `/v1/stats` tells the truth."""
    runner = options.cpu_runner(spec)
    flags = cpu_runtimes.cpu_flags() if options.cpu_flags is None else options.cpu_flags
    precision, _ = cpu_runtimes.resolve_precision(runner.runtime, runner.precision, flags)
    return CpuRunner(runner.runtime, precision)


def _cpu_runner(config: mc.ModelConfig, spec: TritonModelSpec, options: ServingOptions) -> None:
    runner = resolved_cpu_runner(spec, options)
    config.parameters[RUNTIME_PARAMETER].string_value = runner.runtime
    config.parameters[PRECISION_PARAMETER].string_value = runner.precision


def built_cpu_runner(model_dir: Path) -> CpuRunner:
    """What a built model's CPU config asks for (the build may have measured it)."""
    config = parse((model_dir / VARIANT_PATHS["cpu"]).read_text())
    return CpuRunner(
        cpu_runtimes.parse_runtime(config.parameters[RUNTIME_PARAMETER].string_value),
        cpu_runtimes.parse_precision(config.parameters[PRECISION_PARAMETER].string_value),
    )


def render(config: mc.ModelConfig) -> str:
    header = "# Generated by `pic-search models build` from gateway/models/spec.py; do not edit.\n"
    return header + str(text_format.MessageToString(config))


def parse(text: str) -> mc.ModelConfig:
    return text_format.Parse(text, mc.ModelConfig())
