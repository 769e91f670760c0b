"""Command-line values checked before anything is sent: JSON options, metadata, model
names. Each problem is a UsageProblem (exit 2) naming the option and what to write."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.cli.errors import UsageProblem
from gateway.models.registry import REGISTRY

# Stored capture facts and filters' own keys: metadata may not use them (the server answers
# 422 reserved_metadata_key; refusing here says so once, before any upload).
RESERVED_METADATA_KEYS = ("taken", "camera", "lens", "has_location", "tags", "created_at")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def json_object(text: str, option: str, example: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageProblem(f"{option} is not valid JSON ({exc})", f"write e.g. {example}") from None
    if not isinstance(value, dict):
        raise UsageProblem(f"{option} must be a JSON object", f"write e.g. {example}")
    return value


def check_metadata_keys(keys: Sequence[str], option: str) -> None:
    for key in keys:
        if key in RESERVED_METADATA_KEYS:
            raise UsageProblem(
                f"{option}: {key!r} is reserved for the facts read from the photo itself",
                f"choose another key (reserved: {', '.join(RESERVED_METADATA_KEYS)})",
            )
        if not _KEY.fullmatch(key):
            raise UsageProblem(
                f"{option}: key {key[:70]!r} is not a name",
                "use letters, digits and _ (not first), at most 64",
            )


def metadata(text: str | None) -> dict[str, Any]:
    """--metadata for `index`: a JSON object of scalars, without reserved keys."""
    if not text:
        return {}
    value = json_object(text, "--metadata", '\'{"album": "2024"}\'')
    check_metadata_keys(list(value), "--metadata")
    for key, item in value.items():
        if item is None or isinstance(item, dict | list):
            raise UsageProblem(
                f"--metadata value for {key!r} must be a string, number or boolean",
                f'write e.g. \'{{"{key}": "value"}}\'',
            )
    return value


def metadata_patch(text: str | None, set_: Sequence[str], unset: Sequence[str]) -> dict[str, Any]:
    """--metadata (an RFC 7396 merge patch: null removes a key), --set KEY=VALUE (a
    string) and --unset KEY, merged into one patch."""
    patch = json_object(text, "--metadata", '\'{"album": "2024", "old": null}\'') if text else {}
    for item in set_:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageProblem(f"--set {item!r} needs KEY=VALUE", f"write e.g. --set {item}=value")
        patch[key.strip()] = value
    for key in unset:
        patch[key.strip()] = None
    if not patch:
        raise UsageProblem("nothing to change", "give --set KEY=VALUE, --unset KEY or --metadata")
    check_metadata_keys(list(patch), "metadata")
    return patch


def filter_object(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json_object(text, "--filter", '\'{"album": "2024"}\'')


def image_id(value: str) -> str:
    """An image id (sha256 hex), or a file whose bytes give it."""
    path = Path(value)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if _SHA256.fullmatch(value.lower()):
        return value.lower()
    raise UsageProblem(
        f"{value!r} is neither an image id (64 hex digits) nor a file",
        "give the id `pic-search search --json` shows, or the photo's file",
    )


def model_name(value: str | None) -> str | None:
    """A registry model by name or by the title the page shows, in any case."""
    if value is None:
        return None
    wanted = value.strip().casefold()
    if wanted == "tags":  # text search through auto-tags
        return "tags"
    for model in REGISTRY.values():
        if wanted in (model.name.casefold(), model.title.casefold()):
            return model.name
    known = ", ".join(f"{m.name} ({m.title})" for m in REGISTRY.values()) + ", tags (--text)"
    raise UsageProblem(f"unknown model {value!r}", f"choose one of {known}")


def query_image(image: Path) -> Path:
    if image.is_dir():
        raise UsageProblem(
            f"{image} is a folder; search takes one image",
            "give a photo file (to index a folder: pic-search index FOLDER)",
        )
    if not image.exists():
        raise UsageProblem(f"no such file: {image}")
    return image


def with_tags(filters: dict[str, Any] | None, tags: list[str] | None) -> dict[str, Any] | None:
    """`--tag` as the filter's `tags` key (any of them); the gateway checks the names."""
    if not tags:
        return filters
    if filters and "tags" in filters:
        raise UsageProblem("give tags with --tag or in --filter, not both")
    return {**(filters or {}), "tags": {"in": [t.strip().lower() for t in tags]}}
