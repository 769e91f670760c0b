"""docker-compose.yml and its CPU override follow the Compose specification and the design."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.export.triton_config import VARIANT_PATHS
from tests.deploy.support import (
    COMPOSE_ENV_EXAMPLE,
    COMPOSE_FILE,
    CPU_OVERRIDE,
    DOCKER_DIR,
    GATEWAY_DOCKERFILE,
    ROOT,
    Doc,
    compose,
    compose_cpu_example,
    compose_example,
    conditions,
    dockerfile,
    image_is_pinned,
    read_env_file,
    service_env,
    stages,
    volume_specs,
)

OWN_IMAGES = {"model-builder", "triton", "gateway"}
ONE_SHOT = {"model-builder"}
# Upstream images kept as Milvus' official Compose topology has them: they run as root
# and write outside their data volumes.
ROOT_ALLOWED = {"etcd", "minio", "milvus"}
WRITABLE_ROOT_ALLOWED = {"etcd", "minio", "milvus", "model-builder"}  # builder: weight caches
# Variables the files require (`${NAME:?why}`): read from the text, checked by Compose below.
_REQUIRED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")


def services(doc: Doc) -> dict[str, Doc]:
    found: dict[str, Doc] = doc["services"]
    return found


@pytest.mark.parametrize(
    "files", [(COMPOSE_FILE,), (COMPOSE_FILE, CPU_OVERRIDE)], ids=["compose", "compose-cpu"]
)
def test_compose_validates_the_files_with_every_variable_set_by_the_example(
    files: tuple[Path, ...],
) -> None:
    result = compose("config", "-q", files=files, env_file=COMPOSE_ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    # Compose warns, and fills in "", for each variable the example does not set.
    assert "variable is not set" not in result.stderr, result.stderr


def test_compose_refuses_to_start_without_each_required_variable(tmp_path: Path) -> None:
    required = set(_REQUIRED.findall(COMPOSE_FILE.read_text()))
    assert {"API_KEYS", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} <= required
    example = read_env_file(COMPOSE_ENV_EXAMPLE)
    for name in required:
        env_file = tmp_path / f"without-{name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in example.items() if k != name))
        result = compose("config", "-q", files=(COMPOSE_FILE,), env_file=env_file)
        assert result.returncode != 0, name
        assert name in result.stderr, result.stderr


def test_every_image_is_pinned_and_our_own_are_built_from_dockerfiles_that_exist() -> None:
    for name, service in services(compose_cpu_example()).items():
        assert image_is_pinned(service["image"]), (name, service["image"])
    for doc in (compose_example(), compose_cpu_example()):
        for name, service in services(doc).items():
            if name in OWN_IMAGES:
                build = service["build"]
                assert (Path(build["context"]) / build["dockerfile"]).is_file(), name
            else:
                assert "build" not in service, name


def test_every_long_running_service_has_a_healthcheck_and_a_restart_policy() -> None:
    for name, service in services(compose_example()).items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] == "unless-stopped", name


def test_the_gateway_waits_for_healthy_triton_milvus_and_minio() -> None:
    gateway = services(compose_example())["gateway"]
    assert conditions(gateway) == {
        "triton": "service_healthy",
        "milvus": "service_healthy",
        "minio": "service_healthy",
    }
    triton = services(compose_example())["triton"]
    assert conditions(triton) == {"model-builder": "service_completed_successfully"}


def test_the_gateway_gets_its_secrets_from_required_variables() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["gateway"]["environment"]
    for key in (
        "PIC_SEARCH_AUTH__API_KEYS",
        "PIC_SEARCH_STORE__S3_ACCESS_KEY",
        "PIC_SEARCH_STORE__S3_SECRET_KEY",
    ):
        assert raw[key].startswith("${") and ":?" in raw[key], key
    env = service_env(services(compose_example())["gateway"])
    assert json.loads(env["PIC_SEARCH_AUTH__API_KEYS"])
    assert env["PIC_SEARCH_SERVER__HOST"] == "0.0.0.0"


def test_triton_reserves_a_gpu_gets_shared_memory_and_is_healthy_only_when_ready() -> None:
    triton = services(compose_example())["triton"]
    (device,) = triton["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"] and device["driver"] == "nvidia"
    assert triton["shm_size"]
    assert "http://127.0.0.1:8000/v2/health/ready" in triton["healthcheck"]["test"]
    assert "--model-repository=/models" in triton["command"]
    assert "--model-config-name=onnx" in triton["command"]
    assert triton["build"]["dockerfile"] == "triton.Dockerfile"
    assert "model-repository:/models:ro" in volume_specs(triton)
    builder = services(compose_example())["model-builder"]
    assert "model-repository:/models" in volume_specs(builder)


def test_the_cpu_override_drops_the_gpu_and_selects_the_cpu_configs() -> None:
    triton = services(compose_cpu_example())["triton"]
    assert "deploy" not in triton
    assert [a for a in triton["command"] if a.startswith("--model-config-name")] == [
        "--model-config-name=cpu"
    ]
    assert triton["build"]["dockerfile"] == "triton-python.Dockerfile"
    # Everything else about Triton is the base file's.
    base = services(compose_example())["triton"]
    for key in ("healthcheck", "volumes", "shm_size", "depends_on", "read_only"):
        assert triton[key] == base[key], key


def test_milvus_standalone_follows_the_official_topology() -> None:
    svc = services(compose_example())
    milvus = svc["milvus"]
    assert milvus["image"].startswith("milvusdb/milvus:v2.6.")
    assert milvus["command"] == ["milvus", "run", "standalone"]
    env = service_env(milvus)
    assert env["ETCD_ENDPOINTS"] == "etcd:2379"
    assert env["MINIO_ADDRESS"] == "minio:9000"
    assert env["MQ_TYPE"] == "woodpecker"
    minio = service_env(svc["minio"])
    assert env["MINIO_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["MINIO_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    assert "http://localhost:9091/healthz" in milvus["healthcheck"]["test"]
    assert conditions(milvus) == {
        "etcd": "service_healthy",
        "minio": "service_healthy",
    }


def test_the_gateway_uses_the_compose_services_it_needs() -> None:
    svc = services(compose_example())
    env = service_env(svc["gateway"])
    assert env["PIC_SEARCH_TRITON__URL"] == "triton:8001"
    assert env["PIC_SEARCH_MILVUS__URI"] == "http://milvus:19530"
    assert env["PIC_SEARCH_STORE__KIND"] == "s3"
    assert env["PIC_SEARCH_STORE__S3_ENDPOINT_URL"] == "http://minio:9000"
    minio = service_env(svc["minio"])
    assert env["PIC_SEARCH_STORE__S3_ACCESS_KEY"] == minio["MINIO_ROOT_USER"]


def test_only_the_gateway_and_local_monitoring_are_published() -> None:
    svc = services(compose_example())
    published = {name for name, service in svc.items() if service.get("ports")}
    assert published == {"gateway", "prometheus", "grafana"}
    for name in ("prometheus", "grafana"):
        assert all(port["host_ip"] == "127.0.0.1" for port in svc[name]["ports"])
    networks = compose_example()["networks"]
    assert networks["backend"]["internal"] is True
    for name in ("triton", "milvus", "etcd", "minio"):
        assert list(svc[name]["networks"]) == ["backend"], name


def test_containers_run_as_non_root_with_read_only_root_filesystems_where_possible() -> None:
    dockerfiles = {
        "gateway": GATEWAY_DOCKERFILE,
        "triton": DOCKER_DIR / "triton.Dockerfile",
        "model-builder": DOCKER_DIR / "model-builder.Dockerfile",
    }
    svc = services(compose_example())
    for name, service in svc.items():
        if name in dockerfiles:
            build = service["build"]
            target = build.get("target")
            chosen = [
                s
                for s in stages(dockerfile(dockerfiles[name]))
                if target is None or s[0].args.endswith(f"AS {target}")
            ]
            stage = chosen[-1] if target is None else chosen[0]
            users = [i.args for i in stage if i.keyword == "USER"]
            assert users and users[-1].split(":")[0] not in ("0", "root"), name
        elif name not in ROOT_ALLOWED:
            # Prometheus and Grafana's images run as their own users; none may switch to root.
            assert str(service.get("user", "nobody")).split(":")[0] not in ("0", "root"), name
        if name not in WRITABLE_ROOT_ALLOWED:
            assert service.get("read_only") is True, name


def test_monitoring_is_opt_in_and_scrapes_triton_the_gateway_and_milvus() -> None:
    svc = services(compose_example())
    for name, service in svc.items():
        if name in ("prometheus", "grafana"):
            assert service["profiles"] == ["monitoring"]
        else:
            assert "profiles" not in service, name
    config = yaml.safe_load((ROOT / "deploy" / "monitoring" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert targets == {"gateway": "gateway:8080", "triton": "triton:8002", "milvus": "milvus:9091"}
    for target in targets.values():
        host, _, _port = target.partition(":")
        assert host in svc
        assert set(svc[host]["networks"]) & set(svc["prometheus"]["networks"]), host
    triton_command = " ".join(svc["triton"]["command"])
    assert "--metrics-port=8002" in triton_command and "--allow-metrics=true" in triton_command


def test_bind_mounted_files_exist() -> None:
    for name, service in services(compose_example()).items():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).is_relative_to(ROOT), (name, volume)
                assert Path(volume["source"]).exists(), (name, volume)


def test_every_named_volume_and_network_is_declared() -> None:
    doc: dict[str, Any] = compose_example()
    for name, service in services(doc).items():
        for volume in service.get("volumes", []):
            if volume["type"] == "volume":
                assert volume["source"] in doc["volumes"], (name, volume)
        for network in service.get("networks", []):
            assert network in doc["networks"], (name, network)


def test_every_config_name_compose_and_kubernetes_select_is_one_the_exporter_writes() -> None:
    texts = [
        (ROOT / name).read_text()
        for name in (
            "docker-compose.yml",
            "docker-compose.cpu.yml",
            "deploy/base/triton-deployment.yaml",
            "deploy/overlays/dev/triton-cpu.yaml",
            "deploy/docker/triton.Dockerfile",
            "deploy/docker/triton-python.Dockerfile",
        )
    ]
    chosen = {m for text in texts for m in re.findall(r"--model-config-name=(\w+)", text)}
    assert chosen == {"onnx", "cpu"} == set(VARIANT_PATHS)
