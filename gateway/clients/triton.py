"""Async Triton client: one gRPC channel, one batch per call, deadlines, typed errors."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.grpc import aio as grpc_aio
from tritonclient.utils import InferenceServerException

from gateway.clients.base import ModelServing
from gateway.clients.retry import with_retries
from gateway.config import TritonSettings
from gateway.errors import PicSearchError, TritonUnavailableError
from gateway.models.spec import (
    COPY_PARAMETER,
    CUTOFF_PARAMETER,
    PRECISION_PARAMETER,
    PROVENANCE_PARAMETER,
    RUNTIME_PARAMETER,
    Tensor,
    TritonModelSpec,
)

_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
# gRPC statuses that mean "Triton is not there right now", not "your request is wrong".
_TRANSIENT = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "UNKNOWN")


def _is_transient(exc: BaseException) -> bool:
    if not isinstance(exc, InferenceServerException):
        return False
    status = str(exc.status() or "")
    message = str(exc.message() or "")
    return any(code in status for code in _TRANSIENT) or "failed to connect" in message.lower()


class TritonClient:
    def __init__(self, settings: TritonSettings) -> None:
        self.settings = settings
        # One channel for the gateway's lifetime; gRPC multiplexes concurrent calls over it.
        # gRPC's reconnect backoff grows to two minutes by default: capped at two seconds,
        # the gateway is back within moments of Triton's return.
        self._client = grpc_aio.InferenceServerClient(url=settings.url, channel_args=_CHANNEL_ARGS)

    async def close(self) -> None:
        await self._client.close()

    async def embed(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> npt.NDArray[np.float32]:
        """Embeddings for every row of `batch`, in order (split to the model's max batch)."""
        (embeddings,) = await self._outputs(spec, batch, (spec.output,))
        return embeddings

    async def embed_with_labels(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Embeddings and the label head's class probabilities, from one inference."""
        if spec.labels is None:
            raise PicSearchError(f"{spec.name} has no label head")
        embeddings, probabilities = await self._outputs(spec, batch, (spec.output, spec.labels))
        return embeddings, probabilities

    async def _outputs(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic], outputs: tuple[Tensor, ...]
    ) -> list[npt.NDArray[np.float32]]:
        """Each of `outputs` for every row of `batch` (split to the model's max batch)."""
        step = spec.batching.max_batch_size
        parts = [
            await self._infer(spec, batch[i : i + step], outputs)
            for i in range(0, len(batch), step)
        ]
        if not parts:
            return [np.zeros((0, *o.dims), np.float32) for o in outputs]
        return [np.concatenate([p[n] for p in parts]) for n in range(len(outputs))]

    async def _infer(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic], outputs: tuple[Tensor, ...]
    ) -> list[npt.NDArray[np.float32]]:
        tensor = InferInput(spec.input.name, list(batch.shape), spec.input.dtype)
        tensor.set_data_from_numpy(np.ascontiguousarray(batch))
        # Only what is used: a label head's probabilities are 4 KB a row that search ignores.
        requested = [InferRequestedOutput(o.name) for o in outputs]

        async def call() -> list[npt.NDArray[np.float32]]:
            result = await self._client.infer(
                spec.name,
                [tensor],
                outputs=requested,
                client_timeout=self.settings.timeout_s,
            )
            arrays = []
            for wanted in outputs:
                output = result.as_numpy(wanted.name)
                if output is None or output.shape != (len(batch), *wanted.dims):
                    raise PicSearchError(f"Triton returned a malformed {spec.name} output")
                arrays.append(output.astype(np.float32, copy=False))
            return arrays

        try:
            return await with_retries(call, _is_transient, self.settings.timeout_s)
        except InferenceServerException as exc:
            raise self._unavailable(spec.name, exc) from exc

    async def models_ready(self, specs: list[TritonModelSpec]) -> bool:
        try:
            for spec in specs:
                if not await self._client.is_model_ready(spec.name, client_timeout=2.0):
                    return False
            return True
        except InferenceServerException:
            return False

    async def provenance(self, spec: TritonModelSpec) -> str:
        """The weights provenance recorded by the exporter in the model's config."""
        return (await self.serving(spec)).weights

    async def serving(self, spec: TritonModelSpec) -> ModelServing:
        """Weights, runtime and precision, as the exporter recorded them in the config."""
        try:
            response = await self._client.get_model_config(spec.name, client_timeout=5.0)
        except InferenceServerException as exc:
            raise self._unavailable(spec.name, exc) from exc
        parameters = response.config.parameters

        def value(key: str) -> str:
            return (
                str(parameters[key].string_value or "unknown") if key in parameters else "unknown"
            )

        cutoff = parameters[CUTOFF_PARAMETER].string_value if CUTOFF_PARAMETER in parameters else ""
        copies = parameters[COPY_PARAMETER].string_value if COPY_PARAMETER in parameters else ""
        return ModelServing(
            weights=value(PROVENANCE_PARAMETER),
            runtime=value(RUNTIME_PARAMETER),
            precision=value(PRECISION_PARAMETER),
            cutoff=float(cutoff) if cutoff else None,
            copy_threshold=float(copies) if copies else None,
            labels=spec.labels is not None
            and any(o.name == spec.labels.name for o in response.config.output),
        )

    def _unavailable(self, model: str, exc: InferenceServerException) -> PicSearchError:
        if _is_transient(exc):
            return TritonUnavailableError(
                f"Triton is unavailable ({model}): {exc.message()}",
                retry_after_s=self.settings.retry_after_s,
            )
        return PicSearchError(f"Triton rejected the {model} request: {exc.message()}")
