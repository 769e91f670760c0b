"""The Milvus Helm values agree with the names the gateway and the NetworkPolicies use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.support import DEPLOY, OVERLAYS, config_map_env, named, render

VALUES = DEPLOY / "milvus" / "values.yaml"
DISTRIBUTED = DEPLOY / "milvus" / "values-distributed.yaml"
RELEASE = "milvus"  # the release name the README installs and the NetworkPolicies select


def load(path: Any) -> dict[str, Any]:
    values = yaml.safe_load(path.read_text())
    assert isinstance(values, dict)
    return values


def tags(values: Any) -> Iterator[str]:
    if isinstance(values, dict):
        for key, value in values.items():
            if key == "tag":
                yield str(value)
            else:
                yield from tags(value)
    elif isinstance(values, list):
        for value in values:
            yield from tags(value)


def test_standalone_values_pin_milvus_2_6_with_woodpecker_and_no_pulsar() -> None:
    values = load(VALUES)
    assert values["cluster"]["enabled"] is False
    assert values["image"]["all"]["tag"].startswith("v2.6.")
    assert values["standalone"]["messageQueue"] == "woodpecker"
    assert values["pulsarv3"]["enabled"] is False
    assert values["metrics"]["enabled"] is True
    assert all(tag not in ("", "latest") for tag in tags(values))


def test_distributed_values_switch_to_cluster_mode_without_pulsar() -> None:
    values = load(DISTRIBUTED)
    assert values["cluster"]["enabled"] is True
    assert values["woodpecker"]["enabled"] is True
    assert values["pulsarv3"]["enabled"] is False
    assert values["etcd"]["replicaCount"] >= 3
    assert values["minio"]["mode"] == "distributed"
    assert all(tag not in ("", "latest") for tag in tags(values))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_reaches_the_services_the_release_creates(overlay: str) -> None:
    docs = render(overlay)
    env = config_map_env(docs, named(docs, "Deployment", "gateway"), "gateway")
    milvus = urlsplit(env["PIC_SEARCH_MILVUS__URI"])
    assert (milvus.hostname, milvus.port) == (RELEASE, 19530)
    # The chart names its MinIO `<release>-minio`; the gateway keeps its images in a bucket
    # of its own there, which the chart creates.
    minio = urlsplit(env["PIC_SEARCH_STORE__S3_ENDPOINT_URL"])
    assert (minio.hostname, minio.port) == (f"{RELEASE}-minio", 9000)
    buckets = [b["name"] for b in load(VALUES)["minio"]["buckets"]]
    assert env["PIC_SEARCH_STORE__S3_BUCKET"] in buckets


def test_the_readme_installs_the_release_under_the_expected_name() -> None:
    readme = (DEPLOY / "README.md").read_text()
    assert f"helm upgrade --install {RELEASE} zilliztech/milvus" in readme
