"""Starts the real `tritonserver` binary that ships in the `nvidia-pytriton` wheel.

The wheel keeps the Python backend and its per-Python-version stub in separate folders;
Triton wants them together, so we assemble a backend directory of symlinks. The venv's
`bin/` goes first on PATH so the stub's Python sees the venv (TensorFlow for model.py).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.models.registry import REGISTRY, triton_models
from gateway.serving.process import ServerProcess, venv_bin

CPU_CONFIG = "configs/cpu.pbtxt"  # what the local stack and the tests serve


@dataclass(frozen=True)
class TritonPorts:
    http: int = 8000
    grpc: int = 8001
    metrics: int = 8002


def pytriton_root() -> Path:
    import pytriton

    return Path(pytriton.__file__).parent


def backend_directory(workdir: Path) -> Path:
    """`<workdir>/backends/python/` with the backend library, its utils and our Python's stub."""
    root = pytriton_root() / "tritonserver"
    python_backend = workdir / "backends" / "python"
    python_backend.mkdir(parents=True, exist_ok=True)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    sources = [
        root / "backends" / "python" / "libtriton_python.so",
        root / "backends" / "python" / "triton_python_backend_utils.py",
        root / "python_backend_stubs" / version / "triton_python_backend_stub",
    ]
    for source in sources:
        link = python_backend / source.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source)
    return workdir / "backends"


def triton_process(
    repository: Path,
    workdir: Path,
    ports: TritonPorts,
    served: list[str],
    config_name: str = "cpu",
    startup_timeout_s: float = 600.0,
) -> ServerProcess:
    """Triton serving the Triton models `served` and no others (explicit model control:
    a repository may hold more models than are enabled)."""
    root = pytriton_root()
    env = dict(os.environ)
    libs = root.parent / "nvidia_pytriton.libs"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(libs), str(root / "tritonserver" / "lib"), env.get("LD_LIBRARY_PATH")) if p
    )
    env["PATH"] = os.pathsep.join((str(venv_bin()), env.get("PATH", "")))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = [
        str(root / "tritonserver" / "bin" / "tritonserver"),
        f"--model-repository={repository.resolve()}",
        f"--backend-directory={backend_directory(workdir)}",
        f"--model-config-name={config_name}",
        f"--http-port={ports.http}",
        f"--grpc-port={ports.grpc}",
        f"--metrics-port={ports.metrics}",
        "--allow-metrics=true",
        "--log-verbose=0",
        "--exit-on-error=true",
        "--model-control-mode=explicit",
        *(f"--load-model={name}" for name in served),
    ]
    return ServerProcess(
        "triton",
        argv,
        workdir / "triton.log",
        ready=lambda: models_ready(ports.http, served),
        env=env,
        startup_timeout_s=startup_timeout_s,
    )


def built_models(repository: Path) -> list[str]:
    """The registry models whose every Triton model has a config in `repository`."""
    return [
        model.name
        for model in REGISTRY.values()
        if all((repository / spec.name / CPU_CONFIG).is_file() for spec in model.triton_models)
    ]


def served_models(repository: Path, enabled: list[str] | None = None) -> list[str]:
    """The Triton models to load: those of the `enabled` registry models (default: every
    registry model fully built in `repository`)."""
    return [spec.name for spec in triton_models(enabled or built_models(repository))]


def models_ready(http_port: int, served: list[str]) -> bool:
    """True when the server and every model it should serve are ready."""
    base = f"http://127.0.0.1:{http_port}/v2"
    with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as response:
        if response.status != 200:
            return False
    for name in served:
        with urllib.request.urlopen(f"{base}/models/{name}/ready", timeout=2) as response:
            if response.status != 200:
                return False
    return True


def model_statistics(http: str, model: str) -> dict[str, Any]:
    """Triton's `/v2/models/<model>/stats` entry; `http` is its HTTP API's HOST:PORT."""
    with urllib.request.urlopen(f"http://{http}/v2/models/{model}/stats", timeout=10) as answer:
        stats: dict[str, Any] = json.loads(answer.read())["model_stats"][0]
        return stats
