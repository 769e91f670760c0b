"""Ingest's model calls take turns, and the images that wait for a turn share it.

On a CPU one Triton call already uses every core, so ingest (uploads, the gRPC stream,
reindex, repair) runs `triton.ingest_calls` model calls at once and searches, which never
take a turn, do not share the cores with a pile of them. One-image uploads then reach Triton
one image per call, and its dynamic batcher has nothing to batch. So the calls for one model
(and one set of outputs) that wait for a turn go together, as one batch of up to MAX_ROWS,
when it comes (gateway/shared_calls.py): eight one-image uploaders cost two calls per model,
not eight.
"""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import numpy.typing as npt

from gateway.clients.base import Embedder
from gateway.models.spec import TritonModelSpec
from gateway.shared_calls import SharedCalls

# Rows per turn: on a CPU most of batching's gain is had by 4 (CLIP's image tower: 69, 53, 45
# and 42 ms an image at 1, 2, 4 and 8, bench/results/batching.json), while a longer turn holds
# the cores longer against a search that arrives meanwhile. Measured on 2 cores (mixed
# benchmark, then 300 searches a cell) against 1 row a turn: searches while 2 clients upload
# p99 82-93 against 141 ms, ingest under 8 searchers 0.40-0.44 of its idle rate against
# 0.32; but searches while 8 upload had a longer tail (p99 363-426 against 136 ms, p90
# unchanged). A larger call (reindex's) is split, and its parts take turns.
MAX_ROWS = 4
_Rows = npt.NDArray[np.generic]
_Outputs = list[npt.NDArray[np.float32]]  # each output, one row per input row
_Key = tuple[TritonModelSpec, bool]  # the model, and whether its labels are wanted too


class IngestTurns:
    """One per event loop (a semaphore belongs to the loop it first waited in)."""

    def __init__(self, triton: Embedder, slots: int) -> None:
        self._triton = triton
        turn = asyncio.Semaphore(slots)  # one for every model's calls
        self._calls: SharedCalls[_Key, _Rows, _Outputs] = SharedCalls(
            self._run, most=MAX_ROWS, size=len, slot=lambda: turn, one_call_per_key=False
        )

    async def embed(self, spec: TritonModelSpec, batch: _Rows) -> npt.NDArray[np.float32]:
        (embeddings,) = await self._call((spec, False), batch)
        return embeddings

    async def embed_with_labels(
        self, spec: TritonModelSpec, batch: _Rows
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        embeddings, probabilities = await self._call((spec, True), batch)
        return embeddings, probabilities

    async def _call(self, key: _Key, batch: _Rows) -> _Outputs:
        # A larger call takes several turns; its parts join in order, before any runs.
        parts = [
            self._calls.submit(key, batch[i : i + MAX_ROWS]) for i in range(0, len(batch), MAX_ROWS)
        ]
        if len(parts) == 1:  # an upload's: no copy
            return await parts[0]
        answers = await asyncio.gather(*parts)
        return [np.concatenate(outputs) for outputs in zip(*answers, strict=True)]

    async def _run(self, key: _Key, parts: list[_Rows]) -> list[_Outputs]:
        """One Triton call for the parts of a turn; each part gets its own rows back."""
        spec, with_labels = key
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        outputs = (
            list(await self._triton.embed_with_labels(spec, rows))
            if with_labels
            else [await self._triton.embed(spec, rows)]
        )
        starts = np.cumsum([0, *map(len, parts)])
        return [[output[a:b] for output in outputs] for a, b in itertools.pairwise(starts)]
