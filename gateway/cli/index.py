"""`pic-search index`: upload folders of photos in parallel batches, resumably.

A journal file (one sha256 per line, per gateway URL) records every image the gateway
has acknowledged, so an interrupted run resumes where it stopped without re-uploading.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gateway.cli.client import ApiError, checked, connect, gateway_url, interruptible
from gateway.cli.discover import find_images

MAX_BATCH_BYTES = 32 * 1024 * 1024


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # path, code, message
    failed: list[tuple[str, str]] = field(default_factory=list)  # path, error (not sent)

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed


class Journal:
    """Ids the gateway at `url` has acknowledged; appended and flushed after every batch."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self.done: set[str] = set()
        if path.exists():
            for line in path.read_text().splitlines():
                entry = json.loads(line)
                if entry.get("url") == url:
                    self.done.add(entry["id"])

    def add(self, ids: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            for image_id in ids:
                handle.write(json.dumps({"url": self.url, "id": image_id}) + "\n")
            handle.flush()
        self.done.update(ids)


def default_journal() -> Path:
    return Path.home() / ".cache" / "pic-search" / "index-journal.jsonl"


def _batches(paths: list[Path], size: int) -> Iterator[list[Path]]:
    batch: list[Path] = []
    total = 0
    for path in paths:
        length = path.stat().st_size
        if batch and (len(batch) >= size or total + length > MAX_BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(path)
        total += length
    if batch:
        yield batch


def run_index(
    paths: list[Path],
    url: str | None,
    batch_size: int,
    workers: int,
    metadata: dict[str, Any],
    journal_path: Path,
    console: Console,
    store_paths: bool = True,
) -> Summary:
    interruptible()
    summary = Summary()
    journal = Journal(journal_path, gateway_url(url))
    todo: list[Path] = []
    seen: set[str] = set()
    for path in find_images(paths):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in journal.done or digest in seen:
            summary.counts["duplicate"] += 1
            continue
        seen.add(digest)
        todo.append(path)

    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with connect(url) as client, Progress(*columns, console=console) as progress:
        task = progress.add_task("index", total=len(todo))

        def upload(batch: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
            files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in batch]
            data = {"metadata": json.dumps(metadata)} if metadata else {}
            if store_paths:  # so a result can say where its file is
                data["paths"] = json.dumps([str(p.resolve()) for p in batch])
            try:
                body = checked(client.post("/v1/images", files=files, data=data))
                results = body["results"]
            except ApiError as exc:
                if exc.status in (401, 503) or exc.status >= 500:
                    raise  # the whole run cannot go on; the journal keeps what was done
                # Every file was rejected: the body still lists why, file by file.
                results = [{"status": "rejected", "code": exc.code, "message": exc.message}] * len(
                    batch
                )
            return list(zip(batch, results, strict=True))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(upload, batch) for batch in _batches(todo, batch_size)]
            try:
                for future in as_completed(futures):
                    outcome = future.result()
                    acknowledged = [r["id"] for _, r in outcome if r.get("id")]
                    journal.add(acknowledged)
                    for path, result in outcome:
                        summary.counts[result["status"]] += 1
                        if result["status"] == "rejected":
                            summary.rejected.append(
                                (str(path), result.get("code", ""), result.get("message", ""))
                            )
                    progress.advance(task, len(outcome))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    return summary


def print_summary(summary: Summary, console: Console) -> None:
    counts = summary.counts
    console.print(
        f"indexed {counts['created']}, duplicate {counts['duplicate']}, "
        f"rejected {counts['rejected']}",
        markup=False,
    )
    for path, code, message in summary.rejected:
        # soft_wrap: one line per file, whatever the terminal width, for grep and logs.
        console.print(f"  rejected {path}: {code}: {message}", markup=False, soft_wrap=True)
