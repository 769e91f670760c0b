"""The connection to Milvus that the vector store's two ports share: a dedicated client,
every call in a worker thread with a deadline and retries, outages as 503 errors. pymilvus is
synchronous, so nothing here blocks the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException, ParamError

from gateway.clients.retry import with_retries
from gateway.clients.search_reads import SearchReads
from gateway.config import MilvusSettings
from gateway.errors import MilvusUnavailableError, PicSearchError

T = TypeVar("T")
NOT_LOADED = 101  # Milvus' "collection not loaded" error code
# Enough for every call a frozen server can hold while its deadlines pass (they return 503).
MILVUS_THREADS = 32


def _is_transient(exc: BaseException) -> bool:
    return not isinstance(exc, ParamError | PicSearchError)


class MilvusConnection:
    def __init__(self, settings: MilvusSettings) -> None:
        self.settings = settings
        self._client: MilvusClient | None = None
        self._connecting = threading.Lock()
        # Milvus Lite rewrites one aliases.json per change without a lock of its own: two
        # aliases created at once (collections are ensured concurrently) lost one and left
        # the file unreadable at its next start. Alias changes are rare, so they go one by one.
        self._alias_writes = threading.Lock()
        # Milvus calls block in threads of their own: a frozen server keeps each one until it
        # answers, and in the loop's default pool they would starve the image store's I/O.
        self._pool = ThreadPoolExecutor(MILVUS_THREADS, thread_name_prefix="milvus")
        # "Session": this gateway reads its own writes at once, without waiting for Milvus'
        # next time tick as "Strong" does (about 200 ms per search, measured by bench/).
        self._read_level = settings.read_consistency
        # pymilvus' session tracks inserts and upserts but not deletes: after a delete,
        # reads are Strong for a few seconds so a deleted image is never found again.
        self._strong_until = 0.0
        # Searches: read as of a moment ago, never a photo deleted here (search_reads.py).
        self._searches = SearchReads(settings.read_consistency, settings.search_staleness_s)
        # Collection or alias -> (schema version, when it was learnt).
        self._schemas: dict[str, tuple[int, float]] = {}

    # -- plumbing ---------------------------------------------------------------------------
    def _reads(self) -> dict[str, Any]:
        strong = time.monotonic() < self._strong_until
        return {"consistency_level": "Strong" if strong else self._read_level}

    def _connect(self) -> MilvusClient:
        with self._connecting:
            if self._client is None:
                # Dedicated: pymilvus otherwise shares one channel per URI across clients,
                # and _call() must be able to replace a broken one.
                self._client = MilvusClient(
                    uri=self.settings.uri,
                    token=self.settings.token.get_secret_value(),
                    timeout=self.settings.timeout_s,
                    dedicated=True,
                )
            return self._client

    def _call(self, work: Callable[[MilvusClient], T]) -> T:
        """Run `work` on the client (in a worker thread). After a connection failure the
        client is replaced: pymilvus does not always recover a channel that broke while
        the server restarted (measured: still failing 50 s after Milvus was back)."""
        client = self._connect()
        try:
            return work(client)
        except Exception as exc:
            if isinstance(exc, MilvusException) and exc.code == NOT_LOADED:
                self._load_ours(client)  # then retried by _run
            elif _is_transient(exc):
                with self._connecting:
                    if self._client is client:
                        self._client = None
                client.close()
            raise

    def _load_ours(self, client: MilvusClient) -> None:
        """A restarted Milvus Lite server forgets which collections were loaded."""
        for name in client.list_collections():
            if name.startswith(self.settings.collection_prefix):
                client.load_collection(name)

    async def _run(self, work: Callable[[MilvusClient], T]) -> T:
        async def attempt() -> T:
            # pymilvus has no deadline on most calls: a frozen server would block forever.
            # (`asyncio.timeout`, not `wait_for`: no extra task per call.)
            async with asyncio.timeout(self.settings.timeout_s):
                return await self._in_thread(work)

        try:
            return await with_retries(attempt, _is_transient, self.settings.timeout_s)
        except PicSearchError:
            raise
        except ParamError as exc:
            raise PicSearchError(f"invalid Milvus request: {exc}") from exc
        except Exception as exc:
            raise MilvusUnavailableError(
                f"Milvus is unavailable: {exc}", retry_after_s=self.settings.retry_after_s
            ) from exc

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.get_running_loop().run_in_executor(self._pool, client.close)

    async def _in_thread(self, work: Callable[[MilvusClient], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, work)

    async def ping(self) -> bool:
        try:
            await asyncio.wait_for(self._in_thread(lambda c: c.list_collections()), timeout=3.0)
            return True
        except Exception:
            return False
