"""Ingest's model calls take turns, and the images that wait for a turn share it.

On a CPU one Triton call already uses every core, so ingest (uploads, the gRPC stream,
reindex, repair) runs `triton.ingest_calls` model calls at once and searches, which never
take a turn, do not share the cores with a pile of them. One-image uploads then reach Triton
one image per call, and its dynamic batcher has nothing to batch. So the calls for one model
(and one set of outputs) that wait for a turn go together, as one batch of up to MAX_ROWS,
when it comes: eight one-image uploaders cost two calls per model, not eight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gateway.clients.base import Embedder
from gateway.models.spec import TritonModelSpec

# Rows per turn: on a CPU most of batching's gain is had by 4 (CLIP's image tower: 69, 53, 45
# and 42 ms an image at 1, 2, 4 and 8, bench/results/batching.json), while a longer turn holds
# the cores longer against a search that arrives meanwhile. Measured on 2 cores (mixed
# benchmark) against 1 row a turn: searches while 2 clients upload p99 82-93 against 141 ms,
# ingest under 8 searchers 0.40-0.44 of its idle rate against 0.32; but searches while 8
# upload have a longer tail (p99 363-426 against 136 ms, p90 unchanged). A larger call
# (reindex's) is split, and its parts take turns.
MAX_ROWS = 4
Arrays = Sequence[npt.NDArray[np.float32]]  # each output, one row per input row
_Rows = npt.NDArray[np.generic]
_Run = Callable[[_Rows], Awaitable[Arrays]]


@dataclass
class _Turn:
    """The calls for one key that wait for the next turn: their rows and their answers."""

    rows: list[_Rows] = field(default_factory=list)
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
        loop = asyncio.get_running_loop()
        answers: list[asyncio.Future[Arrays]] = []
        for start in range(0, len(batch), MAX_ROWS):  # a larger call takes several turns
            answers.append(loop.create_future())
            self._join(key, batch[start : start + MAX_ROWS], answers[-1], run)
        if len(answers) == 1:
            return await answers[0]
        parts = await asyncio.gather(*answers)
        return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]

    def _join(
        self, key: tuple[str, bool], rows: _Rows, answer: asyncio.Future[Arrays], run: _Run
    ) -> None:
        """Into the key's next turn; the first to wait for it asks for the turn, for all."""
        turn = self._waiting.get(key)
        if turn is None:
            turn = self._waiting[key] = _Turn()
            task = asyncio.get_running_loop().create_task(self._send(key, run))
            self._sending.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(self._sending.discard)
        turn.rows.append(rows)
        turn.answers.append(answer)

    def _take(self, key: tuple[str, bool], run: _Run) -> list[tuple[_Rows, asyncio.Future[Arrays]]]:
        """The calls this turn runs: those that waited, up to MAX_ROWS rows; the rest wait for
        the key's next turn, and so do calls that arrive from now on."""
        turn = self._waiting.pop(key)
        waiting = [
            (rows, answer)
            for rows, answer in zip(turn.rows, turn.answers, strict=True)
            if not answer.done()  # a caller cancelled while it waited
        ]
        taken, total = 0, 0
        while taken < len(waiting) and total + len(waiting[taken][0]) <= MAX_ROWS:
            total += len(waiting[taken][0])
            taken += 1
        for rows, answer in waiting[taken:]:
            self._join(key, rows, answer, run)
        return waiting[:taken]

    async def _send(self, key: tuple[str, bool], run: _Run) -> None:
        wanted: list[tuple[_Rows, asyncio.Future[Arrays]]] = []
        try:
            async with self._slots:
                wanted = self._take(key, run)
                if wanted:
                    outputs = await run(np.concatenate([rows for rows, _ in wanted]))
                    start = 0
                    for rows, answer in wanted:
                        if not answer.done():  # its caller may have gone meanwhile
                            answer.set_result(
                                [output[start : start + len(rows)] for output in outputs]
                            )
                        start += len(rows)
        except Exception as exc:  # every call of the turn fails as the turn did
            for _, answer in wanted:
                if not answer.done():
                    answer.set_exception(exc)
        finally:  # cancelled (the gateway stopping): so are the calls that waited on it
            for _, answer in wanted:
                answer.cancel()
