"""Triton Python-backend model: serves a model's SavedModel on CPU (or GPU).

The exporter copies this file to `<model>/1/model.py`. Triton's dynamic batcher hands
`execute` the queued requests without stacking them, so we concatenate their inputs, run
the SavedModel once, and split the rows back in order.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import tensorflow as tf
import triton_python_backend_utils as pb_utils  # provided by Triton's Python backend


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.input_name = config["input"][0]["name"]
        self.output_name = config["output"][0]["name"]
        path = os.path.join(args["model_repository"], args["model_version"], "model.savedmodel")
        self.signature = tf.saved_model.load(path).signatures["serving_default"]

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = [
            pb_utils.get_input_tensor_by_name(r, self.input_name).as_numpy() for r in requests
        ]
        batch = np.concatenate(arrays, axis=0)
        outputs = self.signature(**{self.input_name: tf.constant(batch)})[self.output_name].numpy()
        responses = []
        start = 0
        for array in arrays:
            rows = outputs[start : start + len(array)]
            start += len(array)
            tensor = pb_utils.Tensor(self.output_name, np.ascontiguousarray(rows, np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
        return responses
