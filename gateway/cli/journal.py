"""The resume journal of `pic-search index`: which images an interrupted run already sent.

It only ever resumes that run: entries are keyed by the gateway, the index (the `index_id`
of /v1/stats, which changes when the collections are recreated) and the folders indexed,
so a journal of another index, gateway or folder is ignored. Even then the journal is a
hint, not the truth: the indexer asks the server which of its ids it still holds and
uploads the rest (an image deleted since is indexed again). A run that completes removes
its entries.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def default_journal() -> Path:
    return Path.home() / ".cache" / "pic-search" / "index-journal.jsonl"


def run_key(gateway: str, index_id: str, roots: Iterable[Path]) -> str:
    """What identifies a run: the same gateway, index and (resolved) folders."""
    folders = sorted(str(Path(root).resolve()) for root in roots)
    text = json.dumps({"gateway": gateway, "index": index_id, "roots": folders})
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@contextmanager
def _locked(path: Path, mode: str) -> Iterator[IO[str]]:
    """Runs of other folders may share the file: appends and rewrites take turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle


class Journal:
    """Ids this run (`key`) has had acknowledged; appended and flushed after every batch."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self.done: set[str] = set()
        for entry in self._entries():
            image_id = entry.get("id")
            if entry.get("run") == key and isinstance(image_id, str):
                self.done.add(image_id)

    def _entries(self) -> Iterator[dict[str, object]]:
        if not self.path.exists():
            return
        for line in self.path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash: the rest still counts
            if isinstance(entry, dict):
                yield entry

    def add(self, ids: Iterable[str]) -> None:
        new = [i for i in ids if i not in self.done]
        if not new:
            return
        with _locked(self.path, "a") as handle:
            handle.writelines(json.dumps({"run": self.key, "id": i}) + "\n" for i in new)
            handle.flush()
        self.done.update(new)

    def finish(self) -> None:
        """The run completed: nothing is left to resume, so its entries go."""
        if not self.path.exists():
            return
        with _locked(self.path, "r+") as handle:
            kept = [
                line
                for line in handle.read().splitlines(keepends=True)
                if f'"run": "{self.key}"' not in line
            ]
            handle.seek(0)
            handle.truncate()
            handle.writelines(kept)
        self.done.clear()
