"""The one-command stack (`pic-search serve`, what `make run` runs): starts everything,
indexes the samples, answers searches, and Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
from tritonclient.grpc.model_config_pb2 import ModelConfig

from gateway.export import triton_config
from gateway.export.derived import derived_repository, set_cpu_runner
from gateway.models.registry import DEFAULT_ENABLED
from gateway.models.spec import CpuRunner
from gateway.quality.samples import sample_photos
from gateway.serving.process import free_port, venv_bin
from gateway.serving.triton import served_models


def _start(test_models: Path, data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PIC_SEARCH_SERVER__PORT": str(port),
        "PIC_SEARCH_GRPC__PORT": str(free_port()),
        "PIC_SEARCH_STACK__DATA_DIR": str(data_dir),
        "PIC_SEARCH_STACK__MODEL_REPOSITORY": str(test_models),
        "PIC_SEARCH_STACK__TRITON_HTTP_PORT": str(free_port()),
        "PIC_SEARCH_STACK__TRITON_GRPC_PORT": str(free_port()),
        "PIC_SEARCH_STACK__TRITON_METRICS_PORT": str(free_port()),
        "PIC_SEARCH_STACK__MILVUS_PORT": str(free_port()),
        "COLUMNS": "200",
    }
    return subprocess.Popen(
        [str(venv_bin() / "pic-search"), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_url(process: subprocess.Popen[str], timeout_s: float = 600) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("serve exited early:\n" + "".join(lines))
        lines.append(line)
        if "Pic Search is running" in line:
            return lines
    raise AssertionError("no URL printed in time:\n" + "".join(lines))


def _stop(process: subprocess.Popen[str]) -> tuple[int, list[psutil.Process]]:
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    _, alive = psutil.wait_procs(children, timeout=30)
    return process.returncode, alive


def test_serve_starts_the_stack_indexes_samples_searches_and_stops_cleanly(
    test_models: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    photos = sample_photos()
    process = _start(test_models, tmp_path / "data", port)
    try:
        output = "".join(_wait_for_url(process))
        assert f"sample photos: {len(photos)} indexed" in output
        assert "RANDOM WEIGHTS in vgg16, clip" in output
        assert "real pretrained weights: efficientnet_lite0" in output
        name, data = "chelsea.jpg", photos["chelsea.jpg"]
        # Searches read Milvus half a second behind its writes (search_staleness_s): the
        # samples indexed just now are found within a second or so.
        deadline, found = time.monotonic() + 10, list[dict[str, str]]()
        while not found and time.monotonic() < deadline:
            found = httpx.post(
                f"{url}/v1/search/image", files={"file": (name, data, "image/jpeg")}, timeout=60
            ).json()["results"]
        assert found[0]["id"] == __import__("hashlib").sha256(data).hexdigest()
        assert httpx.get(f"{url}/", timeout=10).text.lower().startswith("<!doctype html>")
    finally:
        code, alive = _stop(process)
    assert code == 0
    assert alive == [], f"processes left running: {alive}"

    # A second run reuses what is built and indexed.
    process = _start(test_models, tmp_path / "data", port)
    try:
        output = "".join(_wait_for_url(process))
        samples_line = [line for line in output.splitlines() if "sample photos" in line]
        assert samples_line == [f"sample photos: 0 indexed, {len(photos)} already there"], output
    finally:
        code, alive = _stop(process)
    assert code == 0 and alive == []

    # The models rebuilt, and the build chose another precision for VGG16 on this CPU: its
    # collection's fingerprint no longer matches, so serve re-embeds the stored photos first.
    rebuilt = _with_other_vgg16_precision(test_models, tmp_path / "rebuilt")
    process = _start(rebuilt, tmp_path / "data", port)
    try:
        output = "".join(_wait_for_url(process))
        assert "the models changed since these photos were indexed" in output, output
        assert re.search(rf"vgg16: now \S+ \({len(photos)} images\)", output), output
        assert f"sample photos: 0 indexed, {len(photos)} already there" in output
        found = httpx.post(
            f"{url}/v1/search/image",
            files={"file": (name, data, "image/jpeg")},
            data={"model": "vgg16"},
            timeout=60,
        ).json()["results"]
        assert found[0]["id"] == __import__("hashlib").sha256(data).hexdigest()
    finally:
        code, alive = _stop(process)
    assert code == 0 and alive == []


def _with_other_vgg16_precision(test_models: Path, dest: Path) -> Path:
    """`test_models` as served, with VGG16's CPU runner at another precision than built."""
    fp32 = triton_config.built_cpu_runner(test_models / "vgg16").precision == "fp32"
    other = CpuRunner("openvino", "bf16" if fp32 else "fp32")

    def edit(model: str, config: ModelConfig) -> None:
        if model == "vgg16":
            set_cpu_runner(config, other)

    return derived_repository(
        test_models, dest, served_models(test_models, list(DEFAULT_ENABLED)), edit
    )
