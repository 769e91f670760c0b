"""Helpers the integration tests share: the CLI as a user runs it, and collection counts."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from gateway.serving.process import venv_bin


def pic_search(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 600,
) -> subprocess.CompletedProcess[str]:
    """`pic-search ARGS` with this environment (default: the test's), in a terminal wide
    enough that tables print whole ids."""
    full = {**(os.environ if env is None else env), "COLUMNS": "200"}
    return subprocess.run(
        [str(venv_bin() / "pic-search"), *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def collection_counts(client: httpx.Client) -> dict[str, int]:
    """Images per collection, from `/v1/stats`."""
    response = client.get("/v1/stats")
    assert response.status_code == 200, response.text
    return {name: c["count"] for name, c in response.json()["collections"].items()}


def wait_until(predicate: Callable[[], bool], timeout_s: float = 120) -> None:
    """Poll `predicate` every half second until it holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError("condition not reached in time")
