"""Which Triton queue a model call joins: searches ahead of ingest.

Triton's dynamic batcher keeps one queue per priority level and fills each batch from the
most urgent first (`priority_levels` in the generated configs). A user waiting on a search
should not queue behind a folder sync's uploads, so the search service marks its calls
`searching()`; everything else (ingest, reindex, repair, and direct clients that name no
priority) runs at the config's default level, the lower one.

A context variable, so the mark follows the search through its awaits and tasks without
every embedding call in between naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Triton: 1 is the most urgent level; 0 in a request means "the model's default".
SEARCH = 1
BACKGROUND = 2
LEVELS = 2

_current: ContextVar[int] = ContextVar("triton_priority", default=BACKGROUND)


def current() -> int:
    """The priority level of a Triton call made here."""
    return _current.get()


@contextmanager
def searching() -> Iterator[None]:
    """Model calls made inside run ahead of ingest's in Triton's queues."""
    token = _current.set(SEARCH)
    try:
        yield
    finally:
        _current.reset(token)
