"""Every `error.code` string the API can answer, with its HTTP status, its gRPC status and
what it means.

The source of the error table in docs/api.md (`python -m gateway.docs_tables --write`);
tests/unit/test_error_codes.py fails when code anywhere in gateway/ raises a code missing
here, or when a status here disagrees with the transports' mappings (gateway/api/errors.py,
gateway/grpc/errors.py). Plain data: it imports nothing of the gateway.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # HTTP status, gRPC status ("" where the transport never answers the code), meaning.
    EMPTY_FILE = "empty_file", 400, "INVALID_ARGUMENT", "the uploaded file has no bytes"
    CORRUPT_IMAGE = (
        "corrupt_image",
        400,
        "INVALID_ARGUMENT",
        "an image in an accepted format that does not decode (truncated or damaged)",
    )
    BAD_REQUEST = "bad_request", 400, "", "a malformed multipart body"
    NO_FILES = (
        "no_files",
        400,
        "INVALID_ARGUMENT",
        "no image in the request (over gRPC: an IndexImages stream that sent none)",
    )
    MISSING_API_KEY = (
        "missing_api_key",
        401,
        "UNAUTHENTICATED",
        "the gateway has API keys and the request carries none",
    )
    INVALID_API_KEY = (
        "invalid_api_key",
        401,
        "UNAUTHENTICATED",
        "the API key is not one of the keys",
    )
    INVALID_SESSION = (
        "invalid_session",
        401,
        "",
        "the web page's session cookie expired, or its key was removed",
    )
    IMAGE_NOT_FOUND = "image_not_found", 404, "NOT_FOUND", "no indexed image has this id"
    NOT_FOUND = "not_found", 404, "", "no such path"
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "", "the path does not take this method"
    REINDEX_REQUIRED = (
        "reindex_required",
        409,
        "FAILED_PRECONDITION",
        "a `taken`, `camera`, `has_location` or `tags` filter, `sort=taken` or `model=tags`, on"
        " a collection built before those fields: run `pic-search reindex`",
    )
    REPAIR_REFUSED = (
        "repair_refused",
        409,
        "FAILED_PRECONDITION",
        "a repair that looks implausible (see docs/operations.md); nothing was changed",
    )
    FILE_TOO_LARGE = "file_too_large", 413, "RESOURCE_EXHAUSTED", "a file over the upload limit"
    TOO_MANY_FILES = (
        "too_many_files",
        413,
        "RESOURCE_EXHAUSTED",
        "more files in one request than the limit",
    )
    TOO_MANY_PIXELS = (
        "too_many_pixels",
        413,
        "RESOURCE_EXHAUSTED",
        "more pixels than the limit (a decompression bomb stops here)",
    )
    IMAGE_TOO_LARGE = "image_too_large", 413, "RESOURCE_EXHAUSTED", "a side over the limit"
    REQUEST_TOO_LARGE = "request_too_large", 413, "", "the request body is over the limit"
    TOO_LARGE = "too_large", 413, "", "a body the HTTP server refused as too large"
    UNSUPPORTED_IMAGE = (
        "unsupported_image",
        415,
        "INVALID_ARGUMENT",
        "not an image, or a format the gateway does not take (SVG, PDF, ...)",
    )
    UNSUPPORTED_MEDIA_TYPE = (
        "unsupported_media_type",
        415,
        "",
        "a request body in a media type the endpoint does not take (not multipart)",
    )
    IMAGE_TOO_SMALL = "image_too_small", 422, "INVALID_ARGUMENT", "a side under the limit"
    BAD_ASPECT_RATIO = (
        "bad_aspect_ratio",
        422,
        "INVALID_ARGUMENT",
        "longer side over the limit times the shorter",
    )
    INVALID_TOP_K = "invalid_top_k", 422, "INVALID_ARGUMENT", "`top_k` outside 1..the limit"
    INVALID_LIMIT = "invalid_limit", 422, "INVALID_ARGUMENT", "a page size outside 1..the limit"
    INVALID_CURSOR = (
        "invalid_cursor",
        422,
        "INVALID_ARGUMENT",
        "a paging cursor this API did not return",
    )
    NO_LABEL_HEAD = (
        "no_label_head",
        422,
        "INVALID_ARGUMENT",
        "`model=tags`, but no enabled model has a label head with real weights",
    )
    UNKNOWN_MODEL = "unknown_model", 422, "INVALID_ARGUMENT", "`model` is not an enabled model"
    NO_TEXT_TOWER = (
        "no_text_tower",
        422,
        "INVALID_ARGUMENT",
        "text search with a model that has no text tower",
    )
    EMPTY_QUERY = "empty_query", 422, "INVALID_ARGUMENT", "a text search without words"
    QUERY_TOO_LONG = "query_too_long", 422, "INVALID_ARGUMENT", "a text query over the limit"
    INVALID_FILTER = (
        "invalid_filter",
        422,
        "INVALID_ARGUMENT",
        "a filter outside the grammar (docs/api.md#filters)",
    )
    FILTER_TOO_LARGE = (
        "filter_too_large",
        422,
        "INVALID_ARGUMENT",
        "a filter over the metadata size limit",
    )
    INVALID_SORT = "invalid_sort", 422, "INVALID_ARGUMENT", "`sort` is not score, date or taken"
    INVALID_MIN_SCORE = "invalid_min_score", 422, "INVALID_ARGUMENT", "`min_score` outside -1..1"
    INVALID_CUTOFF = (
        "invalid_cutoff",
        422,
        "INVALID_ARGUMENT",
        "`cutoff` is not `auto`, or comes with `min_score`",
    )
    INVALID_PATHS = (
        "invalid_paths",
        422,
        "INVALID_ARGUMENT",
        "`paths` is not a list with one printable path (or null) per file",
    )
    INVALID_DELETE = (
        "invalid_delete",
        422,
        "INVALID_ARGUMENT",
        "a bulk delete without exactly one of `ids` and a non-empty `filter`",
    )
    INVALID_IDS = "invalid_ids", 422, "INVALID_ARGUMENT", "not a list of 1..10,000 image ids"
    INVALID_METADATA = (
        "invalid_metadata",
        422,
        "INVALID_ARGUMENT",
        "metadata that is not a flat JSON object with identifier keys",
    )
    METADATA_TOO_LARGE = (
        "metadata_too_large",
        422,
        "INVALID_ARGUMENT",
        "metadata over the size limit",
    )
    RESERVED_METADATA_KEY = (
        "reserved_metadata_key",
        422,
        "INVALID_ARGUMENT",
        "metadata using a key the gateway stores itself (`taken`, `camera`, ...)",
    )
    UNKNOWN_PARAMETER = (
        "unknown_parameter",
        422,
        "INVALID_ARGUMENT",
        "a query parameter, form field or JSON field the endpoint does not take",
    )
    VALIDATION_ERROR = (
        "validation_error",
        422,
        "",
        "a request that fails the endpoint's schema (a missing or mistyped field)",
    )
    INTERNAL_ERROR = (
        "internal_error",
        500,
        "INTERNAL",
        "a bug: the details go to the gateway log, not to the client",
    )
    MODEL_MISMATCH = (
        "model_mismatch",
        500,
        "FAILED_PRECONDITION",
        "a collection built with other weights: run `pic-search reindex`",
    )
    TRITON_UNAVAILABLE = (
        "triton_unavailable",
        503,
        "UNAVAILABLE",
        "Triton is unreachable; retry after `Retry-After` seconds",
    )
    MILVUS_UNAVAILABLE = (
        "milvus_unavailable",
        503,
        "UNAVAILABLE",
        "Milvus is unreachable; retry after `Retry-After` seconds",
    )
    STORE_UNAVAILABLE = (
        "store_unavailable",
        503,
        "UNAVAILABLE",
        "the image store is unreachable; retry after `Retry-After` seconds",
    )
    DEADLINE_EXCEEDED = (
        "deadline_exceeded",
        504,
        "DEADLINE_EXCEEDED",
        "the request ran past `PIC_SEARCH_LIMITS__REQUEST_TIMEOUT_S` (over gRPC: past its"
        " deadline, too); an interrupted ingest undoes its writes",
    )
    HTTP_ERROR = "http_error", 0, "", "any other HTTP error the web framework answers"

    http_status: int  # 0: the status varies
    grpc_status: str
    meaning: str

    def __new__(cls, code: str, http_status: int, grpc_status: str, meaning: str) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.http_status = http_status
        member.grpc_status = grpc_status
        member.meaning = meaning
        return member
