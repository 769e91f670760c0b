"""Starting the local stack fails fast and says why: ports handed out once, a server that
waits on one that has exited stops waiting, and `pic-search serve` prints the failure and
the log's last lines instead of a traceback. Real child processes; only the socket's port
choice and `run_stack`'s servers are faked."""

from __future__ import annotations

import io
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gateway.cli import serve
from gateway.config import Settings
from gateway.serving import process
from gateway.serving.process import ServerProcess, ServerStartError, free_port
from gateway.serving.stack_settings import StackSettings


class RepeatingSocket(socket.socket):
    """The OS' random pick, made to repeat: the first two binds get the same port."""

    picks = iter([40001, 40001, 40002])

    def getsockname(self) -> Any:
        return ("127.0.0.1", next(self.picks))


def test_free_port_never_hands_out_the_same_port_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "_GIVEN_PORTS", set())
    monkeypatch.setattr(socket, "socket", RepeatingSocket)
    assert [free_port(), free_port()] == [40001, 40002]


def test_a_server_stops_waiting_when_a_server_it_needs_has_exited(tmp_path: Path) -> None:
    needed = ServerProcess("triton", [sys.executable, "-c", "print('port in use'); exit(3)"],
                           tmp_path / "triton.log", ready=lambda: True)  # fmt: skip
    needed.start()
    waiting = ServerProcess("gateway", [sys.executable, "-c", "import time; time.sleep(60)"],
                            tmp_path / "gateway.log", ready=lambda: False, needs=[needed],
                            startup_timeout_s=60)  # fmt: skip
    began = time.monotonic()
    with pytest.raises(ServerStartError, match="triton exited with 3") as failure, waiting:
        pass
    assert time.monotonic() - began < 10  # not the 60 s timeout
    assert "port in use" in str(failure.value)  # the log's tail says why
    assert not waiting.running  # and the waiting server was stopped


def test_serve_prints_a_start_failure_in_a_few_lines_and_exits_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @contextmanager
    def failing_servers(*args: Any, **kwargs: Any) -> Iterator[None]:
        raise ServerStartError(
            "triton exited with 1; log: /data/triton/triton.log\n"
            + "\n".join(f"line {n}" for n in range(20))
            + "\nE main.cc] failed to start Metrics service: Socket '0.0.0.0:33597' in use"
        )
        yield

    monkeypatch.setattr(serve, "local_servers", failing_servers)
    monkeypatch.setattr(serve, "built_models", lambda repository: list(Settings().models.enabled))
    out = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        serve.run_stack(Settings(), StackSettings(), Console(file=out, width=200))
    assert stopped.value.code == 1
    printed = out.getvalue()
    assert "could not start: triton exited with 1; log: /data/triton/triton.log" in printed
    assert "Socket '0.0.0.0:33597' in use" in printed  # the reason, brackets and all
    assert "line 0" not in printed and "Traceback" not in printed
    assert len(printed.splitlines()) <= 10
