"""The one gRPC error boundary: domain error kinds become status codes here.

Each error leaves with a `google.rpc.Status` in the trailers (grpcio-status) whose details
hold an `ErrorInfo` (reason = the HTTP API's error code, domain `picsearch`) and, for an
outage, a `RetryInfo` with the Retry-After the HTTP API would send.
"""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.errors import ErrorKind, PicSearchError, UnavailableError

DOMAIN = "picsearch"
GRPC_STATUS: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.BAD_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.UNSUPPORTED: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.MISCONFIGURED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}


def to_status(exc: PicSearchError) -> grpc.Status:
    return status(GRPC_STATUS[exc.kind], exc.code, exc.message, _retry_after(exc))


def status(
    code: grpc.StatusCode, reason: str, message: str, retry_after_s: int | None = None
) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)
    details = [info]
    if retry_after_s is not None:
        info.metadata["retry_after_s"] = str(retry_after_s)
        delay = duration_pb2.Duration(seconds=retry_after_s)
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    packed = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    for detail in details:
        packed.details.add().Pack(detail)
    return rpc_status.to_status(packed)


def _retry_after(exc: PicSearchError) -> int | None:
    return exc.retry_after_s if isinstance(exc, UnavailableError) else None


def reason_of(rich: status_pb2.Status | None) -> str | None:
    """The `code` string an error carries (what the HTTP API calls `error.code`)."""
    for detail in rich.details if rich is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return None
