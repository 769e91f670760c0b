"""The real `pic-search` against a real stack, on the paths that once lost or endangered
data (issue 27): a deleted photo indexed again, `check` from another folder, bulk delete
without confirmation, metadata corrections, and one-line errors for everyday mistakes."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from gateway.quality.samples import sample_photos
from gateway.serving.process import free_port, venv_bin
from tests.integration.conftest import PROTECTED_KEY, RunningGateway

CLI = str(venv_bin() / "pic-search")


def _cli(*args: str, cwd: Path, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """As a script runs it: no terminal on stdin, no API key unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIC_SEARCH_")}
    env["COLUMNS"] = "200"
    if key is not None:
        env["PIC_SEARCH_API_KEY"] = key
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _photo(tmp_path: Path, name: str, salt: bytes) -> Path:
    """A sample photo with bytes no other test indexes (a new id)."""
    path = tmp_path / name
    path.write_bytes(sample_photos()["coffee.jpg"] + salt)
    return path


def _held(gateway: RunningGateway, image_id: str) -> bool:
    with gateway.client() as client:
        return client.get(f"/v1/images/{image_id}").status_code == 200


def test_a_deleted_photo_is_indexed_again(cli_gateway: RunningGateway, tmp_path: Path) -> None:
    photo = _photo(tmp_path, "again.jpg", b"index-delete-index")
    image_id = hashlib.sha256(photo.read_bytes()).hexdigest()
    index = ["index", str(photo), "--url", cli_gateway.url, "--journal", str(tmp_path / "j")]
    album = '{"album": "index-delete-index"}'
    assert _cli(*index, "--metadata", album, cwd=tmp_path).returncode == 0
    deleted = _cli("delete", "--filter", album, "--yes", "--url", cli_gateway.url, cwd=tmp_path)
    assert "deleted 1 image" in deleted.stdout, deleted.stdout + deleted.stderr
    assert not _held(cli_gateway, image_id)

    again = _cli(*index, cwd=tmp_path)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "indexed 1, duplicate 0, rejected 0" in again.stdout
    assert _held(cli_gateway, image_id)


def test_check_from_another_folder_is_consistent_and_creates_nothing(
    cli_gateway: RunningGateway, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = _cli("check", "--url", cli_gateway.url, cwd=elsewhere)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("consistent")
    assert "cli_clip:" in result.stdout
    assert list(elsewhere.iterdir()) == []


def test_bulk_delete_needs_a_confirmation_or_yes(
    cli_gateway: RunningGateway, tmp_path: Path
) -> None:
    photos = [_photo(tmp_path, f"bulk{i}.jpg", f"bulk-{i}".encode()) for i in range(2)]
    album = '{"album": "bulk-confirm"}'
    indexed = _cli("index", *map(str, photos), "--metadata", album, "--url", cli_gateway.url,
                   "--journal", str(tmp_path / "j"), cwd=tmp_path)  # fmt: skip
    assert "indexed 2" in indexed.stdout, indexed.stdout + indexed.stderr
    ids = [hashlib.sha256(p.read_bytes()).hexdigest() for p in photos]
    delete = ["delete", "--filter", album, "--url", cli_gateway.url]

    refused = _cli(*delete, cwd=tmp_path)

    assert refused.returncode == 2
    assert "add --yes" in refused.stderr and "Traceback" not in refused.stderr
    assert "2 images match" in refused.stdout and "bulk0.jpg" in refused.stdout
    assert all(_held(cli_gateway, i) for i in ids)
    confirmed = _cli(*delete, "--yes", cwd=tmp_path)
    assert confirmed.returncode == 0 and "deleted 2 images" in confirmed.stdout
    assert not any(_held(cli_gateway, i) for i in ids)


def test_edit_corrects_metadata(cli_gateway: RunningGateway, tmp_path: Path) -> None:
    photo = _photo(tmp_path, "edit.jpg", b"edit-metadata")
    url = ["--url", cli_gateway.url]
    indexed = _cli("index", str(photo), "--metadata", '{"album": "2019", "stale": "x"}', *url,
                   "--journal", str(tmp_path / "j"), cwd=tmp_path)  # fmt: skip
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr

    edited = _cli("edit", str(photo), "--set", "album=2024", "--unset", "stale", *url,
                  cwd=tmp_path)  # fmt: skip

    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "album = 2024" in edited.stdout and "stale" not in edited.stdout
    image_id = hashlib.sha256(photo.read_bytes()).hexdigest()
    with cli_gateway.client() as client:
        assert client.get(f"/v1/images/{image_id}").json()["metadata"] == {"album": "2024"}
    # Indexing it again with other metadata says that it was left unchanged, and how.
    again = _cli("index", str(photo), "--metadata", '{"album": "2025"}', *url,
                 "--journal", str(tmp_path / "j"), cwd=tmp_path)  # fmt: skip
    assert "duplicate 1" in again.stdout and "left unchanged" in again.stdout
    assert "pic-search edit" in again.stdout


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    said = result.stdout + result.stderr
    assert result.returncode == code, said
    assert "Traceback" not in said
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), said
    for word in words:
        assert word in errors[0], said


def test_everyday_mistakes_get_one_line_and_no_traceback(
    cli_gateway: RunningGateway, protected_gateway: RunningGateway, tmp_path: Path
) -> None:
    photo = _photo(tmp_path, "mistakes.jpg", b"mistakes")
    url = ["--url", cli_gateway.url]
    stopped = f"http://127.0.0.1:{free_port()}"
    host_only = cli_gateway.url.removeprefix("http://")

    cases = [
        (["stats", "--url", stopped], 1, ["cannot reach", stopped, "make run"]),
        (["search", str(photo), "--url", stopped], 1, ["cannot reach", "make run"]),
        (["stats", "--url", host_only], 2, [f"--url http://{host_only}"]),
        (["index", str(photo), "--metadata", "{album: 1}", *url], 2, ["--metadata"]),
        (["index", str(photo), "--metadata", '{"taken": "x"}', *url], 2, ["reserved"]),
        (["search", str(photo), "--filter", "{album", *url], 2, ["--filter", "JSON"]),
        (["delete", "--filter", "not json", *url], 2, ["--filter"]),
        (["search", str(tmp_path), *url], 2, ["is a folder"]),
        (["search", str(tmp_path / "missing.jpg"), *url], 2, ["no such file"]),
        (["index", str(tmp_path / "missing"), *url], 2, ["no such file or folder"]),
        (["search", *url], 2, ["--text"]),
        (["search", "--text", "cat", "--model", "resnet50", *url], 1,
         ["PIC_SEARCH_MODELS__ENABLED"]),
        (["stats", "--url", protected_gateway.url], 1, ["PIC_SEARCH_API_KEY"]),
    ]  # fmt: skip
    for args, code, words in cases:
        _one_line_error(_cli(*args, cwd=tmp_path), code, *words)
    with_key = _cli("stats", "--url", protected_gateway.url, cwd=tmp_path, key=PROTECTED_KEY)
    assert with_key.returncode == 0


def test_models_list_reads_the_gateway(cli_gateway: RunningGateway, tmp_path: Path) -> None:
    result = _cli("models", "list", "--url", cli_gateway.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["clip"][4] == "yes" and rows["resnet50"][4] == "no"
    assert "no gateway answered" not in result.stdout


def test_the_same_rules_hold_over_grpc(cli_gateway: RunningGateway, tmp_path: Path) -> None:
    photo = _photo(tmp_path, "grpc.jpg", b"grpc-index-delete-index")
    image_id = hashlib.sha256(photo.read_bytes()).hexdigest()
    grpc = ["--grpc", cli_gateway.grpc_target]
    index = ["index", str(photo), *grpc, "--journal", str(tmp_path / "j")]
    assert "indexed 1" in _cli(*index, cwd=tmp_path).stdout
    refused = _cli("delete", "--ids", image_id, *grpc, cwd=tmp_path)
    assert refused.returncode == 2 and _held(cli_gateway, image_id)
    deleted = _cli("delete", "--ids", image_id, "--yes", *grpc, cwd=tmp_path)
    assert "deleted 1 image" in deleted.stdout, deleted.stdout + deleted.stderr

    again = _cli(*index, "--metadata", '{"album": "grpc"}', cwd=tmp_path)

    assert "indexed 1, duplicate 0" in again.stdout, again.stdout + again.stderr
    edited = _cli("edit", image_id, "--unset", "album", "--set", "k=v", *grpc, cwd=tmp_path)
    assert edited.returncode == 0 and "k = v" in edited.stdout and "album" not in edited.stdout
    checked = _cli("check", *grpc, cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout.strip().endswith("consistent")
    stopped = _cli("stats", "--grpc", f"127.0.0.1:{free_port()}", cwd=tmp_path)
    _one_line_error(stopped, 1, "cannot reach")
