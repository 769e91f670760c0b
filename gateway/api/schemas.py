"""Request and response bodies, as the OpenAPI schema shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """A request body: a field the API does not know is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


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


class Camera(BaseModel):
    make: str | None = Field(default=None, examples=["FUJIFILM"])
    model: str | None = Field(default=None, examples=["X100V"])


class Location(BaseModel):
    lat: float = Field(description="Degrees north (negative: south).", examples=[-33.8568])
    lon: float = Field(description="Degrees east (negative: west).", examples=[151.2153])


class TagScore(BaseModel):
    name: str = Field(examples=["cat"])
    score: float = Field(
        description="The summed probability of the photo's classes under the tag (0..1)."
    )


class TagCount(BaseModel):
    name: str
    count: int = Field(description="How many photos carry the tag.")


class TagList(BaseModel):
    tags: list[TagCount] = Field(description="Most frequent first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class FileFacts(BaseModel):
    """What the file is; null where the record predates a field (or, for `path`, when the
    client did not send one). The capture facts come from EXIF and are null where it has
    none."""

    filename: str | None = Field(default=None, description="The uploaded file's name.")
    path: str | None = Field(default=None, description="Source path sent by the indexer.")
    format: str | None = Field(default=None, examples=["JPEG"])
    width: int | None = None
    height: int | None = None
    bytes: int | None = Field(default=None, description="Size of the original, in bytes.")
    created_at: int | None = Field(
        default=None, description="When it was indexed: microseconds since the epoch."
    )
    taken: str | None = Field(
        default=None,
        description="When the photo was taken (EXIF): ISO 8601 local time, with its UTC "
        "offset when EXIF records one.",
        examples=["2023-07-14T18:03:11+02:00", "2023-07-14T18:03:11"],
    )
    camera: Camera | None = Field(default=None, description="EXIF make and model.")
    lens: str | None = Field(default=None, description="EXIF lens model.")
    location: Location | None = Field(
        default=None,
        description="Where the photo was taken (EXIF GPS), shown to every reader; not stored "
        "when PIC_SEARCH_PRIVACY__STORE_LOCATION=false.",
    )
    tags: list[TagScore] | None = Field(
        default=None,
        description="Auto-tags from the label head (ImageNet classes and their WordNet "
        "hypernyms), best first; null when no label head tagged the photo.",
    )


class CopyRef(BaseModel):
    id: str
    score: float


class SearchHit(FileFacts):
    id: str
    score: float
    metadata: dict[str, Any]
    content_url: str
    thumbnail_url: str
    display_url: str
    copies: list[CopyRef] = Field(
        default_factory=list,
        description="With `group=true`: this hit's near-copies among the results, best first.",
    )


class CutoffBody(BaseModel):
    mode: Literal["none", "min_score", "auto"]
    min_score: float | None = Field(description="The threshold applied, if any.")
    message: str | None = Field(description="Set when `auto` has no meaningful cutoff.")


class SearchResponse(BaseModel):
    model: str
    results: list[SearchHit]
    took_ms: float
    sort: Literal["score", "date", "taken"]
    cut: int = Field(description="How many results the cutoff removed.")
    cutoff: CutoffBody
    random_weights: bool = Field(
        description="The model holds seeded random weights: only copies and near-copies of "
        "an indexed picture are found."
    )
    notice: str | None = Field(
        description="For people, shown above the results: what they can and cannot mean, "
        "e.g. that text search needs CLIP's pretrained weights and how to get them. Null "
        "when there is nothing to say."
    )


class ModelInfo(BaseModel):
    name: str = Field(description="The `model=` value.", examples=["efficientnet_lite0"])
    title: str
    dimension: int
    text: bool = Field(description="Has a text tower (text search uses it).")
    weights: str = Field(description="Weights provenance, as the exporter recorded it.")
    random_weights: bool
    default: bool = Field(description="Used when a search names no model.")
    text_default: bool = Field(
        default=False,
        description="Used when a text search names no model: CLIP where its weights are "
        "real, else `tags` (words through auto-tags) where a label head has real weights.",
    )


class ModelList(BaseModel):
    models: list[ModelInfo]


class TextQuery(Strict):
    q: str = Field(description="What to look for, in English.", examples=["a red ball on grass"])
    model: str | None = Field(
        default=None, description="A model with a text tower; default: the best one enabled."
    )
    top_k: int | None = Field(default=None, description="How many results (1..max_top_k).")
    filter: dict[str, Any] | None = Field(
        default=None,
        description='A filter object (docs/api.md#filters), e.g. {"album": {"in": ["a", "b"]}}.',
    )
    sort: str | None = Field(
        default=None,
        description="`score` (default), `date` (newest indexed first) or `taken` (newest "
        "photo first by EXIF date, undated last).",
    )
    min_score: float | None = Field(default=None, description="Drop results scoring below.")
    cutoff: str | None = Field(default=None, description="`auto`: the model's own cutoff.")
    group: bool = Field(
        default=False, description="Collapse near-copies into one hit; `top_k` counts groups."
    )


class ImageSummary(FileFacts):
    id: str
    metadata: dict[str, Any]
    content_url: str
    thumbnail_url: str
    display_url: str


class ImageList(BaseModel):
    items: list[ImageSummary]
    next_cursor: str | None
    sort: Literal["indexed", "taken"] = "indexed"


class FacetValue(BaseModel):
    value: str
    count: int


class FacetKey(BaseModel):
    key: str
    values: list[FacetValue] = Field(description="The commonest values, most photos first.")


class FacetList(BaseModel):
    keys: list[FacetKey]


class ImageRecord(FileFacts):
    id: str
    metadata: dict[str, Any]
    content_url: str
    thumbnail_url: str
    display_url: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]


class BulkDelete(Strict):
    ids: list[str] | None = Field(default=None, description="Image ids (up to 10,000).")
    filter: dict[str, Any] | None = Field(
        default=None, description="A filter object, as in search (not empty)."
    )
    dry_run: bool = Field(default=False, description="Only count what would be deleted.")


class ImageRef(BaseModel):
    id: str
    filename: str | None = None
    path: str | None = None


class BulkDeleteResponse(BaseModel):
    matched: int = Field(description="Images found for the ids or the filter.")
    deleted: int = Field(description="Images deleted (0 on a dry run).")
    dry_run: bool
    sample: list[ImageRef] = Field(description="Up to 10 of the matched images, to show a person.")


class ImagesExist(Strict):
    ids: list[str] = Field(description="Image ids (sha256 hex), 1 to 10,000.")


class ImagesExistResponse(BaseModel):
    existing: list[str] = Field(description="The ids whose image the service holds.")


class ConsistencyCheck(Strict):
    repair: bool = Field(default=False, description="Fix what is found.")
    force: bool = Field(
        default=False,
        description="Repair even when it looks implausible: an empty store beside full "
        "collections, or deleting more than 5 % (or 100) of the vectors.",
    )


class CollectionCheck(BaseModel):
    name: str
    vectors: int
    missing: list[str] = Field(description="Stored images without a vector here.")
    orphans: list[str] = Field(description="Vectors without a stored image.")


class ConsistencyReport(BaseModel):
    consistent: bool
    stored_images: int
    collections: list[CollectionCheck]
    unreadable: list[str] = Field(description="Stored originals that no longer decode.")
    repaired: bool = Field(description="A repair ran; the report is the state after it.")


class ReindexedCollection(BaseModel):
    name: str
    action: Literal["rebuilt", "current"]
    images: int
    target: str


class ReindexReport(BaseModel):
    collections: list[ReindexedCollection]
