from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.cli.fake_gateway import FakeGateway, serving


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGateway]:
    monkeypatch.delenv("PIC_SEARCH_URL", raising=False)
    monkeypatch.delenv("PIC_SEARCH_API_KEY", raising=False)
    with serving(FakeGateway(), monkeypatch) as gateway:
        yield gateway
