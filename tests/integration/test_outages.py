"""Outages: 503 with Retry-After while a dependency is down, readiness follows it, the
gateway recovers by itself, every acknowledged image survives and no failed one leaves
a trace. These tests stop and restart the session's Triton and Milvus servers."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway.models.registry import DEFAULT_ENABLED
from gateway.serving.milvus import milvus_process
from gateway.serving.process import free_port
from tests.imaging import distinct_jpegs
from tests.integration import images
from tests.integration.conftest import (
    GatewayFactory,
    RunningGateway,
    RunningMilvus,
    RunningTriton,
    gateway_fixture,
)
from tests.integration.support import wait_until

# Two different Retry-After values, neither the default 5, so each 503 shows whose it is.
TRITON_RETRY_AFTER_S = 2
MILVUS_RETRY_AFTER_S = 3
OUTAGE_ENV = {
    "PIC_SEARCH_TRITON__TIMEOUT_S": "3",
    "PIC_SEARCH_MILVUS__TIMEOUT_S": "3",
    "PIC_SEARCH_TRITON__RETRY_AFTER_S": str(TRITON_RETRY_AFTER_S),
    "PIC_SEARCH_MILVUS__RETRY_AFTER_S": str(MILVUS_RETRY_AFTER_S),
}
TRITON_DOWN = ("triton_unavailable", TRITON_RETRY_AFTER_S)
MILVUS_DOWN = ("milvus_unavailable", MILVUS_RETRY_AFTER_S)


gateway_under_test = gateway_fixture("outage", OUTAGE_ENV)
# Default deadlines: a 12-image upload through VGG16 takes longer than the outage tests'
# 3 s Triton deadline on 2 busy cores.
graceful_gateway = gateway_fixture("graceful")


def _distinct_jpegs(count: int, seed: int) -> list[bytes]:
    return distinct_jpegs(images.photo("astronaut"), count, seed)


def _ready(gateway: RunningGateway) -> bool:
    return httpx.get(f"{gateway.url}/readyz", timeout=30).status_code == 200


def _in_flight(gateway: RunningGateway) -> float:
    metrics = httpx.get(f"{gateway.url}/metrics", timeout=30).text
    gauge = "pic_search_api_requests_in_flight "
    return float(next(m for m in metrics.splitlines() if m.startswith(gauge)).split()[-1])


class Ingester(threading.Thread):
    """Uploads images one per request, recording which were acknowledged with 201; any
    answer but 201 or the expected outage's 503 (its code and Retry-After) is unexpected."""

    def __init__(
        self, gateway: RunningGateway, files: list[bytes], outage: tuple[str, int] = TRITON_DOWN
    ) -> None:
        super().__init__(daemon=True)
        self.gateway, self.files = gateway, files
        self.code, self.retry_after_s = outage
        self.acknowledged: list[str] = []
        self.failed: list[str] = []
        self.statuses: list[int] = []
        self.unexpected: list[str] = []

    def run(self) -> None:
        with self.gateway.client() as client:
            for data in self.files:
                image_id = hashlib.sha256(data).hexdigest()
                response = client.post("/v1/images", files=[("files", ("i.jpg", data))])
                self.statuses.append(response.status_code)
                if response.status_code == 201:
                    self.acknowledged.append(image_id)
                elif (
                    response.status_code == 503
                    and response.json()["error"]["code"] == self.code
                    and response.headers.get("retry-after") == str(self.retry_after_s)
                ):
                    self.failed.append(image_id)
                    time.sleep(0.5)
                else:
                    # Recorded, not asserted: an assertion here would only end this thread.
                    self.unexpected.append(
                        f"{response.status_code} retry-after={response.headers.get('retry-after')}"
                        f" {response.text[:200]}"
                    )


def _assert_nothing_lost_nothing_left(
    gateway: RunningGateway, ingester: Ingester, store: Path
) -> None:
    with gateway.client() as client:
        stats = client.get("/v1/stats")
        assert stats.status_code == 200, stats.text
        models = sorted(c["model"] for c in stats.json()["collections"].values())
        assert models == sorted(DEFAULT_ENABLED)  # every collection is checked below
        for image_id in ingester.acknowledged:
            assert client.get(f"/v1/images/{image_id}").status_code == 200
            for model in models:
                found = client.get(f"/v1/images/{image_id}/similar", params={"model": model})
                assert found.status_code == 200, f"{image_id} lost its {model} vector"
        for image_id in set(ingester.failed) - set(ingester.acknowledged):
            assert client.get(f"/v1/images/{image_id}").status_code == 404
            assert not list(store.rglob(f"{image_id}.*")), "a failed ingest left files"

    # A failed ingest's vectors are gone from every collection; those it could not take
    # back at once (a timed-out write may land late) are swept within seconds. Checked per
    # id: count(*) on this Milvus build under-counts after a freeze, while gets are exact.
    failed = set(ingester.failed) - set(ingester.acknowledged)

    def no_vectors_left() -> bool:
        with gateway.client() as client:
            return all(
                client.get(f"/v1/images/{i}/similar", params={"model": m}).status_code == 404
                for i in failed
                for m in models
            )

    wait_until(no_vectors_left, 60)


def test_readiness_follows_triton_and_requests_get_503_with_retry_after(
    gateway_under_test: RunningGateway, triton: RunningTriton
) -> None:
    assert _ready(gateway_under_test)
    triton.process.kill()
    try:
        wait_until(lambda: not _ready(gateway_under_test), 30)
        response = httpx.get(
            f"{gateway_under_test.url}/v1/search/text",
            params={"q": "x", "model": "clip"},
            timeout=60,
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "triton_unavailable"
        assert response.headers["retry-after"] == str(TRITON_RETRY_AFTER_S)
        assert httpx.get(f"{gateway_under_test.url}/healthz", timeout=10).status_code == 200
    finally:
        triton.restart()
    wait_until(lambda: _ready(gateway_under_test), 60)
    response = httpx.get(
        f"{gateway_under_test.url}/v1/search/text", params={"q": "x", "model": "clip"}, timeout=60
    )
    assert response.status_code == 200


def _outage_during_bulk_ingest(
    gateway: RunningGateway,
    seed: int,
    outage: tuple[str, int],
    cause: Callable[[], None],
    end: Callable[[], None],
) -> None:
    """Bulk ingest; `cause` an outage after 5 uploads, `end` it once 2 have failed with the
    outage's code and Retry-After; then every 201 is found in every collection, no 503 left
    a trace, and new uploads succeed without a restart."""
    files = _distinct_jpegs(24, seed=seed)
    with gateway.client() as client:  # "no 503 left a trace" below needs them all new
        for data in files:
            image_id = hashlib.sha256(data).hexdigest()
            assert client.get(f"/v1/images/{image_id}").status_code == 404, image_id
    ingester = Ingester(gateway, files, outage)
    ingester.start()
    wait_until(lambda: len(ingester.acknowledged) >= 5, 120)
    cause()
    try:
        wait_until(lambda: not _ready(gateway), 30)
        # An answer with another code or Retry-After ends the wait too: the assertion
        # below then names it, instead of this wait timing out.
        wait_until(lambda: len(ingester.failed) >= 2 or bool(ingester.unexpected), 60)
    finally:
        end()
    ingester.join(timeout=300)
    assert not ingester.is_alive()
    assert ingester.unexpected == []
    wait_until(lambda: _ready(gateway), 60)
    after = Ingester(gateway, _distinct_jpegs(3, seed=seed + 100))
    after.run()
    assert len(after.acknowledged) == 3, after.unexpected or after.failed
    store = Path(gateway.env["PIC_SEARCH_STORE__PATH"])
    _assert_nothing_lost_nothing_left(gateway, ingester, store)


def test_killing_triton_during_bulk_ingest_loses_no_acknowledged_image(
    gateway_under_test: RunningGateway, triton: RunningTriton
) -> None:
    _outage_during_bulk_ingest(
        gateway_under_test, 1, TRITON_DOWN, triton.process.kill, triton.restart
    )


def test_restarting_milvus_during_bulk_ingest_loses_no_acknowledged_image(
    gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Milvus Lite's server: it restarts in seconds, where the standalone server waits out
    # its last run's session lease (test_milvus_restart.py restarts that one).
    port = free_port()
    with milvus_process("lite", tmp_path_factory.mktemp("milvus-lite-server"), port) as lite:
        env = {**OUTAGE_ENV, "PIC_SEARCH_MILVUS__URI": f"http://127.0.0.1:{port}"}

        def start_again() -> None:
            lite.start()
            lite.wait_ready()

        with gateway_factory("restart", env) as gateway:
            _outage_during_bulk_ingest(gateway, 5, MILVUS_DOWN, lite.stop, start_again)


def test_a_frozen_milvus_during_bulk_ingest_loses_no_acknowledged_image(
    gateway_under_test: RunningGateway, milvus: RunningMilvus
) -> None:
    # A frozen server (SIGSTOP) is a network partition: connections hang, not refused.
    # The test above restarts Milvus Lite's server under load.
    _outage_during_bulk_ingest(
        gateway_under_test, 2, MILVUS_DOWN, milvus.process.pause, milvus.process.resume
    )


def test_graceful_shutdown_finishes_in_flight_ingests(
    graceful_gateway: RunningGateway,
) -> None:
    files = _distinct_jpegs(12, seed=3)
    result: dict[str, httpx.Response] = {}

    def upload() -> None:
        with graceful_gateway.client() as client:
            result["r"] = client.post("/v1/images", files=[("files", ("i.jpg", d)) for d in files])

    thread = threading.Thread(target=upload)
    thread.start()
    # The gateway itself says the upload is in flight (its /v1 in-flight gauge, which the
    # /metrics scrape does not count), and it has not answered yet.
    wait_until(lambda: _in_flight(graceful_gateway) >= 1, 60)
    assert "r" not in result
    assert graceful_gateway.process.proc is not None
    graceful_gateway.process.proc.send_signal(signal.SIGTERM)
    thread.join(timeout=120)
    assert result["r"].status_code == 201, result["r"].text
    assert len(result["r"].json()["results"]) == len(files)
    graceful_gateway.process.proc.wait(timeout=60)
    graceful_gateway.process.start()
    graceful_gateway.process.wait_ready()
    with graceful_gateway.client() as client:
        for data in files:
            image_id = hashlib.sha256(data).hexdigest()
            assert (
                client.get(f"/v1/images/{image_id}/similar", params={"top_k": 1}).status_code == 200
            )
