"""What the service stores, typed: the image record (JSON in the image store, beside the
original) and the vector row (one per collection). Every writer and reader of them goes
through these types, so a field is named in one place.

Records written before a field existed lack it (it reads as None); keys written by a newer
version are kept as they are when a record is rewritten (`extra`).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from gateway.capture import camera_key, has_location, taken_key
from gateway.models.tagging import MAX_CLASSES, TAGS_CAPACITY

CAPTURE_FIELDS = ("taken", "camera", "lens", "location")
FILE_FIELDS = ("filename", "path", "format", "width", "height", "bytes", "created_at")


@dataclass(frozen=True)
class FileInfo:
    """What a search hit or a listed image says about its file and its capture."""

    filename: str | None = None
    path: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    created_at: int | None = None
    taken: str | None = None  # ISO 8601 local time, with its offset when EXIF has one
    camera: dict[str, str | None] | None = None  # {make, model}
    lens: str | None = None
    location: dict[str, float] | None = None  # {lat, lon}
    # Auto-tags [{name, score}] (services/tags.py); None where no label head tagged it.
    tags: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        # Shallow: a response serialises it at once. `dataclasses.asdict` deep-copies every
        # tag and was a tenth of the gateway's CPU per search.
        return dict(vars(self))


@dataclass(frozen=True)
class ImageRecord:
    id: str
    created_at: int  # microseconds since the epoch; also the row's, so caches can match it
    metadata: dict[str, Any] = field(default_factory=dict)
    filename: str | None = None
    path: str | None = None  # the source path the indexer sent
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None  # size of the original
    taken: str | None = None
    camera: dict[str, str | None] | None = None
    lens: str | None = None
    location: dict[str, float] | None = None
    # Auto-tags: shown tags and the label head's kept classes, [{name, score}] each
    # (services/tags.py); None where no label head tagged the photo.
    tags: list[dict[str, Any]] | None = None
    classes: list[dict[str, Any]] | None = None
    # Whether EXIF was read for this record (records from before capture facts were not).
    capture_read: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: builtins.bytes | str, image_id: str) -> ImageRecord:
        """The stored JSON; ValueError when it is not a record."""
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError(f"the record of {image_id} is not a JSON object")
        known = {f.name for f in fields(cls)} - {"id", "capture_read", "extra"}
        values = {name: raw[name] for name in known if name in raw}
        values["created_at"] = int(raw.get("created_at") or 0)
        values["metadata"] = raw.get("metadata") or {}
        extra = {k: v for k, v in raw.items() if k not in known and k != "id"}
        capture_read = all(name in raw for name in CAPTURE_FIELDS)
        return cls(id=image_id, capture_read=capture_read, extra=extra, **values)

    def to_json(self) -> builtins.bytes:
        body = {
            **self.extra,
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name not in _UNSTORED},
        }
        for name in _UNTAGGED:  # absent, not null: "no label head tagged it"
            if body.get(name) is None:
                body.pop(name, None)
        return json.dumps(body).encode()

    def file_info(self) -> FileInfo:
        return FileInfo(**{f.name: getattr(self, f.name) for f in fields(FileInfo)})

    def with_metadata(self, metadata: dict[str, Any]) -> ImageRecord:
        return replace(self, metadata=metadata)

    def with_capture(self, capture: dict[str, Any]) -> ImageRecord:
        """These capture facts (as `Capture.record_fields()` gives them), marked as read."""
        return replace(
            self,
            capture_read=True,
            taken=capture.get("taken"),
            camera=capture.get("camera"),
            lens=capture.get("lens"),
            location=capture.get("location"),
        )

    def with_tags(self, tags: dict[str, Any]) -> ImageRecord:
        """These auto-tags (as `PhotoTags.record_fields()` gives them)."""
        return replace(self, tags=tags.get("tags"), classes=tags.get("classes"))


_UNSTORED = {"capture_read", "extra"}
_UNTAGGED = ("tags", "classes")


@dataclass(frozen=True)
class VectorRow:
    """An image's row in one collection: its vector and what filters and sorts read."""

    id: str
    embedding: list[float]
    created_at: int
    metadata: dict[str, Any]
    # Capture facts as filters match them (collections of schema version 2 on).
    taken: int
    camera: str
    has_location: bool
    # Auto-tags as filters and tag search read them (collections of schema version 3 on).
    tags: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    class_scores: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, record: ImageRecord, embedding: Sequence[float]) -> VectorRow:
        return cls(
            id=record.id,
            embedding=np.asarray(embedding, np.float32).tolist(),
            created_at=record.created_at,
            metadata=record.metadata,
            taken=taken_key(record.taken),
            camera=camera_key(record.camera),
            has_location=has_location(record.location),
            # Within the ARRAY fields' capacities (clients/milvus_collections.py).
            tags=[str(t["name"]) for t in record.tags or []][:TAGS_CAPACITY],
            classes=[str(c["name"]) for c in record.classes or []][:MAX_CLASSES],
            class_scores=[float(c["score"]) for c in record.classes or []][:MAX_CLASSES],
        )

    def as_fields(self) -> dict[str, Any]:
        """The row as the vector store writes it (shallow, as `FileInfo.as_dict`: asdict
        deep-copied every float of the embedding, 2.4 ms for VGG16's 4,096)."""
        return dict(vars(self))
