"""The Kustomize overlays render, validate strictly, and hang together."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from packaging.version import Version

from tests.deploy.support import (
    DEPLOY,
    KUSTOMIZATIONS,
    OVERLAYS,
    Doc,
    all_containers,
    config_map_env,
    container,
    container_port,
    image_is_pinned,
    matches,
    named,
    of_kind,
    pod_spec,
    render,
)

BACKEND_ACCESS = {"pic-search.io/backend-access": "true"}
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}


def workloads(overlay: str) -> list[Doc]:
    return of_kind(render(overlay), "Deployment")


def test_the_newest_bundled_kubernetes_version_is_a_current_one() -> None:
    assert Version(latest_version()) >= Version("1.33")


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_kustomization_validates_strictly_against_the_newest_kubernetes(
    kustomization: str,
) -> None:
    docs = render(kustomization)
    assert docs
    for doc in docs:
        # Strict: an unknown field fails; so does a kind without a schema (SchemaNotFoundError).
        try:
            kubernetes_validate.validate(doc, latest_version(), strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(part) for part in exc.path)
            name = f"{doc['kind']}/{doc['metadata']['name']}"
            raise AssertionError(f"{name}: {where}: {exc.message}") from None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_holds_the_whole_application(overlay: str) -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in render(overlay)}
    for expected in [
        ("Deployment", "gateway"),
        ("Deployment", "triton"),
        ("Service", "gateway"),
        ("Service", "triton"),
        ("Ingress", "gateway"),
        ("HorizontalPodAutoscaler", "gateway"),
        ("HorizontalPodAutoscaler", "triton"),
        ("PodDisruptionBudget", "gateway"),
        ("PodDisruptionBudget", "triton"),
        ("NetworkPolicy", "default-deny-ingress"),
    ]:
        assert expected in kinds
    namespaces = {doc["metadata"].get("namespace") for doc in render(overlay)}
    namespaces.discard(None)
    (namespace,) = namespaces
    assert ("Namespace", namespace) in kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_image_is_pinned_to_a_version(overlay: str) -> None:
    for workload in workloads(overlay):
        for c in all_containers(workload):
            assert image_is_pinned(c["image"]), c["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_as_non_root_with_a_read_only_root_filesystem(overlay: str) -> None:
    for workload in workloads(overlay):
        pod_security = pod_spec(workload)["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert pod_security["runAsUser"] != 0
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod_spec(workload)["automountServiceAccountToken"] is False
        for c in all_containers(workload):
            security = c["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, c["name"]
            assert security["allowPrivilegeEscalation"] is False, c["name"]
            assert security["capabilities"]["drop"] == ["ALL"], c["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_requests_and_limits_cpu_and_memory(overlay: str) -> None:
    for workload in workloads(overlay):
        for c in all_containers(workload):
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), (c["name"], bound)


def test_only_the_prod_triton_gets_a_gpu_and_the_dev_one_runs_the_cpu_configs() -> None:
    prod = container(named(render("overlays/prod"), "Deployment", "triton"), "triton")
    dev = container(named(render("overlays/dev"), "Deployment", "triton"), "triton")
    assert prod["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in dev["resources"]["limits"]
    # prod serves configs/onnx.pbtxt (ONNX Runtime + TensorRT), dev the CPU runner: one each.
    assert [a for a in dev["args"] if a.startswith("--model-config-name")] == [
        "--model-config-name=cpu"
    ]
    assert [a for a in prod["args"] if a.startswith("--model-config-name")] == [
        "--model-config-name=onnx"
    ]
    assert "/triton-python:" in dev["image"]
    assert "/triton:" in prod["image"]
    prod_pod = pod_spec(named(render("overlays/prod"), "Deployment", "triton"))
    assert any(t["key"] == "nvidia.com/gpu" for t in prod_pod["tolerations"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_triton_probes_use_its_health_endpoints_on_its_http_port(overlay: str) -> None:
    triton = named(render(overlay), "Deployment", "triton")
    c = container(triton, "triton")
    expected = {
        "startupProbe": "/v2/health/ready",
        "readinessProbe": "/v2/health/ready",
        "livenessProbe": "/v2/health/live",
    }
    for probe, path in expected.items():
        assert c[probe]["httpGet"]["path"] == path
        assert container_port(triton, c[probe]["httpGet"]["port"]) == 8000
    assert "--http-port=8000" in c["args"]
    assert "--grpc-port=8001" in c["args"]
    assert "--metrics-port=8002" in c["args"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_triton_gets_shared_memory_and_a_model_repository_from_an_init_container(
    overlay: str,
) -> None:
    triton = named(render(overlay), "Deployment", "triton")
    volumes = {v["name"]: v for v in pod_spec(triton)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(triton, "triton")["volumeMounts"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"
    assert "--model-repository=/models" in container(triton, "triton")["args"]
    (init,) = pod_spec(triton)["initContainers"]
    init_mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert init["command"][-1].rstrip("/") == init_mounts[mounts["/models"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rollouts_never_drop_below_the_running_capacity(overlay: str) -> None:
    for workload in workloads(overlay):
        assert workload["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_route_to_ports_their_pods_expose(overlay: str) -> None:
    docs = render(overlay)
    for service in of_kind(docs, "Service"):
        selected = [
            w
            for w in workloads(overlay)
            if matches(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            assert container_port(selected[0], port["targetPort"]) == port["port"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers_target_deployments_that_leave_the_replica_count_to_them(
    overlay: str,
) -> None:
    docs = render(overlay)
    gateway_hpa = named(docs, "HorizontalPodAutoscaler", "gateway")
    assert gateway_hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        target = named(docs, "Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        assert "replicas" not in target["spec"]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert named(docs, "HorizontalPodAutoscaler", "gateway")["spec"]["maxReplicas"] > 1


def test_prod_runs_several_gateways_and_two_tritons_at_least() -> None:
    docs = render("overlays/prod")
    assert named(docs, "HorizontalPodAutoscaler", "gateway")["spec"]["minReplicas"] >= 2
    assert named(docs, "HorizontalPodAutoscaler", "triton")["spec"]["minReplicas"] >= 2


def test_the_triton_autoscaler_reads_the_queue_time_the_prometheus_adapter_serves() -> None:
    adapter = yaml.safe_load((DEPLOY / "monitoring" / "prometheus-adapter-values.yaml").read_text())
    (rule,) = adapter["rules"]["custom"]
    hpa = named(render("overlays/prod"), "HorizontalPodAutoscaler", "triton")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == rule["name"]["as"]
    query = rule["metricsQuery"]
    numerator, _, denominator = query.partition("/")
    assert "rate(nv_inference_queue_duration_us{<<.LabelMatchers>>}" in numerator
    assert "rate(nv_inference_request_success{<<.LabelMatchers>>}" in denominator
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_cover_the_gateway_and_triton(overlay: str) -> None:
    docs = render(overlay)
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        covered = [
            w
            for w in workloads(overlay)
            if matches(
                pdb["spec"]["selector"]["matchLabels"],
                w["spec"]["template"]["metadata"]["labels"],
            )
        ]
        assert [w["metadata"]["name"] for w in covered] == [pdb["metadata"]["name"]]


def _policies_for(docs: tuple[Doc, ...], labels: dict[str, str]) -> list[Doc]:
    return [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if p["spec"]["podSelector"] and matches(p["spec"]["podSelector"]["matchLabels"], labels)
    ]


# Pod labels of Milvus' Helm release `milvus` (chart zilliztech/milvus 5.x): Milvus itself,
# its etcd (Bitnami labels) and its MinIO (the chart's own labels).
MILVUS_PODS = {
    "milvus": {"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": "milvus"},
    "etcd": {"app.kubernetes.io/name": "etcd", "app.kubernetes.io/instance": "milvus"},
    "minio": {"app": "minio", "release": "milvus"},
}
MILVUS_INTERNAL = [{"app.kubernetes.io/instance": "milvus"}, {"release": "milvus"}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_reaches_triton_and_milvus(overlay: str) -> None:
    docs = render(overlay)
    default_deny = named(docs, "NetworkPolicy", "default-deny-ingress")
    assert default_deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}

    carriers = [
        w["metadata"]["name"]
        for w in workloads(overlay)
        if matches(BACKEND_ACCESS, w["spec"]["template"]["metadata"]["labels"])
    ]
    assert carriers == ["gateway"]

    triton = named(docs, "Deployment", "triton")
    targets = {"triton": triton["spec"]["template"]["metadata"]["labels"], **MILVUS_PODS}
    metrics_ports = {"triton": {8002}, "milvus": {9091}, "etcd": set(), "minio": set()}
    for target, labels in targets.items():
        policies = _policies_for(docs, labels)
        assert policies, f"no NetworkPolicy selects {target}"
        for policy in policies:
            for rule in policy["spec"]["ingress"]:
                ports = {p["port"] for p in rule.get("ports", [])}
                for peer in rule["from"]:
                    if "namespaceSelector" in peer:
                        # Only the monitoring namespace, and only on metrics ports.
                        assert peer["namespaceSelector"]["matchLabels"] == MONITORING
                        assert ports and ports <= metrics_ports[target], (target, ports)
                        continue
                    selector = peer["podSelector"]["matchLabels"]
                    internal = target != "triton" and any(
                        matches(m, selector) for m in MILVUS_INTERNAL
                    )
                    assert selector == BACKEND_ACCESS or internal, (target, selector)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_monitoring_namespace_may_scrape_every_metrics_port(overlay: str) -> None:
    docs = render(overlay)
    triton = named(docs, "Deployment", "triton")
    gateway = named(docs, "Deployment", "gateway")
    metrics_ports = [
        (triton["spec"]["template"]["metadata"]["labels"], container_port(triton, "metrics")),
        (gateway["spec"]["template"]["metadata"]["labels"], container_port(gateway, "http")),
        (MILVUS_PODS["milvus"], 9091),
    ]
    for labels, port in metrics_ports:
        allowed = [
            rule
            for policy in _policies_for(docs, labels)
            for rule in policy["spec"]["ingress"]
            if any(
                peer.get("namespaceSelector", {}).get("matchLabels") == MONITORING
                for peer in rule["from"]
            )
            and port in {p["port"] for p in rule.get("ports", [])}
        ]
        assert allowed, (labels, port)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_annotated_for_scraping_on_their_metrics_ports(overlay: str) -> None:
    for workload in workloads(overlay):
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        container_port(workload, int(annotations["prometheus.io/port"]))


def _bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)", size.lower())
    assert match, size
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_accepts_requests_as_large_as_the_gateway_does(overlay: str) -> None:
    docs = render(overlay)
    ingress = named(docs, "Ingress", "gateway")
    body = _bytes(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"])
    env = config_map_env(docs, named(docs, "Deployment", "gateway"), "gateway")
    assert body >= int(env["PIC_SEARCH_LIMITS__MAX_REQUEST_BYTES"])
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "gateway"


def test_prod_terminates_tls_for_its_host() -> None:
    ingress = named(render("overlays/prod"), "Ingress", "gateway")
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == [ingress["spec"]["rules"][0]["host"]]


def test_prod_commits_no_secret_and_dev_generates_every_key_the_gateway_reads() -> None:
    assert of_kind(render("overlays/prod"), "Secret") == []
    dev = render("overlays/dev")
    (secret,) = of_kind(dev, "Secret")
    gateway = named(dev, "Deployment", "gateway")
    wanted = {
        var["valueFrom"]["secretKeyRef"]["key"]
        for var in container(gateway, "gateway")["env"]
        if "valueFrom" in var and not var["valueFrom"]["secretKeyRef"].get("optional")
    }
    wanted |= {
        item["key"]
        for volume in pod_spec(gateway)["volumes"]
        if "secret" in volume
        for item in volume["secret"]["items"]
    }
    assert wanted <= set(secret["data"])
    referenced = {
        var["valueFrom"]["secretKeyRef"]["name"]
        for var in container(gateway, "gateway")["env"]
        if "valueFrom" in var
    }
    assert referenced == {secret["metadata"]["name"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_reads_its_api_keys_from_the_mounted_secret(overlay: str) -> None:
    docs = render(overlay)
    gateway = named(docs, "Deployment", "gateway")
    env = config_map_env(docs, gateway, "gateway")
    keys_file = env["PIC_SEARCH_AUTH__API_KEYS_FILE"]
    mounts = {m["name"]: m["mountPath"] for m in container(gateway, "gateway")["volumeMounts"]}
    for volume in pod_spec(gateway)["volumes"]:
        if "secret" in volume:
            paths = {f"{mounts[volume['name']]}/{i['path']}" for i in volume["secret"]["items"]}
            assert keys_file in paths
            break
    else:
        raise AssertionError("no Secret volume for the API keys")
