"""The picsearch.v1 stubs are generated from the proto (never committed or hand-edited)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gateway.grpc import build_stubs
from gateway.grpc.stubs import SERVICE_NAME, pb

ROOT = Path(build_stubs.__file__).resolve().parents[2]


def test_the_stubs_in_use_are_what_the_proto_generates(tmp_path: Path) -> None:
    build_stubs.build(tmp_path)
    fresh = (tmp_path / "picsearch" / "v1" / "picsearch_pb2.py").read_text()
    in_use = (build_stubs.OUT / "picsearch" / "v1" / "picsearch_pb2.py").read_text()
    assert fresh == in_use
    assert (
        "from gateway.grpc._generated.picsearch.v1 import"
        in (tmp_path / "picsearch" / "v1" / "picsearch_pb2_grpc.py").read_text()
    )


def test_the_service_has_every_rpc_of_the_api() -> None:
    assert SERVICE_NAME == "picsearch.v1.PicSearch"
    methods = set(pb.DESCRIPTOR.services_by_name["PicSearch"].methods_by_name)
    assert methods == {
        "IndexImages", "SearchByImage", "SearchByText", "SimilarTo",
        "GetImage", "ListImages", "DeleteImage", "DeleteImages", "Stats", "ListModels",
        "ImagesExist", "UpdateMetadata", "CheckConsistency", "Reindex", "GetFacets", "ListTags",
    }  # fmt: skip
    index = pb.DESCRIPTOR.services_by_name["PicSearch"].methods_by_name["IndexImages"]
    assert index.client_streaming and index.server_streaming


def test_generated_stubs_are_ignored_by_git_and_not_committed() -> None:
    assert "/gateway/grpc/_generated/" in (ROOT / ".gitignore").read_text().splitlines()
    tracked = subprocess.run(
        ["git", "ls-files", "gateway/grpc"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert tracked and not [t for t in tracked if "_pb2" in t or "_generated" in t]
