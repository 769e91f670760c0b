"""The Grafana dashboard and its provisioning show what the issue asks, from real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.support import DEPLOY, ROOT, compose_example, render

MONITORING = DEPLOY / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "pic-search.json"

GATEWAY_METRICS = {
    "pic_search_requests_total",
    "pic_search_request_seconds_bucket",
    "pic_search_stage_seconds_bucket",
}
# Triton's documented metric names (docs/user_guide/metrics.md).
TRITON_METRICS = {
    "nv_inference_request_success",
    "nv_inference_request_failure",
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_inference_request_duration_us",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_input_duration_us",
    "nv_inference_compute_infer_duration_us",
    "nv_inference_compute_output_duration_us",
    "nv_gpu_utilization",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_memory_total_bytes",
}
METRIC = re.compile(r"\b(?:pic_search|nv)_[a-z0-9_]+\b")


def dashboard() -> dict[str, Any]:
    value = json.loads(DASHBOARD.read_text())
    assert isinstance(value, dict)
    return value


def queries() -> dict[str, list[str]]:
    return {
        panel["title"]: [target["expr"] for target in panel.get("targets", [])]
        for panel in dashboard()["panels"]
        if panel["type"] != "row"
    }


def test_every_query_uses_metrics_the_gateway_or_triton_export() -> None:
    used = {m for exprs in queries().values() for e in exprs for m in METRIC.findall(e)}
    assert used <= GATEWAY_METRICS | TRITON_METRICS, used - (GATEWAY_METRICS | TRITON_METRICS)
    assert used >= GATEWAY_METRICS


def test_the_dashboard_shows_request_rate_stage_latency_queue_time_and_batch_size() -> None:
    by_title = queries()
    text = {title: " ".join(exprs) for title, exprs in by_title.items()}

    def panel(pattern: str) -> str:
        found = [t for t in text if re.search(pattern, t, re.IGNORECASE)]
        assert len(found) == 1, (pattern, list(text))
        return text[found[0]]

    assert "rate(pic_search_requests_total" in panel("^request rate")
    for label, phi in (("p50", "0.5"), ("p99", "0.99")):
        stage = panel(rf"^stage latency {label}\b")
        assert f"histogram_quantile({phi}," in stage and "by (le, stage)" in stage
    queue = panel("queue time")
    assert "nv_inference_queue_duration_us" in queue and "nv_inference_request_success" in queue
    batch = panel("batch size")
    assert "nv_inference_count" in batch and "nv_inference_exec_count" in batch


def test_panels_use_the_templated_prometheus_data_source_and_do_not_overlap() -> None:
    board = dashboard()
    (variable,) = board["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        own = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not own & cells, panel["title"]
        cells |= own
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_compose_provisions_grafana_with_prometheus_and_the_dashboard() -> None:
    grafana = compose_example()["services"]["grafana"]
    mounts = {
        Path(v["source"]).relative_to(ROOT).as_posix(): v["target"]
        for v in grafana["volumes"]
        if v["type"] == "bind"
    }
    provisioning = MONITORING / "grafana" / "provisioning"
    assert mounts["deploy/monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = datasource["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "pic-search.yml").read_text())
    (entry,) = provider["providers"]
    dashboards_dir = mounts["deploy/monitoring/grafana/dashboards"]
    assert entry["options"]["path"] == dashboards_dir


def test_the_cluster_dashboard_config_map_carries_the_same_dashboard() -> None:
    (config_map,) = render("monitoring")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["pic-search.json"]) == dashboard()
