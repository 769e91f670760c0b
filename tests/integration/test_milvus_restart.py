"""The local Milvus server comes back on its own port when it is started again right after a
stop that closed a client's connection: what `pic-search serve` run twice in a row does."""

from __future__ import annotations

import socket
from pathlib import Path

from pymilvus import MilvusClient

from gateway.serving.milvus import milvus_process
from gateway.serving.process import free_port


def _bindable_without_reuse(port: int) -> bool:
    """How the PyPI launcher probes a port: a plain bind, which a port in TIME_WAIT fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _leave_in_time_wait(port: int) -> None:
    """Puts the port in TIME_WAIT the way a stopped server does: the side bound to it hangs up
    first. A stopped Milvus usually does this itself, but a gRPC client told to go away may
    hang up first, and then the port is free and the test proves nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        with socket.create_connection(("127.0.0.1", port)) as peer:
            accepted, _ = listener.accept()
            accepted.close()  # the port's side closes first: TIME_WAIT stays with it
            peer.recv(1)  # reads the hang-up, then closes its own side


def test_milvus_restarted_at_once_after_a_connected_client_serves_on_its_port(
    tmp_path: Path,
) -> None:
    port = free_port()
    # A short session lease: the new server waits for the last one's sessions to lapse.
    server = milvus_process("server", tmp_path / "milvus", port, session_ttl_s=10)
    with server:
        client = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=30)
        client.create_collection("kept", dimension=4)
        # Stopped while the client is connected, the server usually closes the connection and
        # leaves its port in TIME_WAIT for a minute (the case that used to hang for 180 s);
        # `_leave_in_time_wait` makes sure of it.
        server.stop()
        client.close()
        _leave_in_time_wait(port)
        assert not _bindable_without_reuse(port), "no TIME_WAIT: the case did not arise"
        server.start()
        server.wait_ready()
        again = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=30)
        try:
            assert "kept" in again.list_collections()
        finally:
            again.close()
