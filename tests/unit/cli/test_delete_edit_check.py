"""Bulk delete asks before deleting (or needs --yes), `edit` sends a merge patch, and
`check --repair` shows what it will change and passes on a refusal with its remedy."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner, Result

from gateway.cli import delete as delete_module
from gateway.cli.main import app
from tests.unit.cli.fake_gateway import FakeGateway

URL = "http://gateway.test"


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, [*args, "--url", URL], input=stdin)


@pytest.fixture
def album(fake: FakeGateway) -> FakeGateway:
    for i in range(12):
        fake.hold(bytes([i]), filename=f"photo{i}.jpg", metadata={"album": "2019"})
    fake.hold(b"keep", filename="keep.jpg", metadata={"album": "2024"})
    return fake


BY_FILTER = ("delete", "--filter", '{"album": "2019"}')


def test_without_a_terminal_and_without_yes_nothing_is_deleted(album: FakeGateway) -> None:
    result = _run(*BY_FILTER)
    assert result.exit_code == 2
    assert "add --yes" in result.output and "Traceback" not in result.output
    assert album.non_dry_deletes() == [] and len(album.images) == 13
    # What would have gone was shown: the count and a sample of ten.
    assert "12 images match; the first 10:" in result.output
    assert "photo0.jpg" in result.output and "... and 2 images more" in result.output


def test_yes_deletes_without_asking(album: FakeGateway) -> None:
    result = _run(*BY_FILTER, "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted 12 images" in result.output and len(album.images) == 1


@pytest.mark.parametrize(("answer", "left"), [("y\n", 1), ("n\n", 13), ("\n", 13)])
def test_on_a_terminal_it_asks_and_no_is_the_default(
    album: FakeGateway, monkeypatch: pytest.MonkeyPatch, answer: str, left: int
) -> None:
    monkeypatch.setattr(delete_module, "_tty", lambda: True)
    result = _run(*BY_FILTER, stdin=answer)
    assert "Delete 12 images? [y/N]" in result.output
    assert len(album.images) == left
    assert result.exit_code == (0 if left == 1 else 1)


def test_dry_run_only_shows(album: FakeGateway) -> None:
    result = _run(*BY_FILTER, "--dry-run")
    assert result.exit_code == 0
    assert "would delete 12 images (dry run: nothing deleted)" in result.output
    assert album.non_dry_deletes() == []


def test_nothing_matching_deletes_nothing(album: FakeGateway) -> None:
    result = _run("delete", "--filter", '{"album": "1999"}', "--yes")
    assert result.exit_code == 0 and "nothing matches" in result.output
    assert album.non_dry_deletes() == []


def test_edit_sends_one_merge_patch_and_prints_the_record(fake: FakeGateway) -> None:
    image_id = fake.hold(b"x", metadata={"album": "2019", "old": "yes"})
    result = _run("edit", image_id, "--set", "album=2024", "--unset", "old",
                  "--metadata", '{"rating": 5}')  # fmt: skip
    assert result.exit_code == 0, result.output
    (patch,) = [r for r in fake.requests if r.method == "PATCH"]
    assert patch.headers["content-type"] == "application/merge-patch+json"
    assert json.loads(patch.content) == {"rating": 5, "album": "2024", "old": None}
    assert "album = 2024" in result.output and "old" not in result.output


def test_edit_refuses_reserved_keys_and_empty_patches(fake: FakeGateway) -> None:
    image_id = fake.hold(b"x")
    assert _run("edit", image_id, "--set", "taken=2020").exit_code == 2
    assert _run("edit", image_id).exit_code == 2
    assert _run("edit", "not-an-id", "--set", "a=b").exit_code == 2
    assert fake.requests == []


def _inconsistent(fake: FakeGateway) -> None:
    fake.check_report = {
        "consistent": False,
        "stored_images": 3,
        "collections": [
            {"name": "images_vgg16", "vectors": 3, "missing": ["a" * 64], "orphans": ["b" * 64]},
            {"name": "images_clip", "vectors": 3, "missing": [], "orphans": []},
        ],
        "unreadable": [],
        "repaired": False,
    }


def test_check_reports_counts_lists_ids_when_verbose_and_exits_1(fake: FakeGateway) -> None:
    _inconsistent(fake)
    quiet = _run("check")
    assert quiet.exit_code == 1
    assert "images_vgg16: 3 vectors, 1 missing, 1 without a stored image" in quiet.output
    assert "a" * 64 not in quiet.output
    loud = _run("check", "--verbose")
    assert f"missing vector in images_vgg16: {'a' * 64}" in loud.output
    assert f"vector without stored image in images_vgg16: {'b' * 64}" in loud.output


def test_repair_shows_its_plan_then_repairs(fake: FakeGateway) -> None:
    _inconsistent(fake)
    result = _run("check", "--repair")
    assert result.exit_code == 0, result.output
    assert (
        "the repair will delete 1 vectors from images_vgg16; re-embed 1 images into images_vgg16"
        in result.output
    )
    assert result.output.strip().endswith("repaired; now: consistent")


def test_a_refused_repair_says_to_add_force(fake: FakeGateway) -> None:
    _inconsistent(fake)
    fake.refuse_repair = True
    refused = _run("check", "--repair")
    assert refused.exit_code == 1
    assert "repair refused, nothing changed" in refused.output and "--force" in refused.output
    assert _run("check", "--repair", "--force").exit_code == 0
