"""The CLI's gRPC side (`--grpc HOST:PORT`): the same commands over picsearch.v1, with
answers shaped like the HTTP API's so both print alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from gateway.cli.client import interruptible
from gateway.cli.discover import find_images
from gateway.cli.index import Journal, Summary
from gateway.grpc.client import ImageToIndex, PicSearchClient, search_body


def search(
    target: str, image: Path | None, text: str | None, model: str | None, options: dict[str, Any]
) -> dict[str, Any]:
    """`options`: top_k, filter, sort, min_score, cutoff (as the HTTP API takes them)."""
    with PicSearchClient(target) as client:
        if text is not None:
            return search_body(client.search_by_text(text, **options))
        assert image is not None
        return search_body(client.search_by_image(image.read_bytes(), model=model or "", **options))


def stats(target: str) -> dict[str, Any]:
    with PicSearchClient(target) as client:
        return client.stats()


def delete(target: str, image_id: str) -> None:
    with PicSearchClient(target) as client:
        client.delete_image(image_id)


def delete_many(
    target: str, ids: list[str] | None, filters: dict[str, Any] | None, dry_run: bool
) -> dict[str, Any]:
    with PicSearchClient(target) as client:
        return client.delete_images(ids, filters, dry_run)


def run_index(
    paths: list[Path],
    target: str,
    metadata: dict[str, Any],
    journal_path: Path,
    console: Console,
    store_paths: bool = True,
) -> Summary:
    """One IndexImages stream for every new file; the journal records each acknowledgement
    as it arrives, so an interrupted run resumes where it stopped."""
    interruptible()
    summary = Summary()
    journal = Journal(journal_path, f"grpc://{target}")
    todo: list[Path] = []
    for path in find_images(paths):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in journal.done:
            summary.counts["duplicate"] += 1
            continue
        todo.append(path)

    def stream() -> Iterator[ImageToIndex]:
        for path in todo:
            source = str(path.resolve()) if store_paths else ""
            yield ImageToIndex(path.name, path.read_bytes(), metadata, source)

    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn())
    with PicSearchClient(target) as client, Progress(*columns, console=console) as progress:
        task = progress.add_task("index", total=len(todo))
        for result in client.index_images(stream()):
            summary.counts[result.status] += 1
            if result.id:
                journal.add([result.id])
            if result.status == "rejected":
                summary.rejected.append((str(todo[result.index]), result.code, result.message))
            progress.advance(task)
    return summary
