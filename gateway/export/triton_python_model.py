"""Triton Python-backend model: the CPU runner of every model of the repository.

The exporter copies this file to `<model>/1/model.py` and `cpu_runtimes.py` beside it. The
config's parameters choose the runtime (OpenVINO or ONNX Runtime on `model.onnx`, or on the
calibrated `model.int8.onnx` at int8; TensorFlow on `model.savedmodel`) and the precision; a
precision this CPU does not offer falls back to fp32, said in the log. Triton's dynamic
batcher hands `execute` the queued requests without stacking them, so we concatenate their
inputs (ragged ones padded to the longest), run once, and split the rows back in order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by Triton's Python backend

# The helper sits beside this file in the model repository (Triton has no `gateway` package).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu_runtimes


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.input_name = config["input"][0]["name"]
        # The embedding, and a label head's probabilities where the model has one.
        self.output_names = tuple(str(output["name"]) for output in config["output"])
        parameters = config.get("parameters", {})

        def parameter(key: str, default: str) -> str:
            return str(parameters.get(key, {}).get("string_value", default))

        runtime = cpu_runtimes.parse_runtime(
            parameter(cpu_runtimes.RUNTIME_PARAMETER, "tensorflow")
        )
        asked = cpu_runtimes.parse_precision(parameter(cpu_runtimes.PRECISION_PARAMETER, "fp32"))
        precision, fallback = cpu_runtimes.resolve_precision(
            runtime, asked, cpu_runtimes.cpu_flags()
        )
        if fallback:
            pb_utils.Logger.log_warn(f"{config['name']}: {fallback}")
        version_dir = Path(args["model_repository"]) / args["model_version"]
        self.run = cpu_runtimes.load_outputs_runner(
            runtime, precision, version_dir, self.input_name, self.output_names
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = [
            pb_utils.get_input_tensor_by_name(r, self.input_name).as_numpy() for r in requests
        ]
        outputs = self.run(cpu_runtimes.stack_ragged(arrays))
        responses = []
        start = 0
        for array in arrays:
            tensors = [
                pb_utils.Tensor(
                    name, np.ascontiguousarray(rows[start : start + len(array)], np.float32)
                )
                for name, rows in zip(self.output_names, outputs, strict=True)
            ]
            start += len(array)
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses
