"""Settings come from PIC_SEARCH_* variables, nested groups joined by a double underscore."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Settings


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIC_SEARCH_MILVUS__URI", "http://milvus:19530")
    monkeypatch.setenv("PIC_SEARCH_LIMITS__MAX_TOP_K", "50")
    monkeypatch.setenv("PIC_SEARCH_AUTH__API_KEYS", '["k1", "k2"]')
    settings = Settings()
    assert settings.milvus.uri == "http://milvus:19530"
    assert settings.limits.max_top_k == 50
    assert settings.load_api_keys() == ["k1", "k2"]


def test_api_keys_can_come_from_a_file_with_comments(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# rotated 2026-11\nfirst\n\n second \n")
    settings = Settings()
    settings.auth.api_keys_file = keys
    assert settings.load_api_keys() == ["first", "second"]


def test_secrets_are_not_shown_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIC_SEARCH_AUTH__API_KEYS", '["very-secret"]')
    assert "very-secret" not in repr(Settings())


def test_enabled_models_are_a_comma_list_checked_against_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().models.enabled == ["vgg16", "clip", "efficientnet_lite0"]
    monkeypatch.setenv("PIC_SEARCH_MODELS__ENABLED", " clip, efficientnet_lite0,clip ")
    assert Settings().models.enabled == ["clip", "efficientnet_lite0"]
    monkeypatch.setenv("PIC_SEARCH_MODELS__ENABLED", "clip,resnet5O")
    with pytest.raises(ValueError, match="unknown models \\['resnet5O'\\]"):
        Settings()
    monkeypatch.setenv("PIC_SEARCH_MODELS__ENABLED", " , ")
    with pytest.raises(ValueError, match="at least one model"):
        Settings()
