"""Where a model's weights come from, and how that is recorded (its provenance)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DEFAULT_SEED = 20241127


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be fetched, or a local file is missing."""


@dataclass(frozen=True)
class WeightsSource:
    kind: Literal["pretrained", "file", "random"]
    path: Path | None = None
    seed: int = DEFAULT_SEED

    @classmethod
    def parse(cls, value: str, seed: int = DEFAULT_SEED) -> WeightsSource:
        """`pretrained`, `random`, or a path to a local weights file or preset folder."""
        if value == "pretrained":
            return cls(kind="pretrained", seed=seed)
        if value == "random":
            return cls(kind="random", seed=seed)
        path = Path(value).expanduser().resolve()
        if not path.exists():
            raise WeightsUnavailableError(f"weights path {path} does not exist")
        return cls(kind="file", path=path)

    def provenance(self, published: str) -> str:
        """A short, stable string naming exactly which weights were used.

        `published` names the published weights (e.g. `keras.applications/imagenet`).
        """
        if self.kind == "random":
            return f"random:seed={self.seed}"
        if self.kind == "pretrained":
            return f"pretrained:{published}"
        assert self.path is not None
        return f"file:{self.path.name}:sha256={_digest(self.path)[:16]}"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        sha.update(file.name.encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                sha.update(chunk)
    return sha.hexdigest()
