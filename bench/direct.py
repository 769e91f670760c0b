"""The gateway's work without the gateway, for the benchmarks' "directly" baselines: the
same client libraries with the gateway's parameters, its `prepare_image` in a pool of the
gateway's size, Triton over gRPC and Milvus through pymilvus."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from pymilvus import MilvusClient
from tritonclient.grpc import InferInput
from tritonclient.grpc import aio as grpc_aio

from bench.common import Context
from gateway.config import Settings
from gateway.models.spec import TritonModelSpec
from gateway.preprocess import PreparedImage, prepare_image


class DirectClients:
    def __init__(self, ctx: Context, settings: Settings, io_threads: int = 32) -> None:
        self.triton = grpc_aio.InferenceServerClient(url=ctx.stack.triton_grpc)
        self.milvus = MilvusClient(uri=ctx.stack.milvus_uri)
        self.settings = settings
        self.cpu = ThreadPoolExecutor(settings.preprocess_pool_size())
        self.io = ThreadPoolExecutor(io_threads)  # pymilvus blocks, as in the gateway's pool

    async def close(self) -> None:
        await self.triton.close()
        self.milvus.close()
        self.cpu.shutdown()
        self.io.shutdown()

    async def prepare(
        self, photos: list[bytes], specs: list[TritonModelSpec], thumbnail: bool
    ) -> list[PreparedImage]:
        """As the gateway prepares uploads (with a thumbnail) or queries (without)."""
        loop = asyncio.get_running_loop()
        limits = self.settings.limits
        return await asyncio.gather(
            *(
                loop.run_in_executor(self.cpu, prepare_image, d, specs, limits, thumbnail)
                for d in photos
            )
        )

    async def embed(self, spec: TritonModelSpec, batch: np.ndarray) -> np.ndarray:
        tensor = InferInput(spec.input.name, list(batch.shape), spec.input.dtype)
        tensor.set_data_from_numpy(np.ascontiguousarray(batch))
        result = await self.triton.infer(spec.name, [tensor], client_timeout=600)
        return np.asarray(result.as_numpy(spec.output.name))

    async def search(self, collection: str, vector: np.ndarray, top_k: int) -> None:
        """A Milvus search as the gateway sends it (its ef, read level and fields)."""
        milvus = self.settings.milvus
        params = {"metric_type": "IP", "params": {"ef": max(milvus.search_ef, top_k)}}
        await asyncio.get_running_loop().run_in_executor(
            self.io,
            lambda: self.milvus.search(
                collection,
                data=[vector.tolist()],
                anns_field="embedding",
                limit=top_k,
                search_params=params,
                output_fields=["metadata", "created_at"],
                consistency_level=milvus.read_consistency,
            ),
        )
