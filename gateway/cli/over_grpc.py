"""`pic-search index --grpc HOST:PORT`: one IndexImages stream for every file to send, under
the same journal and accounting rules as the HTTP path (gateway/cli/index.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from gateway.cli.api import GrpcApi
from gateway.cli.client import interruptible
from gateway.cli.errors import ApiError
from gateway.cli.index import METADATA_CODES, Summary, metadata_refused, plan_run, record
from gateway.grpc.client import GrpcApiError, ImageToIndex


def run_index(
    paths: list[Path],
    api: GrpcApi,
    metadata: dict[str, Any],
    journal_path: Path,
    console: Console,
    store_paths: bool = True,
) -> Summary:
    """The journal records each acknowledgement as it arrives, so an interrupted run
    resumes where it stopped."""
    interruptible()
    plan = plan_run(paths, api, journal_path, metadata)
    summary, journal, todo = plan.summary, plan.journal, plan.todo

    def stream() -> Iterator[ImageToIndex]:
        for path in todo:
            source = str(path.resolve()) if store_paths else ""
            yield ImageToIndex(path.name, path.read_bytes(), metadata, source)

    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("index", total=len(todo))
        try:
            for result in api.client.index_images(stream()):
                if result.id and journal is not None:
                    journal.add([result.id])
                record(
                    summary,
                    todo[result.index],
                    {"status": result.status, "code": result.code, "message": result.message},
                )
                progress.advance(task)
        except KeyboardInterrupt:
            summary.interrupted = True
        except GrpcApiError as exc:
            if exc.code in METADATA_CODES:
                raise metadata_refused(ApiError(exc.status.name, exc.code, exc.message)) from exc
            raise api.translate(exc) from exc
    if journal is not None and not summary.interrupted:
        journal.finish()
    return summary
