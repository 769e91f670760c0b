"""The gateway's one exception tree. Library errors are wrapped with `raise ... from exc`.

Errors know no transport: each carries a `kind` (what went wrong, in general terms) and a
`code` (the exact reason, the same string on every transport). HTTP maps kinds to statuses
in gateway/api/errors.py, gRPC to status codes in gateway/grpc/errors.py.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(Enum):
    BAD_REQUEST = "bad_request"  # malformed request or damaged data
    UNSUPPORTED = "unsupported"  # a format the gateway does not take
    TOO_LARGE = "too_large"  # over a size limit
    INVALID = "invalid"  # well-formed, but a value is out of range
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "unauthenticated"
    UNAVAILABLE = "unavailable"  # a dependency is down: retry later
    CONFLICT = "conflict"  # the request clashes with the stored state (e.g. needs a reindex)
    MISCONFIGURED = "misconfigured"  # the deployment is inconsistent (e.g. model mismatch)
    INTERNAL = "internal"

    @property
    def is_client_error(self) -> bool:
        return self not in (ErrorKind.UNAVAILABLE, ErrorKind.MISCONFIGURED, ErrorKind.INTERNAL)


class PicSearchError(Exception):
    """Base of every error the gateway reports to a client."""

    kind = ErrorKind.INTERNAL
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadInputError(PicSearchError):
    kind = ErrorKind.BAD_REQUEST
    code = "bad_request"


class InvalidImageError(BadInputError):
    """Bytes that are not an image format the gateway takes."""

    kind = ErrorKind.UNSUPPORTED
    code = "unsupported_image"


class CorruptImageError(InvalidImageError):
    """Bytes in an allowed image format that do not decode (truncated, damaged)."""

    kind = ErrorKind.BAD_REQUEST
    code = "corrupt_image"


class UnsupportedMediaError(PicSearchError):
    """A request body in a media type the endpoint does not take."""

    kind = ErrorKind.UNSUPPORTED
    code = "unsupported_media_type"


class TooLargeError(PicSearchError):
    kind = ErrorKind.TOO_LARGE
    code = "too_large"


class ValidationError(PicSearchError):
    kind = ErrorKind.INVALID
    code = "validation_error"


class NotFoundError(PicSearchError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"


class UnauthorizedError(PicSearchError):
    kind = ErrorKind.UNAUTHENTICATED
    code = "unauthorized"


class UnavailableError(PicSearchError):
    """A dependency (Triton, Milvus, the image store) is unreachable: retry after a while."""

    kind = ErrorKind.UNAVAILABLE
    code = "unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after_s: int = 5) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class TritonUnavailableError(UnavailableError):
    code = "triton_unavailable"


class MilvusUnavailableError(UnavailableError):
    code = "milvus_unavailable"


class StoreUnavailableError(UnavailableError):
    code = "store_unavailable"


class ConflictError(PicSearchError):
    """The request cannot run against what is stored now: a repair that looks implausible,
    a filter on a field the collection predates."""

    kind = ErrorKind.CONFLICT
    code = "conflict"


class ModelMismatchError(PicSearchError):
    """A collection was built with another model fingerprint than the one served."""

    kind = ErrorKind.MISCONFIGURED
    code = "model_mismatch"
