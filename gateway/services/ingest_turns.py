"""Ingest's model calls take turns, and the images that wait for a turn share it.

On a CPU one Triton call already uses every core, so ingest (uploads, the gRPC stream,
reindex, repair) runs `triton.ingest_calls` model calls at once and searches, which never
take a turn, do not share the cores with a pile of them. One-image uploads then reach Triton
one image per call, and its dynamic batcher has nothing to batch. So the calls for one model
(and one set of outputs) that wait for a turn go together, as one batch, when it comes: eight
uploaders cost one call per model per turn, not eight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gateway.clients.base import Embedder
from gateway.models.spec import TritonModelSpec

Arrays = Sequence[npt.NDArray[np.float32]]  # each output, one row per input row
_Run = Callable[[npt.NDArray[np.generic]], Awaitable[Arrays]]


@dataclass
class _Turn:
    """The calls for one key that wait for the next turn: their rows and their answers."""

    rows: list[npt.NDArray[np.generic]] = field(default_factory=list)
    answers: list[asyncio.Future[Arrays]] = field(default_factory=list)


class IngestTurns:
    """One per event loop (a semaphore belongs to the loop it first waited in)."""

    def __init__(self, triton: Embedder, slots: int) -> None:
        self._triton = triton
        self._slots = asyncio.Semaphore(slots)
        self._waiting: dict[tuple[str, bool], _Turn] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def embed(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> npt.NDArray[np.float32]:
        async def run(rows: npt.NDArray[np.generic]) -> Arrays:
            return [await self._triton.embed(spec, rows)]

        (embeddings,) = await self._call((spec.name, False), batch, run)
        return embeddings

    async def embed_with_labels(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        async def run(rows: npt.NDArray[np.generic]) -> Arrays:
            return await self._triton.embed_with_labels(spec, rows)

        embeddings, probabilities = await self._call((spec.name, True), batch, run)
        return embeddings, probabilities

    async def _call(
        self, key: tuple[str, bool], batch: npt.NDArray[np.generic], run: _Run
    ) -> Arrays:
        answer: asyncio.Future[Arrays] = asyncio.get_running_loop().create_future()
        turn = self._waiting.get(key)
        if turn is None:  # the first to wait for this key asks for the turn, for all of them
            turn = self._waiting[key] = _Turn()
            task = asyncio.get_running_loop().create_task(self._send(key, run))
            self._sending.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(self._sending.discard)
        turn.rows.append(batch)
        turn.answers.append(answer)
        return await answer

    async def _send(self, key: tuple[str, bool], run: _Run) -> None:
        wanted: list[tuple[npt.NDArray[np.generic], asyncio.Future[Arrays]]] = []
        try:
            async with self._slots:
                turn = self._waiting.pop(key)  # later calls wait for the next turn
                wanted = [
                    (rows, answer)
                    for rows, answer in zip(turn.rows, turn.answers, strict=True)
                    if not answer.done()  # a caller cancelled while it waited
                ]
                if wanted:
                    outputs = await run(np.concatenate([rows for rows, _ in wanted]))
                    start = 0
                    for rows, answer in wanted:
                        answer.set_result([output[start : start + len(rows)] for output in outputs])
                        start += len(rows)
        except Exception as exc:  # every call of the turn fails as the turn did
            for _, answer in wanted:
                if not answer.done():
                    answer.set_exception(exc)
        finally:  # cancelled (the gateway stopping): so are the calls that waited on it
            for _, answer in wanted:
                answer.cancel()
