"""Request and response bodies, as the OpenAPI schema shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["unsupported_image"])
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class FileResultBody(BaseModel):
    filename: str
    status: Literal["created", "duplicate", "rejected"]
    id: str | None = None
    code: str | None = None
    message: str | None = None
    status_code: int | None = None


class IngestResponse(BaseModel):
    results: list[FileResultBody]
    created: int
    duplicates: int
    rejected: int
    error: ErrorDetail | None = None  # set when every file was rejected


class SearchHit(BaseModel):
    id: str
    score: float
    metadata: dict[str, Any]
    content_url: str
    thumbnail_url: str


class SearchResponse(BaseModel):
    model: str
    results: list[SearchHit]
    took_ms: float
    random_weights: bool = Field(
        description="The model holds seeded random weights: only copies and near-copies of "
        "an indexed picture are found."
    )


class ModelInfo(BaseModel):
    name: str = Field(description="The `model=` value.", examples=["efficientnet_lite0"])
    title: str
    dimension: int
    text: bool = Field(description="Has a text tower (text search uses it).")
    weights: str = Field(description="Weights provenance, as the exporter recorded it.")
    random_weights: bool
    default: bool = Field(description="Used when a search names no model.")


class ModelList(BaseModel):
    models: list[ModelInfo]


class TextQuery(BaseModel):
    q: str = Field(description="What to look for, in English.", examples=["a red ball on grass"])
    top_k: int | None = Field(default=None, description="How many results (1..max_top_k).")
    filter: dict[str, Any] | None = Field(
        default=None, description='Metadata equalities, e.g. {"album": "2024"}.'
    )


class ImageSummary(BaseModel):
    id: str
    created_at: int
    metadata: dict[str, Any]
    content_url: str
    thumbnail_url: str


class ImageList(BaseModel):
    items: list[ImageSummary]
    next_cursor: str | None


class ImageRecord(BaseModel):
    id: str
    filename: str
    format: str
    width: int
    height: int
    bytes: int
    created_at: int
    metadata: dict[str, Any]
    content_url: str
    thumbnail_url: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]
