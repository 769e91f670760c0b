"""Tables for people: headers fit 80 columns, rows cut only a long path's head."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from gateway.cli import tables
from gateway.cli.main import app
from gateway.cli.models import model_rows
from gateway.models.registry import REGISTRY
from tests.unit.cli.fake_gateway import FakeGateway


def _hit(rank: int, path: str | None, taken: str | None = None) -> dict[str, Any]:
    return {"id": f"{rank:064x}", "score": 1 / rank, "path": path, "filename": "f.jpg",
            "width": 4032, "height": 3024, "taken": taken}  # fmt: skip


def test_the_results_table_fits_80_columns_and_keeps_the_files_end() -> None:
    long = "/home/someone/Pictures/" + "very-long-folder-name/" * 5 + "IMG_0001.jpg"
    lines = tables.results_table(
        [_hit(1, long, "2024-05-01T14:03:22+02:00"), _hit(2, None)], width=80
    )
    assert all(len(line) <= 80 for line in lines), lines
    header, first, second = lines
    assert header.split() == ["rank", "score", "taken", "size", "file"]
    assert "2024-05-01 14:03" in first and "4032x3024" in first
    assert first.endswith("IMG_0001.jpg") and "…" in first
    assert second.endswith("f.jpg") and "  -  " in second  # no date taken


def test_wide_terminals_get_whole_paths() -> None:
    path = "/a/" + "b" * 150 + ".jpg"
    assert tables.results_table([_hit(1, path)], width=250)[1].endswith(path)


def test_stats_table_has_a_total(fake: FakeGateway) -> None:
    fake.hold(b"1")
    fake.hold(b"2")
    result = CliRunner().invoke(app, ["stats", "--url", "http://gateway.test"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[-2].split() == ["total", "4"]
    assert "random weights" in lines[-1]


def test_models_list_marks_what_the_gateway_serves() -> None:
    served = {"clip": {"name": "clip", "random_weights": True, "default": True}}
    rows = {r["name"]: r for r in model_rows(served, [])}
    assert rows["clip"] == {"name": "clip", "title": "CLIP", "dimension": 512, "text": True,
                            "weights": "random", "enabled": True, "default": True}  # fmt: skip
    assert rows["vgg16"]["enabled"] is False and set(rows) == set(REGISTRY)
    lines = tables.models_table(list(rows.values()), width=80)
    assert all(len(line) <= 80 for line in lines)


def test_models_list_without_a_gateway_says_so() -> None:
    result = CliRunner().invoke(app, ["models", "list", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert "no gateway answered at http://127.0.0.1:9" in result.output
    assert "DINOv2-S" in result.output
