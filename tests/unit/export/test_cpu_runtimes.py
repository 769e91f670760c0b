"""What the CPU runner offers on a CPU is decided by its flags; without bf16 (or VNNI for
int8) it runs fp32."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.models import parse_cpu_runners
from gateway.export import cpu_runtimes
from gateway.models.spec import CpuRunner

AVX2_ONLY = frozenset({"sse4_2", "avx2", "fma"})
ZEN5 = frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"})
SAPPHIRE_RAPIDS = frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_int8"})
# Alder Lake class: VNNI in its AVX2 form, no AVX-512, no bf16.
AVX_VNNI_ONLY = frozenset({"avx2", "fma", "avx_vnni"})
# Skylake server class: AVX-512 but neither VNNI nor bf16.
SKYLAKE_X = frozenset({"avx2", "avx512f", "avx512bw", "avx512vl"})


def test_bf16_is_offered_only_by_openvino_on_a_cpu_with_native_bf16() -> None:
    assert cpu_runtimes.offered_precisions("openvino", ZEN5) == ("fp32", "bf16", "int8")
    assert cpu_runtimes.offered_precisions("openvino", SAPPHIRE_RAPIDS) == ("fp32", "bf16", "int8")
    assert cpu_runtimes.offered_precisions("openvino", AVX2_ONLY) == ("fp32",)
    assert cpu_runtimes.offered_precisions("onnxruntime", ZEN5) == ("fp32", "int8")
    assert cpu_runtimes.offered_precisions("tensorflow", ZEN5) == ("fp32",)


def test_int8_is_offered_by_both_onnx_runtimes_on_any_vnni_or_amx_cpu() -> None:
    for flags in (ZEN5, SAPPHIRE_RAPIDS, AVX_VNNI_ONLY):
        for runtime in ("openvino", "onnxruntime"):
            assert "int8" in cpu_runtimes.offered_precisions(runtime, flags), (runtime, flags)
    assert cpu_runtimes.offered_precisions("openvino", AVX_VNNI_ONLY) == ("fp32", "int8")
    for flags in (AVX2_ONLY, SKYLAKE_X):
        assert cpu_runtimes.offered_precisions("onnxruntime", flags) == ("fp32",)
    assert "int8" not in cpu_runtimes.offered_precisions("tensorflow", SAPPHIRE_RAPIDS)


def test_a_reduced_precision_the_cpu_lacks_falls_back_to_fp32_and_says_why() -> None:
    precision, why = cpu_runtimes.resolve_precision("openvino", "bf16", AVX2_ONLY)
    assert precision == "fp32"
    assert why is not None and "bf16" in why and "avx512_bf16" in why
    assert cpu_runtimes.resolve_precision("openvino", "bf16", ZEN5) == ("bf16", None)
    assert cpu_runtimes.resolve_precision("onnxruntime", "fp32", AVX2_ONLY) == ("fp32", None)
    for runtime in ("openvino", "onnxruntime"):
        precision, why = cpu_runtimes.resolve_precision(runtime, "int8", SKYLAKE_X)
        assert precision == "fp32"
        assert why is not None and "int8" in why and "avx512_vnni" in why
        assert cpu_runtimes.resolve_precision(runtime, "int8", AVX_VNNI_ONLY) == ("int8", None)
    precision, why = cpu_runtimes.resolve_precision("tensorflow", "int8", ZEN5)
    assert precision == "fp32"
    assert why is not None and "tensorflow does not run it" in why


def test_int8_loads_the_calibrated_file_and_refuses_to_run_without_it(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"")  # only the fp32 file: int8 must not use it
    with pytest.raises(FileNotFoundError, match=r"model\.int8\.onnx is missing"):
        cpu_runtimes.load_runner("onnxruntime", "int8", tmp_path, "images", "embeddings")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n\nprocessor\t: 1\n")
    assert cpu_runtimes.cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_runtimes.cpu_flags(tmp_path / "missing") == frozenset()


def test_unknown_runtimes_and_precisions_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown CPU runtime 'tensorrt'"):
        cpu_runtimes.parse_runtime("tensorrt")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        cpu_runtimes.parse_precision("fp8")
    assert cpu_runtimes.parse_precision("bf16") == "bf16"
    assert cpu_runtimes.parse_precision("int8") == "int8"


def test_the_cli_takes_int8_for_image_models_and_the_text_tower() -> None:
    asked = ["efficientnet_lite0=onnxruntime:int8", "clip_text=onnxruntime:int8"]
    assert parse_cpu_runners(asked) == (
        ("efficientnet_lite0", CpuRunner("onnxruntime", "int8")),
        ("clip_text", CpuRunner("onnxruntime", "int8")),
    )
