"""int8 quantization of a model's ONNX file: static for an image model, calibrated on real
photos; dynamic for a text tower.

Written only when a model's CPU runner asks for int8, or for the build's precision trial.
An image model: ONNX Runtime's `quant_pre_process` (shape inference and graph optimisation,
which its docs ask for before quantizing), then `quantize_static` in QDQ format, the form
both ONNX Runtime's CPU provider and OpenVINO read and run in int8. The activation ranges
come from the sample photos that ship with the project, prepared exactly as the gateway
prepares an upload: calibrating on noise would fit ranges no photo produces.

A text tower: `quantize_dynamic`, int8 weights with each batch's activation range measured
as it runs, ONNX Runtime's recommendation for transformers. It needs no calibration set
(there is no corpus of real queries to calibrate on), and a query of a few tokens is bound
by reading the weights, which int8 makes a quarter of fp32's.
https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)

from gateway.config import LimitSettings
from gateway.export.cpu_runtimes import INT8_ONNX, onnx_path
from gateway.models.spec import TritonModelSpec
from gateway.preprocess import prepare_image
from gateway.quality.samples import sample_photos


class PhotoCalibration(CalibrationDataReader):  # type: ignore[misc]  # ORT is untyped
    """The model's inputs for real photos, one photo per calibration step."""

    def __init__(self, spec: TritonModelSpec, photos: Mapping[str, bytes] | None = None) -> None:
        if not spec.is_image_model:
            raise ValueError(f"{spec.name} is not an image model: int8 calibrates on photos")
        self.spec = spec
        self.inputs = calibration_inputs(spec, sample_photos() if photos is None else photos)
        self._rows: Iterator[npt.NDArray[np.uint8]] = iter(self.inputs)

    def get_next(self) -> dict[str, npt.NDArray[np.uint8]] | None:
        row = next(self._rows, None)
        return None if row is None else {self.spec.input.name: row[np.newaxis]}

    def rewind(self) -> None:
        self._rows = iter(self.inputs)


def calibration_inputs(
    spec: TritonModelSpec, photos: Mapping[str, bytes]
) -> list[npt.NDArray[np.uint8]]:
    """`photos` (encoded files) as the gateway turns an upload into this model's input."""
    limits = LimitSettings()
    return [
        prepare_image(data, [spec], limits, thumbnail=False).inputs[spec.name]
        for data in photos.values()
    ]


def export_int8(onnx_file: Path, spec: TritonModelSpec, version_dir: Path) -> Path:
    """Quantize `onnx_file` into `version_dir/model.int8.onnx`; returns its path."""
    target = onnx_path(version_dir, "int8")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written next to the target and renamed, so a crash never leaves half a file behind.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".staging-") as staging:
        quantized = Path(staging) / INT8_ONNX
        if spec.is_image_model:
            _quantize_static(onnx_file.resolve(), spec, Path(staging).resolve(), quantized)
        else:
            # Per output channel, as the image models' weights; the embedding's normalisation
            # is no MatMul, so it stays fp32 here too.
            quantize_dynamic(
                onnx_file.resolve(),
                quantized,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul", "Gemm"],
            )
        # Private in a temporary directory; Triton's container user must read it.
        os.chmod(quantized, 0o644)
        os.replace(quantized, target)
    return target


def _quantize_static(source: Path, spec: TritonModelSpec, staging: Path, quantized: Path) -> None:
    """`source` quantized into `quantized` (QDQ), calibrated on the sample photos."""
    calibration = PhotoCalibration(spec)
    prepared = staging / "prepared.onnx"
    # In the staging folder: a failed symbolic shape inference saves its partial model
    # into the working directory. A build process exports one model at a time on one
    # thread (`--jobs` runs separate processes), so the chdir is safe.
    with contextlib.chdir(staging):
        try:
            quant_pre_process(str(source), str(prepared))
        except Exception:  # ORT raises a bare Exception ("Incomplete symbolic shape ...")
            # ORT's symbolic shape inference (meant for dynamic shapes) trips on VGG16's
            # and CLIP's graphs; ONNX's own shape inference and optimisation still run.
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(quantized),
        calibration,
        quant_format=QuantFormat.QDQ,
        # ORT's x86 recommendation: u8 activations with s8 weights (U8S8), per channel
        # for convolutions; VNNI has no u8*s8 saturation, so no reduce_range.
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=_kept_at_fp32(prepared),
    )


def _kept_at_fp32(model: Path) -> list[str]:
    """The output heads: the embedding's L2 normalisation (quantized, its rows' norms drift
    by up to 0.005, and search scores are inner products of unit vectors) and a label head's
    softmax (its probabilities must sum to 1). Cheap next to the network they end."""
    nodes = onnx.load(str(model), load_external_data=False).graph.node
    return [n.name for n in nodes if "l2_normalize" in n.name or n.op_type == "Softmax"]
