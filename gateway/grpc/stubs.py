"""The generated picsearch.v1 modules. `make install` and the Dockerfile generate them (and
make regenerates them when the proto changes); a source tree without them (a fresh clone run
straight from pytest) generates them on first import, under a file lock so parallel
processes never read half-written files."""

from __future__ import annotations

import fcntl

from gateway.grpc import build_stubs

if build_stubs.missing():
    build_stubs.OUT.mkdir(parents=True, exist_ok=True)
    with open(build_stubs.OUT / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if build_stubs.missing():
            build_stubs.build()

from gateway.grpc._generated.picsearch.v1 import (
    picsearch_pb2 as pb,
)
from gateway.grpc._generated.picsearch.v1 import (
    picsearch_pb2_grpc as pb_grpc,
)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PicSearch"].full_name

__all__ = ["SERVICE_NAME", "pb", "pb_grpc"]
