"""Test-wide settings: where the built test models are, and a check that no server survives."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_MODELS = Path(os.environ.get("PIC_SEARCH_TEST_MODELS", ROOT / "build" / "test-models"))


@pytest.fixture(scope="session")
def test_models() -> Path:
    """The model repository built with seeded random weights by `make test-models`."""
    if not (TEST_MODELS / "vgg16" / "1" / "model.savedmodel").exists():
        pytest.fail(f"no test models at {TEST_MODELS}: run `make test-models` (make test does)")
    return TEST_MODELS


@pytest.fixture(scope="module", autouse=True)
def no_event_loop_left_running() -> Iterator[None]:
    """A module must not leave an event loop marked as running in the main thread (Playwright's
    sync API does until it is closed): every later `asyncio.run` would fail, far from here."""
    yield
    if asyncio._get_running_loop() is not None:
        pytest.fail("this module left an event loop running in the main thread")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the built models runs in the integration lane, so `make test-unit`
    builds nothing and takes about a minute."""
    for item in items:
        if "test_models" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.models)
            item.add_marker(pytest.mark.integration)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every server a fixture started must be gone once the fixtures are torn down."""
    survivors = [p for p in psutil.Process().children(recursive=True) if p.is_running()]
    survivors = [p for p in survivors if p.status() != psutil.STATUS_ZOMBIE]
    if survivors:
        names = ", ".join(f"{p.pid}:{p.name()}" for p in survivors)
        for proc in survivors:
            proc.kill()
        session.config.stash[_SURVIVORS] = names
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_SURVIVORS = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    names = terminalreporter.config.stash.get(_SURVIVORS, "")
    if names:
        terminalreporter.write_line(f"FAILED: processes survived the test run: {names}", red=True)
