"""The documentation stays true to the code: the generated tables match what the code says
now, every setting is described, and every relative link in README.md and docs/ resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import docs_tables
from gateway.docs_tables import (
    BLOCKS,
    FALLBACK_MEANINGS,
    ROOT,
    all_settings,
    end_marker,
    replace_block,
    start_marker,
)

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_the_generated_table_matches_the_code(name: str) -> None:
    path, now, regenerated = docs_tables.regenerated(name)
    assert now == regenerated, (
        f"{path.name}'s {name} table is stale: run `python -m gateway.docs_tables --write`"
    )


def test_the_check_command_reports_a_stale_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "api.md"
    stale.write_text(f"# API\n{start_marker('error-codes')}\nold\n{end_marker('error-codes')}\n")
    monkeypatch.setitem(BLOCKS, "error-codes", (stale, docs_tables.error_code_table))
    monkeypatch.setattr(docs_tables, "ROOT", tmp_path)
    assert docs_tables.main(["--check"]) == 1
    assert docs_tables.main(["--write"]) == 0
    assert docs_tables.main(["--check"]) == 0
    assert "| `image_not_found` | 404 | `NOT_FOUND` |" in stale.read_text()


def test_a_block_without_its_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        replace_block("# no markers here\n", "settings", "table")


def test_every_setting_has_a_meaning() -> None:
    assert [s.env for s in all_settings() if not s.meaning] == []


def test_fallback_meanings_describe_only_settings_the_code_leaves_undescribed() -> None:
    described_by_code = {
        s.env for s in all_settings() if FALLBACK_MEANINGS.get(s.env, "") not in s.meaning
    }
    settings = {s.env for s in all_settings()}
    stale = sorted(set(FALLBACK_MEANINGS) - settings)
    shadowed = sorted(set(FALLBACK_MEANINGS) & described_by_code)
    fix = "delete them from FALLBACK_MEANINGS in gateway/docs_tables.py"
    assert stale == [], f"no such settings: {fix}"
    assert shadowed == [], f"the code describes these now: {fix}"


def test_settings_show_their_env_names_defaults_and_bounds() -> None:
    table = docs_tables.settings_table()
    assert "| `PIC_SEARCH_MILVUS__URI` | `http://127.0.0.1:19530` |" in table
    assert "`26214400` (25 MiB)" in table  # max_upload_bytes
    assert "one of `local`, `s3`" in table  # a Literal's choices
    assert "(> 0)" in table  # a Field(gt=0)


def links(document: Path) -> list[str]:
    text = FENCE.sub("", document.read_text())
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def anchors(document: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", FENCE.sub("", document.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in links(document):
        file_part, _, anchor = target.partition("#")
        resolved = (document.parent / file_part).resolve() if file_part else document
        missing_anchor = bool(anchor) and resolved.suffix == ".md"
        if not resolved.exists() or (missing_anchor and anchor not in anchors(resolved)):
            broken.append(target)
    assert broken == []


def test_the_link_check_sees_links_images_and_anchors() -> None:
    readme = ROOT / "README.md"
    assert any(t.endswith(".png") for t in links(readme))
    assert any("#" in t for d in DOCUMENTS for t in links(d))
    assert "limits" in anchors(ROOT / "docs" / "configuration.md")
