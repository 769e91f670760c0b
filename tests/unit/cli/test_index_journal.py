"""`pic-search index` and its resume journal against a fake gateway: the journal only resumes
an interrupted run of the same folders, gateway and index, and the server decides."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner, Result

from gateway.cli.api import EXISTS_BATCH, existing_ids
from gateway.cli.journal import Journal, run_key
from gateway.cli.main import app
from tests.unit.cli.fake_gateway import FakeGateway

URL = "http://gateway.test"


def _photos(folder: Path, count: int) -> list[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    data = [b"IMG" + bytes([i]) * 100 for i in range(count)]
    for i, blob in enumerate(data):
        (folder / f"photo{i}.jpg").write_bytes(blob)
    return data


def _index(folder: Path, journal: Path, *extra: str) -> Result:
    args = ["index", str(folder), "--url", URL, "--journal", str(journal), *extra]
    return CliRunner().invoke(app, [*args, "--batch-size", "1", "--workers", "1"])


def _interrupted_journal(fake: FakeGateway, folder: Path, journal: Path, ids: list[str]) -> None:
    """What an interrupted run of `folder` against `fake` would have left."""
    Journal(journal, run_key(URL, fake.index_id, [folder])).add(ids)


def test_an_image_deleted_after_indexing_is_indexed_again(
    fake: FakeGateway, tmp_path: Path
) -> None:
    folder, journal = tmp_path / "photos", tmp_path / "journal.jsonl"
    _photos(folder, 2)
    assert _index(folder, journal).exit_code == 0
    fake.images.clear()  # `pic-search delete --filter ...`

    again = _index(folder, journal)

    assert again.exit_code == 0, again.output
    assert "indexed 2, duplicate 0, rejected 0, skipped (journal) 0" in again.output
    assert len(fake.images) == 2


def test_journaled_images_the_server_lost_are_uploaded_not_called_duplicates(
    fake: FakeGateway, tmp_path: Path
) -> None:
    folder, journal = tmp_path / "photos", tmp_path / "journal.jsonl"
    data = _photos(folder, 3)
    kept = fake.hold(data[0])
    lost = [fake.hold(blob) for blob in data[1:]]
    _interrupted_journal(fake, folder, journal, [kept, *lost])
    for image_id in lost:
        del fake.images[image_id]

    result = _index(folder, journal)

    assert result.exit_code == 0, result.output
    assert "indexed 2, duplicate 0, rejected 0, skipped (journal) 1" in result.output
    assert len(fake.exists_calls) == 1 and set(fake.exists_calls[0]) == {kept, *lost}
    assert set(fake.images) == {kept, *lost}


def test_a_journal_of_another_index_is_ignored(fake: FakeGateway, tmp_path: Path) -> None:
    folder, journal = tmp_path / "photos", tmp_path / "journal.jsonl"
    data = _photos(folder, 2)
    ids = [fake.hold(blob) for blob in data]
    _interrupted_journal(fake, folder, journal, ids)
    fake.index_id = "index-2"  # the collections were recreated since

    result = _index(folder, journal)

    # Nothing is skipped on the journal's word: the server says what it holds.
    assert "indexed 0, duplicate 2, rejected 0, skipped (journal) 0" in result.output
    assert fake.exists_calls == []


def test_a_journal_of_other_folders_is_ignored(fake: FakeGateway, tmp_path: Path) -> None:
    folder, journal = tmp_path / "photos", tmp_path / "journal.jsonl"
    data = _photos(folder, 1)
    Journal(journal, run_key(URL, fake.index_id, [tmp_path / "elsewhere"])).add(
        [fake.hold(data[0])]
    )
    result = _index(folder, journal)
    assert "duplicate 1, rejected 0, skipped (journal) 0" in result.output


def test_a_completed_run_removes_its_entries_and_keeps_other_runs(
    fake: FakeGateway, tmp_path: Path
) -> None:
    folder, journal = tmp_path / "photos", tmp_path / "journal.jsonl"
    _photos(folder, 2)
    other = Journal(journal, run_key(URL, fake.index_id, [tmp_path / "other"]))
    other.add(["a" * 64])

    assert _index(folder, journal).exit_code == 0

    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert lines == [{"run": other.key, "id": "a" * 64}]


def test_exists_is_asked_in_batches_the_api_accepts(fake: FakeGateway) -> None:
    ids = [f"{i:064x}" for i in range(2 * EXISTS_BATCH + 5)]
    fake.images = {ids[0]: {}, ids[-1]: {}}
    with httpx.Client(base_url=URL, transport=httpx.MockTransport(fake.handle)) as client:
        from gateway.cli.api import HttpApi

        found = existing_ids(HttpApi(client), ids)
    assert found == {ids[0], ids[-1]}
    assert [len(c) for c in fake.exists_calls] == [EXISTS_BATCH, EXISTS_BATCH, 5]


def test_ctrl_c_says_how_far_it_got_and_that_the_same_command_resumes(
    fake: FakeGateway, tmp_path: Path
) -> None:
    folder, journal = tmp_path / "photos", tmp_path / "journal.jsonl"
    _photos(folder, 4)
    uploads = []

    def interrupt_third_upload(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/v1/images":
            uploads.append(request)
            if len(uploads) == 3:
                raise KeyboardInterrupt
        return None

    fake.fail = interrupt_third_upload
    first = _index(folder, journal)

    assert first.exit_code == 130, first.output
    assert "interrupted after 2 of 4 files to send" in first.output
    assert "run the same command again to resume" in first.output
    fake.fail = lambda request: None
    second = _index(folder, journal)
    # The upload in flight at the interrupt may have landed unjournaled: the server then
    # answers duplicate for it, which is true.
    assert "skipped (journal) 2" in second.output
    assert second.exit_code == 0 and len(fake.images) == 4


def test_invalid_metadata_is_refused_once_before_anything_is_sent(
    fake: FakeGateway, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    _photos(folder, 3)
    for bad in ("{not json", "[1, 2]", '{"taken": "2024"}', '{"album": {"a": 1}}'):
        result = _index(folder, tmp_path / "j", "--metadata", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert result.output.count("error:") == 1
    assert fake.requests == []


def test_duplicates_indexed_with_metadata_say_it_was_left_unchanged(
    fake: FakeGateway, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    data = _photos(folder, 2)
    fake.hold(data[0])

    result = _index(folder, tmp_path / "j", "--metadata", '{"album": "2024"}')

    assert "indexed 1, duplicate 1" in result.output
    assert "metadata of 1 duplicate was left unchanged" in result.output
    assert "pic-search edit" in result.output


def test_every_file_seen_is_accounted_for(fake: FakeGateway, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    data = _photos(folder, 2)
    (folder / "copy.jpg").write_bytes(data[0])
    (folder / "notes.txt").write_text("not a photo")
    (folder / ".hidden.jpg").write_bytes(b"IMG hidden")
    (folder / "bad.jpg").write_bytes(b"not an image at all")

    quiet = _index(folder, tmp_path / "j")
    fake.images.clear()
    loud = _index(folder, tmp_path / "j", "--verbose")

    assert quiet.exit_code == 1  # bad.jpg was rejected
    assert "indexed 2, duplicate 0, rejected 1" in quiet.output
    assert "6 files seen: 2 not images, 1 copy of another file (sent once)" in quiet.output
    assert "(listed with --verbose)" in quiet.output
    assert f"not an image: {folder / 'notes.txt'}" in loud.output
    assert f"not an image: {folder / '.hidden.jpg'}" in loud.output
