"""The gateway's one exception tree. Library errors are wrapped with `raise ... from exc`
and a single handler (gateway/api/errors.py) maps them to HTTP responses."""

from __future__ import annotations


class PicSearchError(Exception):
    """Base of every error the gateway reports to a client."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadInputError(PicSearchError):
    """The request is malformed: 400."""

    status = 400
    code = "bad_request"


class InvalidImageError(BadInputError):
    """Bytes that are not a usable image: 415 (unsupported) or 400 (corrupt)."""

    status = 415
    code = "unsupported_image"


class TooLargeError(PicSearchError):
    status = 413
    code = "too_large"


class ValidationError(PicSearchError):
    status = 422
    code = "validation_error"


class NotFoundError(PicSearchError):
    status = 404
    code = "not_found"


class UnauthorizedError(PicSearchError):
    status = 401
    code = "unauthorized"


class UnavailableError(PicSearchError):
    """A dependency (Triton, Milvus, the image store) is unreachable: 503 + Retry-After."""

    status = 503
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


class ModelMismatchError(PicSearchError):
    """A collection was built with another model fingerprint than the one served."""

    status = 500
    code = "model_mismatch"


class CorruptImageError(InvalidImageError):
    """Bytes in an allowed image format that do not decode (truncated, damaged): 400."""

    status = 400
    code = "corrupt_image"
