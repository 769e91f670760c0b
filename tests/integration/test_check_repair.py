"""`pic-search check [--repair]` finds and mends store/collection disagreements."""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
from pymilvus import MilvusClient

from gateway.services.stored import ImageRecord, VectorRow
from tests.integration import images
from tests.integration.conftest import (
    RunningGateway,
    RunningMilvus,
    gateway_fixture,
)
from tests.integration.support import collection_counts, pic_search

repair_gateway = gateway_fixture("repair")


def _check(gateway: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    # The check runs in the gateway (POST /v1/admin/check); --verbose lists the ids.
    return pic_search("check", "--verbose", *args, "--url", gateway.url, env=gateway.env,
                      timeout_s=300)  # fmt: skip


def test_check_reports_inconsistencies_and_repair_mends_them(
    repair_gateway: RunningGateway, milvus: RunningMilvus
) -> None:
    files = [images.save(images.photo(name), "JPEG") for name in ("coffee", "rocket", "coins")]
    with repair_gateway.client() as client:
        response = client.post(
            "/v1/images", files=[("files", (f"{i}.jpg", d)) for i, d in enumerate(files)]
        )
        assert response.status_code == 201
    assert _check(repair_gateway).returncode == 0

    # A crash between the two upserts, and a vector whose image is gone.
    lost = hashlib.sha256(files[0]).hexdigest()
    orphan = "f" * 64
    milvus_client = MilvusClient(uri=milvus.uri)
    milvus_client.delete("repair_vgg16", ids=[lost])
    vector = np.ones(512, np.float32) / np.sqrt(512)
    row = VectorRow.of(ImageRecord(orphan, 1), vector.tolist())
    milvus_client.upsert("repair_clip", [row.as_fields()])

    found = _check(repair_gateway)
    assert found.returncode == 1
    assert f"missing vector in repair_vgg16: {lost}" in found.stdout
    assert f"vector without stored image in repair_clip: {orphan}" in found.stdout

    # One orphan in three vectors is over the 5 % a repair deletes unasked: it shows its
    # plan, refuses and changes nothing; --force repairs.
    refused = _check(repair_gateway, "--repair")
    assert refused.returncode == 1 and "repair refused" in refused.stderr
    assert "--force" in refused.stdout + refused.stderr
    assert _check(repair_gateway).returncode == 1
    repaired = _check(repair_gateway, "--repair", "--force")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired; now: consistent" in repaired.stdout
    assert _check(repair_gateway).stdout.strip().endswith("consistent")
    with repair_gateway.client() as client:
        similar = client.get(f"/v1/images/{lost}/similar", params={"model": "vgg16", "top_k": 2})
        assert similar.status_code == 200
        counts = set(collection_counts(client).values())
        assert counts == {3}
