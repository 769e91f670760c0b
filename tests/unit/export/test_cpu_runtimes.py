"""What the CPU runner offers on a CPU is decided by its flags; without bf16 it runs fp32."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.export import cpu_runtimes

AVX2_ONLY = frozenset({"sse4_2", "avx2", "fma"})
ZEN5 = frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"})
SAPPHIRE_RAPIDS = frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_int8"})


def test_bf16_is_offered_only_by_openvino_on_a_cpu_with_native_bf16() -> None:
    assert cpu_runtimes.offered_precisions("openvino", ZEN5) == ("fp32", "bf16")
    assert cpu_runtimes.offered_precisions("openvino", SAPPHIRE_RAPIDS) == ("fp32", "bf16")
    assert cpu_runtimes.offered_precisions("openvino", AVX2_ONLY) == ("fp32",)
    assert cpu_runtimes.offered_precisions("onnxruntime", ZEN5) == ("fp32",)
    assert cpu_runtimes.offered_precisions("tensorflow", ZEN5) == ("fp32",)


def test_a_bf16_request_on_a_cpu_without_bf16_falls_back_to_fp32_and_says_why() -> None:
    precision, why = cpu_runtimes.resolve_precision("openvino", "bf16", AVX2_ONLY)
    assert precision == "fp32"
    assert why is not None and "bf16" in why
    assert cpu_runtimes.resolve_precision("openvino", "bf16", ZEN5) == ("bf16", None)
    assert cpu_runtimes.resolve_precision("onnxruntime", "fp32", AVX2_ONLY) == ("fp32", None)


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
