"""The local stack runs Milvus and the gateway below Triton's CPU priority, every thread of
them; the benchmarks' load generator lowers itself the same way. Real child processes, read
back from /proc; only `run_stack`'s servers are faked, at the functions that start them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gateway.cli import serve
from gateway.config import Settings
from gateway.serving import local
from gateway.serving.process import ServerProcess
from gateway.serving.stack_settings import StackSettings

# Starts a second thread, then sleeps: each thread's niceness can be read while it runs.
TWO_THREADS = "import threading, time; threading.Thread(target=time.sleep, args=(60,)).start(); "
TWO_THREADS += "time.sleep(60)"


def thread_niceness(pid: int) -> list[int]:
    return [os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir(f"/proc/{pid}/task")]


@pytest.mark.parametrize("nice", [0, 5])
def test_a_server_and_every_thread_it_starts_run_nice_levels_below_its_launcher(
    tmp_path: Path, nice: int
) -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    server = ServerProcess(
        "two-threads",
        [sys.executable, "-c", TWO_THREADS],
        tmp_path / "log",
        ready=lambda: server.proc is not None and len(thread_niceness(server.proc.pid)) == 2,
        nice=nice,
    )
    with server:
        assert server.proc is not None
        assert thread_niceness(server.proc.pid) == [min(ours + nice, 19)] * 2


def test_lowering_our_priority_reaches_every_thread_old_and_new() -> None:
    script = textwrap.dedent(
        """
        import os, threading, time
        from gateway.serving.process import lower_own_priority
        old = threading.Thread(target=time.sleep, args=(2,))
        old.start()
        lower_own_priority(4)
        new = threading.Thread(target=time.sleep, args=(2,))
        new.start()
        tasks = os.listdir("/proc/self/task")
        print(sorted(os.getpriority(os.PRIO_PROCESS, int(t)) for t in tasks))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert out.stdout.strip() == str([min(ours + 4, 19)] * 3)


class Started:
    """What `run_stack` started, and with which niceness (None: the launcher's own)."""

    def __init__(self) -> None:
        self.nice: dict[str, int | None] = {}

    def starter(self, name: str) -> Any:
        def start(*args: Any, **kwargs: Any) -> Any:
            self.nice[name] = kwargs.get("nice")
            return FakeServer()

        return start


class FakeServer:
    running = False  # the gateway "stops" at once, so run_stack returns

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[Started]:
    record = Started()
    for name in ("milvus_process", "triton_process", "gateway_process"):
        monkeypatch.setattr(local, name, record.starter(name))  # what serve starts them with
    monkeypatch.setattr(serve, "built_models", lambda repository: list(Settings().models.enabled))
    monkeypatch.setattr(serve, "_banner", lambda url, console: None)  # asks the gateway
    monkeypatch.setattr(serve, "reindex_if_needed", lambda url, console: None)  # asks too
    yield record


@pytest.mark.parametrize(
    ("env", "nice"), [({}, 6), ({"PIC_SEARCH_STACK__NICE_BELOW_TRITON": "2"}, 2)]
)
def test_serve_starts_milvus_and_the_gateway_below_triton(
    monkeypatch: pytest.MonkeyPatch, started: Started, env: dict[str, str], nice: int
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stack = StackSettings(index_samples=False)
    serve.run_stack(Settings(), stack, Console(quiet=True))
    assert started.nice == {"milvus_process": nice, "triton_process": None, "gateway_process": nice}


@pytest.mark.parametrize("value", ["-1", "20"])
def test_a_niceness_outside_0_to_19_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PIC_SEARCH_STACK__NICE_BELOW_TRITON", value)
    with pytest.raises(ValueError, match="nice_below_triton"):
        StackSettings()
