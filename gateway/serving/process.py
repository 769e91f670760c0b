"""A child server process: started in its own process group, stopped with all its children."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A port that is free now and that this process has not handed out before: the OS
    picks ephemeral ports at random, and a stack asks for five at once before any server
    binds one (CI once gave Milvus and Triton's metrics the same port)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


class ServerStartError(RuntimeError):
    """A server exited or never became ready while starting; the message names its log."""


class ServerProcess:
    """`with ServerProcess(...) as p:` starts, waits for readiness, and always stops."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        ready: Callable[[], bool],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        startup_timeout_s: float = 300.0,
        nice: int = 0,
        needs: Sequence[ServerProcess] = (),
    ) -> None:
        """`nice`: how far below this process' CPU priority the server runs (see
        `StackSettings.nice_below_triton`). `needs`: servers this one waits on; if one of
        them exits meanwhile, starting fails at once instead of at the timeout."""
        self.name = name
        # `nice` execs the server with the new niceness, so every thread it starts has it.
        self.argv = ["nice", "-n", str(nice), *argv] if nice else list(argv)
        self.log_path = log_path
        self.ready = ready
        self.env = env
        self.cwd = cwd
        self.startup_timeout_s = startup_timeout_s
        self.needs = list(needs)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A new session makes the server a process-group leader: stop() reaches its children.
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            for server in (self, *self.needs):
                server.raise_if_exited()
            try:
                if self.ready():
                    return
            except Exception:  # not listening yet
                pass
            time.sleep(0.5)
        raise ServerStartError(
            f"{self.name} not ready after {self.startup_timeout_s} s; log: {self.log_path}"
        )

    def raise_if_exited(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ServerStartError(
                f"{self.name} exited with {self.proc.returncode}; log: {self.log_path}\n"
                + self.log_tail()
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM to the whole group, wait for every member to exit, SIGKILL leftovers.

        Waiting for the group, not just the leader, matters: a launcher (milvus-server)
        exits at once while its server is still shutting down; killing the server then
        leaves stale sessions that stall the next start.
        """
        if self.proc is None:
            return
        pgid = self.proc.pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _group_alive(pgid):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.2)
        _signal_group(pgid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def pause(self) -> None:
        """Freeze the server (fault tests): it stops answering but keeps its state, like a
        network partition."""
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """Crash the server (fault tests): no graceful shutdown."""
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> ServerProcess:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def lower_own_priority(nice: int) -> None:
    """Run every thread of this process `nice` levels lower, and the threads they start.

    Linux keeps a niceness per thread and a new thread inherits its creator's, so each
    existing thread is changed, not only the calling one."""
    if nice <= 0:
        return
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        with contextlib.suppress(ProcessLookupError):  # a thread that has just ended
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def venv_bin() -> Path:
    """The `bin/` of the running interpreter's environment."""
    return Path(sys.executable).parent
