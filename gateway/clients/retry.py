"""Retry with exponential backoff, bounded by a deadline, for transient dependency errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def with_retries(
    call: Callable[[], Awaitable[T]],
    is_transient: Callable[[BaseException], bool],
    deadline_s: float,
    first_delay_s: float = 0.1,
) -> T:
    """Run `call` until it succeeds, a non-transient error occurs, or the deadline passes.

    A transient failure (e.g. a dependency restarting) is retried after 0.1, 0.2, 0.4 ... s;
    the last error propagates once the next wait would cross the deadline.
    """
    deadline = time.monotonic() + deadline_s
    delay = first_delay_s
    while True:
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
