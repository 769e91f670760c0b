"""A gateway faked at its HTTP interface (httpx.MockTransport): enough of /v1 for the CLI's
rules (journal, confirmation, errors), holding images in a dict and recording requests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest

from gateway.cli import api as api_module
from gateway.cli.client import gateway_url


def _form(request: httpx.Request) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """Multipart files and fields, parsed with the standard library's MIME parser."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    files: list[tuple[str, bytes]] = []
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        if part.get_filename():
            files.append((str(part.get_filename()), payload))
        else:
            fields[str(name)] = payload.decode()
    return files, fields


class FakeGateway:
    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.index_id = "index-1"
        self.requests: list[httpx.Request] = []
        self.exists_calls: list[list[str]] = []
        self.fail: Callable[[httpx.Request], httpx.Response | None] = lambda request: None
        self.check_report: dict[str, Any] = {}
        self.refuse_repair = False

    def hold(self, data: bytes, **record: Any) -> str:
        image_id = hashlib.sha256(data).hexdigest()
        self.images[image_id] = {"id": image_id, "metadata": {}, **record}
        return image_id

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        failure = self.fail(request)
        if failure is not None:
            return failure
        route = (request.method, request.url.path)
        if route == ("GET", "/v1/stats"):
            return httpx.Response(200, json=self.stats())
        if route == ("POST", "/v1/images:exists"):
            ids = json.loads(request.content)["ids"]
            self.exists_calls.append(ids)
            return httpx.Response(200, json={"existing": [i for i in ids if i in self.images]})
        if route == ("POST", "/v1/images"):
            return self.ingest(request)
        if route == ("POST", "/v1/images:delete"):
            return self.delete_many(json.loads(request.content))
        if request.method == "PATCH" and request.url.path.startswith("/v1/images/"):
            image_id = request.url.path.rsplit("/", 1)[1]
            record = self.images[image_id]
            for key, value in json.loads(request.content).items():
                if value is None:
                    record["metadata"].pop(key, None)
                else:
                    record["metadata"][key] = value
            return httpx.Response(200, json=record)
        if route == ("POST", "/v1/admin/check"):
            return self.check(json.loads(request.content))
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no route"}})

    def stats(self) -> dict[str, Any]:
        count = len(self.images)
        return {
            "collections": {
                "images_vgg16": {"model": "vgg16", "count": count, "fingerprint": None},
                "images_clip": {"model": "clip", "count": count, "fingerprint": None},
            },
            "models": {
                "vgg16": {"weights": "random:seed=1"},
                "clip_image": {"weights": "random:seed=1"},
                "clip_text": {"weights": "random:seed=1"},
            },
            "store": "local",
            "random_weights": True,
            "index_id": self.index_id,
        }

    def ingest(self, request: httpx.Request) -> httpx.Response:
        files, fields = _form(request)
        metadata = json.loads(fields.get("metadata", "{}"))
        results = []
        for name, data in files:
            if not data.startswith(b"IMG"):
                results.append({"status": "rejected", "code": "corrupt_image", "message": "bad"})
                continue
            image_id = hashlib.sha256(data).hexdigest()
            status = "duplicate" if image_id in self.images else "created"
            if status == "created":
                self.images[image_id] = {"id": image_id, "filename": name, "metadata": metadata}
            results.append({"status": status, "id": image_id, "filename": name})
        return httpx.Response(201, json={"results": results})

    def delete_many(self, body: dict[str, Any]) -> httpx.Response:
        wanted = body.get("filter") or {}
        matched = [
            i
            for i, r in self.images.items()
            if (body.get("ids") and i in body["ids"])
            or (wanted and all(r["metadata"].get(k) == v for k, v in wanted.items()))
        ]
        sample = [
            {"id": i, "filename": self.images[i].get("filename"), "path": None}
            for i in matched[:10]
        ]
        if not body.get("dry_run"):
            for image_id in matched:
                del self.images[image_id]
        return httpx.Response(
            200,
            json={
                "matched": len(matched),
                "deleted": 0 if body.get("dry_run") else len(matched),
                "dry_run": bool(body.get("dry_run")),
                "sample": sample,
            },
        )

    def check(self, body: dict[str, Any]) -> httpx.Response:
        if body["repair"] and self.refuse_repair and not body["force"]:
            error = {"code": "repair_refused", "message": "it would delete 40 % of the vectors"}
            return httpx.Response(409, json={"error": error})
        if body["repair"]:
            consistent = {
                **self.check_report,
                "consistent": True,
                "repaired": True,
                "collections": [
                    {**c, "missing": [], "orphans": []} for c in self.check_report["collections"]
                ],
            }
            return httpx.Response(200, json=consistent)
        return httpx.Response(200, json=self.check_report)

    def non_dry_deletes(self) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.url.path == "/v1/images:delete" and not json.loads(r.content).get("dry_run")
        ]


@contextmanager
def serving(fake: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGateway]:
    """Every HTTP client the CLI opens talks to `fake` (the URL is still checked)."""

    def connect(url: str | None, timeout_s: float | None = 300.0) -> httpx.Client:
        base = gateway_url(url)
        return httpx.Client(base_url=base, transport=httpx.MockTransport(fake.handle))

    monkeypatch.setattr(api_module, "connect", connect)
    yield fake
