"""`pic-search check [--repair]` finds and mends store/collection disagreements."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest
from pymilvus import MilvusClient

from gateway.serving.process import venv_bin
from tests.integration import images
from tests.integration.conftest import GatewayFactory, RunningGateway, RunningMilvus


@pytest.fixture(scope="module")
def repair_gateway(gateway_factory: GatewayFactory) -> Iterator[RunningGateway]:
    with gateway_factory("repair") as running:
        yield running


def _check(gateway: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv_bin() / "pic-search"), "check", *args],
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


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
    milvus_client.upsert(
        "repair_clip",
        [{"id": orphan, "embedding": vector.tolist(), "created_at": 1, "metadata": {}}],
    )

    found = _check(repair_gateway)
    assert found.returncode == 1
    assert f"missing vector in repair_vgg16: {lost}" in found.stdout
    assert f"vector without stored image in repair_clip: {orphan}" in found.stdout

    repaired = _check(repair_gateway, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired; now: consistent" in repaired.stdout
    assert _check(repair_gateway).stdout.strip().endswith("consistent")
    with repair_gateway.client() as client:
        similar = client.get(f"/v1/images/{lost}/similar", params={"model": "vgg16", "top_k": 2})
        assert similar.status_code == 200
        counts = {c["count"] for c in client.get("/v1/stats").json()["collections"].values()}
        assert counts == {3}
