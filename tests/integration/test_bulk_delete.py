"""Bulk delete over HTTP and the CLI, on the real stack: dry run first, then every
collection and the store lose exactly the chosen images, and repeating is harmless."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.serving.process import venv_bin
from tests.integration.conftest import GatewayFactory, RunningGateway
from tests.integration.images import photo, save

CLI = str(venv_bin() / "pic-search")


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory) -> Iterator[RunningGateway]:
    with gateway_factory("bulkdel") as running:
        yield running


def _index(client: httpx.Client, album: str, shades: range) -> list[str]:
    files = [
        ("files", (f"{album}-{s}.jpg", save(photo("coffee").rotate(s * 7), "JPEG"), "image/jpeg"))
        for s in shades
    ]
    response = client.post(
        "/v1/images", files=files, data={"metadata": json.dumps({"album": album})}
    )
    assert response.status_code == 201, response.text
    return [r["id"] for r in response.json()["results"]]


def _counts(client: httpx.Client) -> set[int]:
    collections = client.get("/v1/stats").json()["collections"]
    return {c["count"] for c in collections.values()}


def _stored(gateway: RunningGateway) -> set[str]:
    root = Path(gateway.env["PIC_SEARCH_STORE__PATH"])
    return {p.name.split(".")[0] for p in root.rglob("*") if p.is_file()}


def _counted(response: httpx.Response) -> tuple[int, int, bool]:
    body = response.json()
    return body["matched"], body["deleted"], body["dry_run"]


def _delete(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post("/v1/images:delete", json=body)


def test_a_filter_delete_dry_runs_then_empties_both_collections_and_the_store_of_them(
    gateway: RunningGateway,
) -> None:
    with gateway.client() as client:
        old = _index(client, "old", range(3))
        keep = _index(client, "keep", range(3, 6))
        assert _counts(client) == {6}

        dry = _delete(client, filter={"album": "old"}, dry_run=True)
        assert dry.status_code == 200, dry.text
        assert _counted(dry) == (3, 0, True)
        shown = dry.json()["sample"]
        # A person sees what would go: each matched image's id, file name and path.
        assert sorted(s["id"] for s in shown) == sorted(old)
        assert all(s["filename"].endswith(".jpg") for s in shown)
        assert _counts(client) == {6} and set(old) <= _stored(gateway)

        done = _delete(client, filter={"album": "old"})
        assert _counted(done) == (3, 3, False)
        assert _counts(client) == {3}
        assert not set(old) & _stored(gateway) and set(keep) <= _stored(gateway)
        for image_id in old:
            assert client.get(f"/v1/images/{image_id}/content").status_code == 404
        found = client.post(
            "/v1/search/text", json={"q": "coffee", "top_k": 100, "model": "clip"}
        ).json()
        assert {h["id"] for h in found["results"]} == set(keep)

        again = _delete(client, filter={"album": "old"})
        assert again.json() == {"matched": 0, "deleted": 0, "dry_run": False, "sample": []}

        by_ids = _delete(client, ids=[keep[0], old[0], "f" * 64])
        assert _counted(by_ids) == (1, 1, False)
        assert _counts(client) == {2}


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "invalid_delete"), ({"filter": {}}, "invalid_delete"),
     ({"ids": ["a" * 64], "filter": {"album": "keep"}}, "invalid_delete"),
     ({"ids": ["../../etc/passwd"]}, "invalid_ids"),
     ({"filter": {'album"] or true or ["': 1}}, "invalid_filter"),
     ({"filter": {"album": {"in": ['x" or 1==1 or "', {"a": 1}]}}}, "invalid_filter")],
)  # fmt: skip
def test_a_bad_bulk_delete_gets_422_and_deletes_nothing(
    gateway: RunningGateway, body: dict[str, object], code: str
) -> None:
    with gateway.client() as client:
        before = _counts(client)
        response = _delete(client, **body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code
        assert _counts(client) == before


def test_the_cli_deletes_by_filter_and_by_ids_with_a_dry_run_first(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [CLI, "delete", *args, "--url", gateway.url]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    with gateway.client() as client:
        ids = _index(client, "cli", range(10, 14))
        before = _counts(client).pop()
        dry = cli("--filter", '{"album": "cli"}', "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "would delete 4 images" in dry.stdout and _counts(client) == {before}

        listed = tmp_path / "ids.txt"
        listed.write_text("\n".join(ids[:2]) + "\n")
        # No terminal to ask on and no --yes: it shows what would go, deletes nothing, exit 2.
        unconfirmed = cli("--ids", f"@{listed}")
        assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
        assert ids[0][:12] in unconfirmed.stdout and _counts(client) == {before}
        assert "deleted 2 images" in cli("--ids", f"@{listed}", "--yes").stdout
        assert "deleted 1 image\n" in cli("--ids", ids[2], "--yes").stdout
        assert "deleted 1 image\n" in cli("--filter", '{"album": {"in": ["cli"]}}', "--yes").stdout
        assert _counts(client) == {before - 4}
        refused = cli("--filter", '{"album": {"like": "%"}}', "--yes")
        assert refused.returncode == 1 and "invalid_filter" in refused.stdout + refused.stderr
