"""What Compose and Kubernetes set and probe exists in the code: settings, routes, ports."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from gateway.config import Settings
from gateway.grpc.stubs import SERVICE_NAME
from gateway.serving.stack_settings import StackSettings
from tests.deploy.support import (
    DEPLOY,
    OVERLAYS,
    Doc,
    all_setting_paths,
    compose_cpu_example,
    compose_example,
    config_map_env,
    container,
    container_port,
    gateway_sources,
    named,
    render,
    service_env,
    setting_path,
    settings_from,
)

# Settings the Kubernetes ConfigMap deliberately leaves out, and why.
NOT_IN_KUBERNETES = {
    ("store", "path"): "the local directory store; several replicas use S3",
    ("auth", "api_keys"): "the keys come from the mounted Secret (auth.api_keys_file)",
}
SECRET_PLACEHOLDER = "secret-from-the-cluster"


def kubernetes_env(overlay: str) -> dict[str, str]:
    docs = render(overlay)
    env = config_map_env(docs, named(docs, "Deployment", "gateway"), "gateway")
    return {k: SECRET_PLACEHOLDER if v.startswith("<from secret") else v for k, v in env.items()}


def pic_search_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PIC_SEARCH_")}


@pytest.mark.parametrize(
    "compose", [compose_example, compose_cpu_example], ids=["compose", "compose-cpu"]
)
def test_every_pic_search_variable_in_compose_is_a_real_setting(
    compose: Callable[[], Doc],
) -> None:
    services = compose()["services"]
    for name, service in services.items():
        env = pic_search_env(service_env(service))
        for variable in env:
            setting_path(variable)
        settings = settings_from(env)  # raises if a value does not parse
        if "PIC_SEARCH_SERVER__PORT" in env:  # a server in a container listens on all
            assert settings.server.host == "0.0.0.0", name
    gateway_env = service_env(services["gateway"])
    assert gateway_env == pic_search_env(gateway_env)  # settings and nothing else


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pic_search_variable_in_kubernetes_is_a_real_setting(overlay: str) -> None:
    env = kubernetes_env(overlay)
    assert env == pic_search_env(env)  # the gateway gets settings and nothing else
    for variable in env:
        setting_path(variable)
    settings = settings_from(env)
    assert settings.server.host == "0.0.0.0"
    assert settings.store.kind == "s3"
    assert settings.store.s3_access_key.get_secret_value() == SECRET_PLACEHOLDER


def test_the_kubernetes_config_map_or_secret_wires_every_gateway_setting() -> None:
    wired = {setting_path(variable) for variable in kubernetes_env("overlays/prod")}
    wanted = all_setting_paths()
    missing = wanted - wired - set(NOT_IN_KUBERNETES)
    assert not missing, f"settings not wired in deploy/base/gateway.env: {sorted(missing)}"


def test_every_setting_in_the_config_map_is_explained_in_the_deploy_readme() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for variable in kubernetes_env("overlays/prod"):
        assert variable in readme, variable


def test_the_gateway_listens_where_the_probes_services_and_compose_look() -> None:
    port, grpc_port = Settings().server.port, Settings().grpc.port
    for overlay in OVERLAYS:
        docs = render(overlay)
        gateway = named(docs, "Deployment", "gateway")
        env = kubernetes_env(overlay)
        assert int(env["PIC_SEARCH_SERVER__PORT"]) == port
        assert container_port(gateway, "http") == port
        assert int(env["PIC_SEARCH_GRPC__PORT"]) == grpc_port
        assert container_port(gateway, "grpc") == grpc_port
        service_ports = {
            p["name"]: p["port"] for p in named(docs, "Service", "gateway")["spec"]["ports"]
        }
        assert service_ports == {"http": port, "grpc": grpc_port}
    compose_gateway = compose_example()["services"]["gateway"]
    assert int(service_env(compose_gateway)["PIC_SEARCH_SERVER__PORT"]) == port
    assert compose_gateway["ports"][0]["target"] == port


def test_triton_and_milvus_listen_on_the_ports_the_settings_expect() -> None:
    stack = StackSettings()
    for overlay in OVERLAYS:
        triton = named(render(overlay), "Deployment", "triton")
        assert container_port(triton, "http") == stack.triton_http_port
        assert container_port(triton, "grpc") == stack.triton_grpc_port
        assert container_port(triton, "metrics") == stack.triton_metrics_port
        env = kubernetes_env(overlay)
        host, _, grpc = env["PIC_SEARCH_TRITON__URL"].partition(":")
        assert (host, int(grpc)) == ("triton", stack.triton_grpc_port)
        assert urlsplit(env["PIC_SEARCH_MILVUS__URI"]).port == stack.milvus_port
    compose_env = service_env(compose_example()["services"]["gateway"])
    assert compose_env["PIC_SEARCH_TRITON__URL"].endswith(f":{stack.triton_grpc_port}")
    assert urlsplit(compose_env["PIC_SEARCH_MILVUS__URI"]).port == stack.milvus_port


def _route_literals() -> set[str]:
    return set(re.findall(r"[\"'](/[a-z/_{}]*)[\"']", gateway_sources()))


def test_every_gateway_probe_path_is_a_route_in_the_gateway_code() -> None:
    routes = _route_literals()
    paths = {"/healthz", "/readyz", "/metrics"}
    for overlay in OVERLAYS:
        gateway = named(render(overlay), "Deployment", "gateway")
        c = container(gateway, "gateway")
        probes = {c[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe")}
        annotations = gateway["spec"]["template"]["metadata"]["annotations"]
        assert probes | {annotations["prometheus.io/path"], "/readyz"} == paths
        # Readiness is gRPC health checking of picsearch.v1, on the gRPC port.
        readiness = c["readinessProbe"]["grpc"]
        assert readiness["service"] == SERVICE_NAME
        assert container_port(gateway, readiness["port"]) == Settings().grpc.port
    healthcheck = " ".join(compose_example()["services"]["gateway"]["healthcheck"]["test"])
    assert "/healthz" in healthcheck
    missing = paths - routes
    assert not missing, f"no route for {sorted(missing)} in gateway/"


def test_the_gateway_exports_the_metrics_the_dashboard_reads() -> None:
    sources = gateway_sources()
    for metric in ("pic_search_requests", "pic_search_request_seconds", "pic_search_stage_seconds"):
        assert metric in sources, metric
    for stage in ("decode", "triton", "milvus", "store"):
        assert re.search(rf"[\"']{stage}[\"']", sources), stage


def test_the_cli_has_the_commands_the_containers_run() -> None:
    import typer.main

    from gateway.cli.main import app

    cli = typer.main.get_command(app)
    commands = cli.commands  # type: ignore[attr-defined]
    assert "gateway" in commands
    build = commands["models"].commands["build"]
    options = {opt for param in build.params for opt in param.opts}
    assert {"--weights", "--output"} <= options


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_gets_time_to_finish_its_requests_before_it_is_killed(overlay: str) -> None:
    gateway = named(render(overlay), "Deployment", "gateway")
    pause = int(container(gateway, "gateway")["lifecycle"]["preStop"]["exec"]["command"][-1])
    # `pic-search gateway` gives uvicorn request_timeout_s to shut down gracefully.
    drain = float(kubernetes_env(overlay)["PIC_SEARCH_LIMITS__REQUEST_TIMEOUT_S"])
    assert gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > pause + drain
