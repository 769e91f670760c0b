"""When a started gateway counts as up: ready, or (for `pic-search serve`, which then
reindexes) unready only because its collections were built with other weights or precision."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.serving.gateway import gateway_ready

UP = {"triton": True, "milvus": True, "store": True}


@pytest.fixture
def readyz() -> Iterator[tuple[str, dict[str, object]]]:
    """A server whose `/readyz` answers `answer["status"]` with `answer["checks"]`."""
    answer: dict[str, object] = {"status": 200, "checks": UP}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"ready": answer["status"] == 200, "checks": answer["checks"]})
            self.send_response(int(str(answer["status"])))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answer
    finally:
        server.shutdown()


def test_ready_is_up_either_way(readyz: tuple[str, dict[str, object]]) -> None:
    url, _ = readyz
    assert gateway_ready(url) and gateway_ready(url, reindexable=True)


def test_collections_of_other_weights_count_only_where_serve_reindexes_them(
    readyz: tuple[str, dict[str, object]],
) -> None:
    url, answer = readyz
    answer.update(status=503, checks=UP | {"collections": False})
    assert not gateway_ready(url)
    assert gateway_ready(url, reindexable=True)


def test_a_dependency_down_is_never_up(readyz: tuple[str, dict[str, object]]) -> None:
    url, answer = readyz
    answer.update(status=503, checks=UP | {"triton": False})
    assert not gateway_ready(url) and not gateway_ready(url, reindexable=True)
