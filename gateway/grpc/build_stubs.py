"""Generates the picsearch.v1 Python stubs from the proto with grpcio-tools.

Run by `make install`/`make test` and the Dockerfile (`python -m gateway.grpc.build_stubs`);
the stubs are never committed. protoc writes absolute imports (`from picsearch.v1 import`),
which are rewritten to this package's so no extra sys.path entry is needed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
PROTO_ROOT = HERE / "proto"
PROTO = PROTO_ROOT / "picsearch" / "v1" / "picsearch.proto"
OUT = HERE / "_generated"
PACKAGE = "gateway.grpc._generated"


def build(out: Path = OUT) -> None:
    target = out / "picsearch" / "v1"
    target.mkdir(parents=True, exist_ok=True)
    for folder in (out, out / "picsearch", target):
        (folder / "__init__.py").touch()
    # A child process: protoc inside a process that already holds protobuf descriptors
    # (a running server, its tests) can crash it. grpcio-tools is a build-time dependency.
    args = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        str(PROTO),
    ]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed on {PROTO}: {done.stderr}")
    for path in target.glob("*_pb2*.py*"):
        text = path.read_text()
        path.write_text(re.sub(r"^from picsearch\.v1 import", f"from {PACKAGE}.picsearch.v1 import",
                               text, flags=re.M))  # fmt: skip


def missing(out: Path = OUT) -> bool:
    return not (out / "picsearch" / "v1" / "picsearch_pb2_grpc.py").exists()


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
