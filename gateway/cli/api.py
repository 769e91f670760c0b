"""One face for both transports: every command talks to an `Api`, over HTTP (`--url`) or
picsearch.v1 (`--grpc HOST:PORT`), and gets the HTTP API's JSON shapes back either way."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx

from gateway.cli.client import checked, connect, gateway_url
from gateway.cli.errors import ApiError, Unreachable, UsageProblem

EXISTS_BATCH = 10_000  # the most ids one exists call takes


class Api(Protocol):
    where: str  # the gateway URL or grpc://HOST:PORT, for messages and the journal

    def stats(self) -> dict[str, Any]: ...
    def models(self) -> list[dict[str, Any]]: ...
    def tags(self, prefix: str | None, limit: int | None, cursor: str | None) -> dict[str, Any]: ...
    def existing(self, ids: Sequence[str]) -> list[str]: ...
    def search_image(
        self, image: Path, model: str | None, options: dict[str, Any]
    ) -> dict[str, Any]: ...
    def search_text(
        self, text: str, model: str | None, options: dict[str, Any]
    ) -> dict[str, Any]: ...
    def delete_one(self, image_id: str) -> None: ...
    def delete_many(
        self, ids: list[str] | None, filters: dict[str, Any] | None, dry_run: bool
    ) -> dict[str, Any]: ...
    def patch_metadata(self, image_id: str, patch: dict[str, Any]) -> dict[str, Any]: ...
    def check(self, repair: bool, force: bool) -> dict[str, Any]: ...
    def reindex(self) -> dict[str, Any]: ...


def existing_ids(api: Api, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the service holds, asked in batches the API accepts."""
    found: set[str] = set()
    for start in range(0, len(ids), EXISTS_BATCH):
        found.update(api.existing(ids[start : start + EXISTS_BATCH]))
    return found


class HttpApi:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.where = str(client.base_url).rstrip("/")

    def stats(self) -> dict[str, Any]:
        return dict(checked(self.client.get("/v1/stats")))

    def models(self) -> list[dict[str, Any]]:
        return list(checked(self.client.get("/v1/models"))["models"])

    def tags(self, prefix: str | None, limit: int | None, cursor: str | None) -> dict[str, Any]:
        query = {"prefix": prefix, "limit": limit, "cursor": cursor}
        params = {k: v for k, v in query.items() if v is not None}
        return dict(checked(self.client.get("/v1/tags", params=params)))

    def existing(self, ids: Sequence[str]) -> list[str]:
        body = checked(self.client.post("/v1/images:exists", json={"ids": list(ids)}))
        return list(body["existing"])

    def search_image(
        self, image: Path, model: str | None, options: dict[str, Any]
    ) -> dict[str, Any]:
        files = {"file": (image.name, image.read_bytes(), "application/octet-stream")}
        form = {k: json.dumps(v) if k == "filter" else str(v) for k, v in options.items()}
        if model:
            form["model"] = model
        return dict(checked(self.client.post("/v1/search/image", files=files, data=form)))

    def search_text(self, text: str, model: str | None, options: dict[str, Any]) -> dict[str, Any]:
        query = {"q": text, **options, **({"model": model} if model else {})}
        return dict(checked(self.client.post("/v1/search/text", json=query)))

    def delete_one(self, image_id: str) -> None:
        checked(self.client.delete(f"/v1/images/{image_id}"))

    def delete_many(
        self, ids: list[str] | None, filters: dict[str, Any] | None, dry_run: bool
    ) -> dict[str, Any]:
        body = {"ids": ids, "filter": filters, "dry_run": dry_run}
        body = {k: v for k, v in body.items() if v is not None}
        return dict(checked(self.client.post("/v1/images:delete", json=body)))

    def patch_metadata(self, image_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        response = self.client.patch(
            f"/v1/images/{image_id}",
            content=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        return dict(checked(response))

    def check(self, repair: bool, force: bool) -> dict[str, Any]:
        body = {"repair": repair, "force": force}
        # A repair re-embeds images: as long as it takes.
        return dict(checked(self.client.post("/v1/admin/check", json=body, timeout=None)))

    def reindex(self) -> dict[str, Any]:
        return dict(checked(self.client.post("/v1/admin/reindex", json={}, timeout=None)))


class GrpcApi:
    """The picsearch.v1 client, with its errors turned into the CLI's."""

    def __init__(self, target: str) -> None:
        from gateway.grpc.client import PicSearchClient

        self.target = target
        self.where = f"grpc://{target}"
        self.client = PicSearchClient(target)

    def close(self) -> None:
        self.client.close()

    def translate(self, exc: Any) -> Exception:
        """A GrpcApiError as the CLI's own error."""
        # No google.rpc reason: grpc's own UNAVAILABLE, nobody answered at all.
        if exc.status.name == "UNAVAILABLE" and exc.code == "unavailable":
            return Unreachable(self.target)
        return ApiError(exc.status.name, exc.code, exc.message)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from gateway.grpc.client import GrpcApiError

        try:
            return getattr(self.client, method)(*args, **kwargs)
        except GrpcApiError as exc:
            raise self.translate(exc) from exc

    def stats(self) -> dict[str, Any]:
        return dict(self._call("stats"))

    def models(self) -> list[dict[str, Any]]:
        return list(self._call("models"))

    def tags(self, prefix: str | None, limit: int | None, cursor: str | None) -> dict[str, Any]:
        return dict(self._call("tags", prefix or "", limit or 0, cursor or ""))

    def existing(self, ids: Sequence[str]) -> list[str]:
        return list(self._call("images_exist", ids))

    def search_image(
        self, image: Path, model: str | None, options: dict[str, Any]
    ) -> dict[str, Any]:
        from gateway.grpc.client import search_body

        data = image.read_bytes()
        return search_body(self._call("search_by_image", data, model=model or "", **options))

    def search_text(self, text: str, model: str | None, options: dict[str, Any]) -> dict[str, Any]:
        from gateway.grpc.client import search_body

        return search_body(self._call("search_by_text", text, model=model or "", **options))

    def delete_one(self, image_id: str) -> None:
        self._call("delete_image", image_id)

    def delete_many(
        self, ids: list[str] | None, filters: dict[str, Any] | None, dry_run: bool
    ) -> dict[str, Any]:
        return dict(self._call("delete_images", ids, filters, dry_run))

    def patch_metadata(self, image_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("update_metadata", image_id, patch))

    def check(self, repair: bool, force: bool) -> dict[str, Any]:
        return dict(self._call("check_consistency", repair, force))

    def reindex(self) -> dict[str, Any]:
        return dict(self._call("reindex"))


@contextmanager
def open_api(url: str | None, grpc: str | None) -> Iterator[Api]:
    """The gateway at --grpc HOST:PORT when given, else at --url (or its defaults)."""
    if grpc is not None:
        if "://" in grpc:
            host = grpc.split("://", 1)[1]
            raise UsageProblem(f"--grpc takes HOST:PORT, not a URL ({grpc!r})", f"--grpc {host}")
        api = GrpcApi(grpc)
        try:
            yield api
        finally:
            api.close()
        return
    gateway_url(url)  # refuse a URL without a scheme before opening anything
    with connect(url) as client:
        yield HttpApi(client)
