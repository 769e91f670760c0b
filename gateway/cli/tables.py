"""Plain-text tables for people (scripts take `--json`): fixed columns first, the file's
name or path last, so the header always fits 80 columns and rows cut only the path's head
when the terminal is narrower than the row."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

WIDTH = 80


def terminal_width() -> int:
    """$COLUMNS or the terminal's width; 80 when piped."""
    return shutil.get_terminal_size((WIDTH, 24)).columns


def fit_tail(text: str, width: int) -> str:
    """`text` cut at its head to `width` characters (a path's end names the file)."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def render(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[bool],
    width: int | None = None,
) -> list[str]:
    """Columns as wide as their widest cell; the last one takes what is left of `width`."""
    width = width or terminal_width()
    fixed = [max([len(header[i]), *(len(r[i]) for r in rows)]) for i in range(len(header) - 1)]
    room = max(width - sum(fixed) - 2 * len(fixed), 12)

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if right[i] else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, fixed, strict=False))
        ]
        return "  ".join([*parts, fit_tail(cells[-1], room)]).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _size(hit: dict[str, Any]) -> str:
    return f"{hit['width']}x{hit['height']}" if hit.get("width") else "-"


def _taken(hit: dict[str, Any]) -> str:
    """Date and minute: the seconds and offset matter to scripts (--json), not at a glance."""
    taken = hit.get("taken")
    return str(taken)[:16].replace("T", " ") if taken else "-"


def results_table(
    results: Sequence[dict[str, Any]], width: int | None = None, ids: bool = False
) -> list[str]:
    """rank, score, taken, size, the top auto-tags (where any hit has tags), then the path
    (or file name; with `ids`, the id)."""
    tagged = any(hit.get("tags") for hit in results)
    header = [
        "rank",
        "score",
        "taken",
        "size",
        *(["tags"] if tagged else []),
        "id" if ids else "file",
    ]
    rows = [
        [
            str(rank),
            f"{hit['score']:.4f}",
            _taken(hit),
            _size(hit),
            *([_tags(hit)] if tagged else []),
            (str(hit["id"]) if ids else str(hit.get("path") or hit.get("filename") or "?"))
            + _copies(hit),
        ]
        for rank, hit in enumerate(results, start=1)
    ]
    right = [True, True, False, True, *([False] if tagged else []), False]
    return render(header, rows, right, width)


def _tags(hit: dict[str, Any], shown: int = 3) -> str:
    """The photo's best auto-tags (its classes come first: the most specific names)."""
    return ", ".join(str(t["name"]) for t in (hit.get("tags") or [])[:shown])


def _copies(hit: dict[str, Any]) -> str:
    n = len(hit.get("copies") or [])
    return f" (+{n} {'copy' if n == 1 else 'copies'})" if n else ""


def stats_table(body: dict[str, Any], width: int | None = None) -> list[str]:
    """One row per collection with its model's weights, then the total."""
    weights = {name: m.get("weights", "") for name, m in body.get("models", {}).items()}
    rows = []
    for name, c in body["collections"].items():
        model = str(c.get("model", ""))
        # A collection's model may serve through several Triton models (clip_image, ...).
        served = [w for triton, w in weights.items() if triton.startswith(model)]
        rows.append([name, model, str(c["count"]), ", ".join(sorted(set(served))) or "-"])
    total = sum(int(c["count"]) for c in body["collections"].values())
    rows.append(["total", "", str(total), ""])
    return render(
        ["collection", "model", "vectors", "weights"], rows, [False, False, True, False], width
    )


def models_table(models: Sequence[dict[str, Any]], width: int | None = None) -> list[str]:
    """name, title, dim, text tower, enabled, default, weights (real, random or unknown)."""
    header = ["name", "title", "dim", "text", "enabled", "default", "weights"]
    rows = [
        [
            m["name"], m["title"], str(m["dimension"]), "yes" if m["text"] else "no",
            "yes" if m["enabled"] else "no", "yes" if m["default"] else "", m["weights"],
        ]
        for m in models
    ]  # fmt: skip
    return render(header, rows, [False, False, True, False, False, False, False], width)


def sample_table(sample: Sequence[dict[str, Any]], width: int | None = None) -> list[str]:
    """Short ids (enough to tell rows apart), the file name, the path it came from."""
    rows = [
        [s["id"][:12], str(s.get("filename") or "?"), str(s.get("path") or "-")] for s in sample
    ]
    return render(["id", "filename", "path"], rows, [False, False, False], width)
