"""The CLI's HTTP side: talks to a running gateway like any other client."""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(RuntimeError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def gateway_url(url: str | None) -> str:
    return (url or os.environ.get("PIC_SEARCH_URL") or DEFAULT_URL).rstrip("/")


def connect(url: str | None, timeout_s: float = 300.0) -> httpx.Client:
    headers = {}
    key = os.environ.get("PIC_SEARCH_API_KEY")
    if key:
        headers["X-API-Key"] = key
    return httpx.Client(base_url=gateway_url(url), headers=headers, timeout=timeout_s)


def checked(response: httpx.Response) -> Any:
    """The JSON body, or ApiError with the gateway's error code and message."""
    if response.status_code >= 400 and response.status_code != 207:
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", response.text[:200]
        raise ApiError(response.status_code, code, message)
    return response.json() if response.content else None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interruptible() -> None:
    """Ctrl-C and SIGTERM stop long commands cleanly (KeyboardInterrupt), even when the
    parent started us with SIGINT ignored, as shells do for background jobs."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
