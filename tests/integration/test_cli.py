"""The `pic-search` CLI against a real gateway: folders, rejects, resume, search."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from PIL import ImageOps
from typer.testing import CliRunner

from gateway.cli import main
from gateway.quality.samples import sample_photos
from gateway.serving.process import venv_bin
from tests.integration import images
from tests.integration.conftest import PROTECTED_KEY, RunningGateway
from tests.integration.support import collection_counts, pic_search

CLI = str(venv_bin() / "pic-search")


def _cli(
    *args: str, url: str, cwd: Path, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PIC_SEARCH_API_KEY"}
    if key is not None:
        env["PIC_SEARCH_API_KEY"] = key
    return pic_search(*args, "--url", url, env=env, cwd=cwd)


def _first_row(table: str) -> str:
    return next(line for line in table.splitlines() if line.startswith("   1  "))


def _count(gateway: RunningGateway) -> int:
    with gateway.client() as client:
        counts = collection_counts(client)
    assert len(set(counts.values())) == 1, counts  # every collection holds the same images
    return counts.popitem()[1]


def test_indexing_a_folder_reports_bad_files_exits_nonzero_and_indexes_the_rest(
    cli_gateway: RunningGateway, tmp_path: Path
) -> None:
    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    photos = dict(list(sample_photos().items())[:3])
    for name, data in photos.items():
        (folder / name).write_bytes(data)
    (folder / "no-extension").write_bytes(photos["astronaut.jpg"] + b"\x00")  # sniffed
    (folder / "truncated.jpg").write_bytes(photos["coffee.jpg"][:4000])
    (folder / "notes.jpg").write_text("this is a text file with an image name")
    (folder / "readme.txt").write_text("not an image, not an image name: skipped")
    before = _count(cli_gateway)

    result = _cli(
        "index",
        str(tmp_path / "photos"),
        "--journal",
        str(tmp_path / "j"),
        url=cli_gateway.url,
        cwd=tmp_path,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "indexed 4, duplicate 0, rejected 2, skipped (journal) 0" in result.stdout
    assert "7 files seen: 1 not an image" in result.stdout  # readme.txt
    assert "truncated.jpg: corrupt_image" in result.stdout
    assert "notes.jpg: unsupported_image" in result.stdout
    assert _count(cli_gateway) == before + 4


def test_an_interrupted_index_run_resumes_without_duplicates(
    cli_gateway: RunningGateway, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    photos = sample_photos()
    for name, data in photos.items():
        (folder / f"resume-{name}").write_bytes(data[:-2] + b"\x00\xff\xd9")  # new bytes, new ids
    journal = tmp_path / "journal.jsonl"
    before = _count(cli_gateway)
    args = [CLI, "index", str(folder), "--url", cli_gateway.url, "--journal", str(journal),
            "--batch-size", "1", "--workers", "1"]  # fmt: skip
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)
    said, _ = first.communicate(timeout=120)
    done_first = len({json.loads(line)["id"] for line in journal.read_text().splitlines()})
    assert 3 <= done_first < len(photos), "the first run was not interrupted midway"
    assert first.returncode == 130, said
    assert "run the same command again to resume" in said and "Traceback" not in said

    second = subprocess.run(args, capture_output=True, text=True, timeout=600)

    assert second.returncode == 0, second.stdout + second.stderr
    # Journaled images the server confirms are skipped; whatever the server already had
    # unjournaled (a batch in flight at the interrupt) comes back as a duplicate, never as
    # a second row.
    assert f"skipped (journal) {done_first}" in second.stdout, second.stdout
    assert _count(cli_gateway) == before + len(photos)
    assert journal.read_text() == ""  # the run completed: nothing left to resume


def test_search_prints_a_ranked_table_and_stats_and_delete_work(
    cli_gateway: RunningGateway, tmp_path: Path
) -> None:
    # Pixels no other test indexes here (the others re-encode sample photos unchanged, which
    # ties at score 1.0), so only this image can rank first. Two neighbours of its own (the
    # photo it mirrors, and another) give it something to rank above even when run alone.
    data = images.save(ImageOps.mirror(images.photo("astronaut")), "JPEG", quality=88)
    folder = tmp_path / "photos"
    folder.mkdir()
    query = folder / "mirrored-astronaut.jpg"
    query.write_bytes(data)
    for name in ("astronaut", "coffee"):
        neighbour = images.save(images.photo(name), "JPEG", quality=88)
        (folder / f"neighbour-{name}.jpg").write_bytes(neighbour)
    indexed = _cli("index", str(folder), "--journal", str(tmp_path / "j"),
                   url=cli_gateway.url, cwd=tmp_path)  # fmt: skip
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    assert "indexed 3, duplicate 0, rejected 0" in indexed.stdout, indexed.stdout
    image_id = hashlib.sha256(data).hexdigest()

    by_image = _cli("search", str(query), "--top-k", "3", url=cli_gateway.url, cwd=tmp_path)
    assert by_image.returncode == 0, by_image.stderr
    # The image itself ranks first; its row names the file by the path it was indexed from,
    # with its size, under a header that fits 80 columns.
    header = next(line for line in by_image.stdout.splitlines() if line.startswith("rank"))
    assert header.split() == ["rank", "score", "taken", "size", "tags", "file"]
    assert len(header) <= 80
    first = _first_row(by_image.stdout)
    assert "  512x512  " in first and first.endswith(f"  {query.resolve()}")
    as_json = _cli("search", str(query), "--top-k", "3", "--json", url=cli_gateway.url,
                   cwd=tmp_path)  # fmt: skip
    assert json.loads(as_json.stdout)["results"][0]["id"] == image_id
    by_text = _cli(
        "search", "--text", "a cat", "--model", "clip", url=cli_gateway.url, cwd=tmp_path
    )
    assert by_text.returncode == 0 and "clip" in by_text.stdout
    stats = _cli("stats", url=cli_gateway.url, cwd=tmp_path)
    assert "cli_clip" in stats.stdout and "total" in stats.stdout
    deleted = _cli("delete", image_id, url=cli_gateway.url, cwd=tmp_path)
    assert deleted.returncode == 0
    again = _cli("delete", image_id, url=cli_gateway.url, cwd=tmp_path)
    assert again.returncode == 1 and "image_not_found" in again.stderr


def test_index_can_keep_paths_private_and_search_then_shows_the_file_name(
    cli_gateway: RunningGateway, tmp_path: Path
) -> None:
    photos = sample_photos()
    name = sorted(photos)[-1]
    query = tmp_path / "secret-folder" / f"private-{name}"
    query.parent.mkdir()
    query.write_bytes(photos[name] + b"private")  # bytes after the JPEG's end: a new image
    image_id = __import__("hashlib").sha256(query.read_bytes()).hexdigest()
    indexed = _cli("index", str(query), "--no-store-path", "--journal", str(tmp_path / "j"),
                   url=cli_gateway.url, cwd=tmp_path)  # fmt: skip
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr

    found = _cli("search", str(query), "--top-k", "5", url=cli_gateway.url, cwd=tmp_path)

    assert found.returncode == 0, found.stderr
    hits = json.loads(_cli("search", str(query), "--top-k", "5", "--json",
                           url=cli_gateway.url, cwd=tmp_path).stdout)["results"]  # fmt: skip
    rank = next(i for i, hit in enumerate(hits, start=1) if hit["id"] == image_id)
    row = next(line for line in found.stdout.splitlines() if line.startswith(f"{rank:>4}  "))
    assert row.endswith(f"  private-{name}") and "secret-folder" not in found.stdout


def test_every_command_has_help() -> None:
    # The installed entry point once; then each command in-process, through the same app
    # (a subprocess each cost about 1.5 s of imports).
    installed = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert installed.returncode == 0 and "Usage" in installed.stdout
    for command in (["index"], ["search"], ["stats"], ["delete"], ["serve"], ["gateway"],
                    ["edit"], ["check"], ["reindex"], ["models"], ["models", "build"],
                    ["models", "list"]):  # fmt: skip
        result = CliRunner().invoke(main.app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command


def test_the_cli_reads_and_writes_a_protected_gateway_with_pic_search_api_key(
    protected_gateway: RunningGateway, tmp_path: Path
) -> None:
    data = sample_photos()["camera.jpg"]
    query = tmp_path / "camera.jpg"
    query.write_bytes(data)
    journal = ["--journal", str(tmp_path / "j")]
    url = protected_gateway.url

    refused = _cli("stats", url=url, cwd=tmp_path)
    assert refused.returncode == 1 and "missing_api_key" in refused.stderr
    assert "set PIC_SEARCH_API_KEY" in refused.stderr and "Traceback" not in refused.stderr
    wrong = _cli("stats", url=url, cwd=tmp_path, key="not-the-key")
    assert wrong.returncode == 1 and "invalid_api_key" in wrong.stderr

    indexed = _cli("index", str(query), *journal, url=url, cwd=tmp_path, key=PROTECTED_KEY)
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    assert "rejected 0" in indexed.stdout
    found = _cli("search", str(query), "--json", url=url, cwd=tmp_path, key=PROTECTED_KEY)
    assert found.returncode == 0, found.stdout
    assert json.loads(found.stdout)["results"][0]["id"] == hashlib.sha256(data).hexdigest()
    stats = _cli("stats", url=url, cwd=tmp_path, key=PROTECTED_KEY)
    assert stats.returncode == 0 and "protected_clip" in stats.stdout
