"""Outages on gRPC: UNAVAILABLE (with the HTTP API's code and a RetryInfo) while Triton or
Milvus is down, health NOT_SERVING, and SERVING again by itself once it is back."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.grpc.client import GrpcApiError, ImageToIndex, PicSearchClient
from gateway.grpc.stubs import pb, pb_grpc
from gateway.serving.milvus import milvus_process
from gateway.serving.process import free_port
from tests.integration import images
from tests.integration.conftest import GatewayFactory, RunningGateway, RunningTriton
from tests.integration.support import wait_until
from tests.integration.test_outages import OUTAGE_ENV


def _serving(client: PicSearchClient) -> bool:
    return client.health() == "SERVING"


def _assert_unavailable(client: PicSearchClient, call: Callable[[], object], code: str) -> None:
    with pytest.raises(GrpcApiError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (grpc.StatusCode.UNAVAILABLE, code)


def _retry_delay_s(gateway: RunningGateway) -> int:
    """The RetryInfo detail of an UNAVAILABLE search, read with grpcio-status."""
    channel = grpc.insecure_channel(gateway.grpc_target)
    stub = pb_grpc.PicSearchStub(channel)  # type: ignore[no-untyped-call]
    try:
        stub.SearchByText(pb.SearchByTextRequest(query="x", model="clip"), timeout=60)
    except grpc.RpcError as exc:
        status = rpc_status.from_call(exc)  # type: ignore[arg-type]
        assert status is not None
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return int(info.retry_delay.seconds)
    finally:
        channel.close()
    raise AssertionError("no RetryInfo")


def test_triton_down_is_unavailable_and_not_serving_then_recovers(
    gateway_factory: GatewayFactory, triton: RunningTriton
) -> None:
    with (
        gateway_factory("grpcout", OUTAGE_ENV) as gateway,
        PicSearchClient(gateway.grpc_target, timeout_s=60) as client,
    ):
        wait_until(lambda: _serving(client), 90)
        photo = images.save(images.photo("moon"), "JPEG")
        triton.process.kill()
        try:
            wait_until(lambda: not _serving(client), 30)
            _assert_unavailable(
                client, lambda: client.search_by_text("x", model="clip"), "triton_unavailable"
            )
            _assert_unavailable(
                client,
                lambda: list(client.index_images([ImageToIndex("m.jpg", photo)])),
                "triton_unavailable",
            )
            assert _retry_delay_s(gateway) == int(OUTAGE_ENV["PIC_SEARCH_TRITON__RETRY_AFTER_S"])
        finally:
            triton.restart()
        wait_until(lambda: _serving(client), 90)
        assert client.search_by_text("x", top_k=1, model="clip").model == "clip"
        (result,) = client.index_images([ImageToIndex("m.jpg", photo)])
        assert result.status == "created"  # the failed attempt left nothing behind


def test_milvus_down_is_unavailable_and_not_serving_then_recovers(
    gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Milvus Lite's server restarts cleanly under a connected client (see test_outages.py).
    port = free_port()
    with milvus_process("lite", tmp_path_factory.mktemp("grpc-milvus"), port) as lite:
        env = {**OUTAGE_ENV, "PIC_SEARCH_MILVUS__URI": f"http://127.0.0.1:{port}"}
        with (
            gateway_factory("grpcmilvus", env) as gateway,
            PicSearchClient(gateway.grpc_target, timeout_s=60) as client,
        ):
            wait_until(lambda: _serving(client), 90)
            lite.stop()
            try:
                wait_until(lambda: not _serving(client), 30)
                _assert_unavailable(
                    client, lambda: client.search_by_text("x", model="clip"), "milvus_unavailable"
                )
                _assert_unavailable(client, client.stats, "milvus_unavailable")
            finally:
                lite.start()
                lite.wait_ready()
            wait_until(lambda: _serving(client), 120)
            assert client.search_by_text("x", top_k=1, model="clip").model == "clip"
