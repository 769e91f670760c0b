"""Settings come from PIC_SEARCH_* variables, nested groups joined by a double underscore."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config import Settings
from gateway.serving.process import venv_bin
from tests.deploy.support import ROOT, all_setting_paths, setting_path


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


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PIC_SEARCH_LIMITS__DEFAULT_TOP_K": "101"}, "DEFAULT_TOP_K (101) must be between 1 and"),
        ({"PIC_SEARCH_LIMITS__DEFAULT_TOP_K": "0"}, "DEFAULT_TOP_K (0) must be between 1 and"),
        (
            {"PIC_SEARCH_LIMITS__MAX_TOP_K": "5", "PIC_SEARCH_LIMITS__DEFAULT_TOP_K": "6"},
            "PIC_SEARCH_LIMITS__MAX_TOP_K (5)",
        ),
        ({"PIC_SEARCH_LIMITS__MIN_SIDE": "20000"}, "MIN_SIDE (20000) must be at least 1 and below"),
        ({"PIC_SEARCH_LIMITS__MIN_SIDE": "0"}, "MIN_SIDE (0) must be at least 1"),
        ({"PIC_SEARCH_SERVER__LOG_LEVEL": "verbose"}, "'critical', 'error', 'warning', 'info'"),
        ({"PIC_SEARCH_SERVER__KEEP_ALIVE_S": "0"}, "greater than or equal to 1"),
    ],
)
def test_inconsistent_settings_fail_at_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings()


def test_edge_values_that_are_consistent_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIC_SEARCH_LIMITS__DEFAULT_TOP_K", "100")
    monkeypatch.setenv("PIC_SEARCH_LIMITS__MIN_SIDE", "19999")
    monkeypatch.setenv("PIC_SEARCH_SERVER__LOG_LEVEL", "WARNING")
    settings = Settings()
    assert settings.limits.default_top_k == settings.limits.max_top_k == 100
    assert settings.server.log_level == "warning"


def test_the_gateway_command_reports_bad_settings_without_a_traceback() -> None:
    env = {**os.environ, "PIC_SEARCH_LIMITS__DEFAULT_TOP_K": "500"}
    result = subprocess.run(
        [str(venv_bin() / "pic-search"), "gateway"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "DEFAULT_TOP_K (500) must be between 1 and" in output
    assert "Traceback" not in output


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


def _readme_settings_table() -> list[str]:
    """The rows of the README's Configuration table (header and rule left out)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| variable | default | meaning |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _documented_settings(row: str) -> set[tuple[str, ...]]:
    """The settings a row names: `PIC_SEARCH_GROUP__FIELD`, then `__OTHER` for more fields of
    the same group; a `PIC_SEARCH_GROUP__*` row names its fields in backticks."""
    variables = row.split("|")[1]
    found: set[tuple[str, ...]] = set()
    group = ""
    for full, short in re.findall(
        r"PIC_SEARCH_([A-Z]+__[A-Z0-9_*]+)|(?<![A-Z])__([A-Z0-9_]+)", variables
    ):
        if full:
            group, field = full.split("__")
        else:
            field = short
        if field == "*":
            fields = re.findall(r"`([A-Z][A-Z0-9_]+)", row.split("|")[3])
            found |= {setting_path(f"PIC_SEARCH_{group}__{name}") for name in fields}
        else:
            found.add(setting_path(f"PIC_SEARCH_{group}__{field}"))
    return found


def test_the_readme_settings_table_names_every_setting_and_nothing_else() -> None:
    documented = set().union(*map(_documented_settings, _readme_settings_table()))
    assert documented == all_setting_paths(), sorted(all_setting_paths() - documented)
