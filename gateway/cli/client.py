"""The CLI's HTTP side: talks to a running gateway like any other client."""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any

import httpx

from gateway.cli.errors import ApiError, UsageProblem

DEFAULT_URL = "http://127.0.0.1:8080"

__all__ = ["DEFAULT_URL", "ApiError", "checked", "connect", "gateway_url", "interruptible"]


def gateway_url(url: str | None) -> str:
    """--url, else $PIC_SEARCH_URL, else the local default; refused without a scheme
    (httpx would fail later with a message that names neither the URL nor the fix)."""
    chosen = (url or os.environ.get("PIC_SEARCH_URL") or DEFAULT_URL).strip().rstrip("/")
    scheme, sep, rest = chosen.partition("://")
    if not sep or scheme not in ("http", "https") or not rest:
        corrected = f"http://{rest if sep else chosen}"
        raise UsageProblem(
            f"the gateway URL {chosen!r} needs http:// or https://", f"use --url {corrected}"
        )
    return chosen


def connect(url: str | None, timeout_s: float | None = 300.0) -> httpx.Client:
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
            code, message = "http_error", f"HTTP {response.status_code} {response.text[:200]}"
        raise ApiError(response.status_code, code, message)
    return response.json() if response.content else None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interruptible() -> None:
    """Ctrl-C and SIGTERM stop long commands cleanly (KeyboardInterrupt), even when the
    parent started us with SIGINT ignored, as shells do for background jobs."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
