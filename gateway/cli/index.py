"""`pic-search index`: upload folders of photos in parallel batches, resumably.

Every file seen is accounted for: indexed (`created`), `duplicate` (the server already held
it), `rejected` (with the server's reason), skipped by the resume journal (the server
confirmed it still holds it), a copy of another file of this run, or not an image.
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

from gateway.cli.api import Api, HttpApi, existing_ids
from gateway.cli.client import checked, interruptible
from gateway.cli.discover import find_images
from gateway.cli.errors import ApiError, UsageProblem
from gateway.cli.journal import Journal, run_key

MAX_BATCH_BYTES = 32 * 1024 * 1024
# Errors about the request's --metadata: every file would get the same one.
METADATA_CODES = {"invalid_metadata", "reserved_metadata_key", "metadata_too_large"}
EDIT_HINT = "pic-search edit ID_OR_FILE --set KEY=VALUE"


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)  # created, duplicate, rejected
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # path, code, message
    failed: list[tuple[str, str]] = field(default_factory=list)  # path, error (not sent)
    seen: int = 0  # every file found under the paths
    not_images: list[Path] = field(default_factory=list)
    copies: int = 0  # the same bytes as another file of this run: sent once
    journal_skipped: int = 0  # journaled by the interrupted run, and the server holds them
    to_send: int = 0
    metadata_given: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed

    @property
    def sent(self) -> int:
        return sum(self.counts[s] for s in ("created", "duplicate", "rejected"))


@dataclass
class Plan:
    todo: list[Path]
    journal: Journal | None
    summary: Summary


def plan_run(paths: list[Path], api: Api, journal_path: Path, metadata: dict[str, Any]) -> Plan:
    """What to send: every image found, less copies within the run and what the journal of
    this very run recorded and the server confirms it still holds."""
    summary = Summary(metadata_given=bool(metadata))
    images = list(find_images(paths, summary.not_images))
    summary.seen = len(images) + len(summary.not_images)
    # No index_id (an older gateway): no resuming, which is always safe.
    index_id = api.stats().get("index_id")
    journal = Journal(journal_path, run_key(api.where, index_id, paths)) if index_id else None
    digests: dict[Path, str] = {}
    seen: set[str] = set()
    for path in images:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            summary.copies += 1
            continue
        seen.add(digest)
        digests[path] = digest
    journaled = [d for d in digests.values() if journal and d in journal.done]
    held = existing_ids(api, journaled) if journaled else set()
    summary.journal_skipped = len(held)
    todo = [path for path, digest in digests.items() if digest not in held]
    summary.to_send = len(todo)
    return Plan(todo, journal, summary)


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


def record(summary: Summary, path: Path, result: dict[str, Any]) -> None:
    summary.counts[result["status"]] += 1
    if result["status"] == "rejected":
        summary.rejected.append((str(path), result.get("code", ""), result.get("message", "")))


def metadata_refused(exc: ApiError) -> UsageProblem:
    return UsageProblem(f"the gateway refused --metadata ({exc.code}): {exc.message}")


def run_index(
    paths: list[Path],
    api: HttpApi,
    batch_size: int,
    workers: int,
    metadata: dict[str, Any],
    journal_path: Path,
    console: Console,
    store_paths: bool = True,
) -> Summary:
    interruptible()
    plan = plan_run(paths, api, journal_path, metadata)
    summary, journal = plan.summary, plan.journal

    def upload(batch: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in batch]
        data = {"metadata": json.dumps(metadata)} if metadata else {}
        if store_paths:  # so a result can say where its file is
            data["paths"] = json.dumps([str(p.resolve()) for p in batch])
        try:
            results = checked(api.client.post("/v1/images", files=files, data=data))["results"]
        except ApiError as exc:
            if exc.code in METADATA_CODES:
                raise metadata_refused(exc) from exc
            if exc.status in (401, 503) or int(exc.status) >= 500:
                raise  # the whole run cannot go on; the journal keeps what was done
            # Every file was rejected: the body still lists why, file by file.
            rejected = {"status": "rejected", "code": exc.code, "message": exc.message}
            results = [rejected] * len(batch)
        return list(zip(batch, results, strict=True))

    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("index", total=len(plan.todo))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(upload, batch) for batch in _batches(plan.todo, batch_size)]
            try:
                for future in as_completed(futures):
                    outcome = future.result()
                    if journal is not None:
                        journal.add(r["id"] for _, r in outcome if r.get("id"))
                    for path, result in outcome:
                        record(summary, path, result)
                    progress.advance(task, len(outcome))
            except KeyboardInterrupt:
                summary.interrupted = True
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            finally:
                for future in futures:
                    future.cancel()
    if journal is not None and not summary.interrupted:
        journal.finish()
    return summary


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def print_summary(summary: Summary, console: Console, verbose: bool = False) -> None:
    counts = summary.counts

    def say(text: str) -> None:
        # soft_wrap: one line per file, whatever the terminal width, for grep and logs.
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    if summary.interrupted:
        say(
            f"interrupted after {summary.sent} of {summary.to_send} files to send; "
            "run the same command again to resume"
        )
    say(
        f"indexed {counts['created']}, duplicate {counts['duplicate']}, "
        f"rejected {counts['rejected']}, skipped (journal) {summary.journal_skipped}"
    )
    skipped = len(summary.not_images)
    others = [f"{skipped} not {'an image' if skipped == 1 else 'images'}"]
    if summary.copies:
        others.append(_plural(summary.copies, "copy", "copies") + " of another file (sent once)")
    listed = " (listed with --verbose)" if summary.not_images and not verbose else ""
    say(f"{_plural(summary.seen, 'file')} seen: {', '.join(others)}{listed}")
    for path in summary.not_images if verbose else []:
        say(f"  not an image: {path}")
    for path_text, code, message in summary.rejected:
        say(f"  rejected {path_text}: {code}: {message}")
    if summary.metadata_given and counts["duplicate"]:
        say(
            f"the metadata of {_plural(counts['duplicate'], 'duplicate')} was left unchanged "
            f"(the server already held them); change it with `{EDIT_HINT}`"
        )
