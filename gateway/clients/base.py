"""The interfaces the service layer sees of Triton and Milvus, and the values they return.

The real clients (clients/triton.py, clients/milvus.py) implement them; unit tests pass
fakes. Errors follow gateway/errors.py: an outage is an UnavailableError subclass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from gateway.models.spec import TritonModelSpec

# The ARRAY fields' sizes, re-exported for the vector store adapters.
from gateway.models.tagging import CLASSES_CAPACITY as CLASSES_CAPACITY
from gateway.models.tagging import TAG_MAX_LENGTH as TAG_MAX_LENGTH
from gateway.models.tagging import TAGS_CAPACITY as TAGS_CAPACITY

# Collections' schema version (see clients/milvus.py); 2 added the capture fields, 3 the
# auto-tags (services/tags.py).
SCHEMA_VERSION = 3
CAPTURE_COLUMNS = ("taken", "camera", "has_location")
TAG_COLUMNS = ("tags", "classes", "class_scores")
CAPTURE_SCHEMA = 2  # the version that added CAPTURE_COLUMNS
TAG_SCHEMA = 3


@dataclass(frozen=True)
class ModelServing:
    """What a served model's config records: its weights, runtime and precision."""

    weights: str
    runtime: str
    precision: str
    # The `cutoff=auto` threshold chosen for these weights, if the build had one.
    cutoff: float | None = None
    # The similarity at which two photos are copies, measured at build (None: none found).
    copy_threshold: float | None = None
    # Whether the config serves the registry's label head (only builds with real weights do).
    labels: bool = False


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    metadata: dict[str, Any]
    created_at: int = 0
    # When the photo was taken (collections of schema version 2 on; see clients/milvus.py).
    taken: int | None = None


@dataclass(frozen=True)
class Row:
    id: str
    created_at: int
    metadata: dict[str, Any]
    taken: int | None = None  # set by newest_taken and rows_by_id (TAKEN_NONE: undated)


@dataclass(frozen=True)
class Candidates:
    """The rows holding some of the classes a tag search asks for (schema version 3), each
    with its summed probability over them, side by side. Ids only: a broad word makes
    10,000 candidates, and only the page of best ones is read further (`rows_by_id`)."""

    ids: list[str]
    scores: npt.NDArray[np.float32]


class Embedder(Protocol):
    """Triton: embeddings for batches of model inputs."""

    async def embed(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> npt.NDArray[np.float32]:
        """One row per input row, in order."""
        ...

    async def embed_with_labels(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Embeddings and a label head's class probabilities, one row per input row."""
        ...

    async def models_ready(self, specs: list[TritonModelSpec]) -> bool: ...

    async def provenance(self, spec: TritonModelSpec) -> str:
        """The weights provenance the model's config records."""
        ...

    async def serving(self, spec: TritonModelSpec) -> ModelServing:
        """Weights, runtime and precision, as the model's config records them."""
        ...

    async def close(self) -> None: ...


# How an alias' collection stands against the served model: built with it at the current
# schema, with it at an older schema (serves, lacks fields), with other weights, or absent.
BuildState = Literal["current", "older_schema", "other", "missing"]


class VectorSearch(Protocol):
    """The search port of the vector store: rows in, hits and listings out (Milvus)."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...

    async def schema_version(self, collection: str) -> int:
        """The schema version of a collection or of the one an alias points at."""
        ...

    async def upsert(self, collection: str, rows: Sequence[dict[str, Any]]) -> None: ...

    async def delete(self, collection: str, ids: Sequence[str]) -> None: ...

    async def existing_ids(
        self, collection: str, ids: Sequence[str], strong: bool = True
    ) -> set[str]: ...

    async def get(
        self, collection: str, id_: str, with_vector: bool = False
    ) -> dict[str, Any] | None: ...

    async def count(self, collection: str) -> int: ...

    async def set_metadata(self, collection: str, id_: str, metadata: dict[str, Any]) -> bool:
        """Replace one row's metadata, keeping its vector and other fields; False if absent."""
        ...

    async def search(
        self, collection: str, vector: Sequence[float], top_k: int, filter_expr: str = ""
    ) -> list[Hit]: ...

    async def all_ids(self, collection: str, filter_expr: str = "") -> list[str]: ...

    async def newest(
        self, collection: str, before: int | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        """The `limit` newest rows created before `before` that match, newest first."""
        ...

    async def newest_taken(
        self, collection: str, before: tuple[int, int] | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        """The `limit` rows ordered by (taken, created_at) descending that come after the
        cursor `before` = (taken, created_at) and match; undated photos last."""
        ...

    async def labelled(
        self, collection: str, classes: Sequence[str], filter_expr: str = ""
    ) -> Candidates:
        """Every row holding any of `classes` (schema version 3) that matches `filter_expr`,
        scored with the summed probability of its classes among them."""
        ...

    async def tag_lists(self, collection: str) -> list[list[str]]:
        """Every row's shown tags (schema version 3), for counting."""
        ...

    async def rows_by_id(self, collection: str, ids: Sequence[str]) -> dict[str, Row]:
        """Each of `ids` that the collection holds (schema version 2 on, with `taken`)."""
        ...


class CollectionAdmin(Protocol):
    """The admin port of the vector store: one collection per search model behind an alias,
    named for the model fingerprint and schema version (a rule the adapter keeps)."""

    async def ensure_collection(self, alias: str, fingerprint: str, dim: int) -> None:
        """Create if missing; ModelMismatchError when built with another fingerprint."""
        ...

    async def build_state(self, alias: str, fingerprint: str) -> BuildState: ...

    async def create_fresh(self, alias: str, fingerprint: str, dim: int) -> str:
        """An empty collection for `fingerprint` at the current schema (replacing whatever an
        interrupted run left under its name), to fill and then point the alias at."""
        ...

    async def seal(self, collection: str, rows: int) -> None:
        """Return once every reader sees all `rows` of the collection, indexed and loaded."""
        ...

    async def switch_alias(self, alias: str, target: str) -> str | None: ...

    async def drop(self, name: str) -> None: ...

    async def target(self, alias: str) -> str | None: ...

    async def identity(self, alias: str) -> str:
        """What the alias points at, unique to that collection's life: a recreated collection
        (same name) has another identity."""
        ...


class VectorStore(VectorSearch, CollectionAdmin, Protocol):
    """Both ports, as one adapter (clients/milvus.py) implements them."""
