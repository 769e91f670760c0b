"""`pic-search delete`: by id, or many at once (--ids, --filter) after showing what matches.

A bulk delete runs a dry run first and shows the count and a sample; then it asks on a
terminal, goes ahead with --yes, and without either deletes nothing (exit 2): a script
that forgot --yes must not delete what nobody saw."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import inputs, tables
from gateway.cli.api import Api, open_api
from gateway.cli.errors import CliError, UsageProblem
from gateway.cli.options import Grpc, Json, Url, images, print_json, say


def delete(
    image_ids: Annotated[
        list[str] | None, typer.Argument(help="Image ids (sha256), deleted one by one.")
    ] = None,
    ids: Annotated[
        str | None,
        typer.Option("--ids", help="Comma-separated ids, or @FILE with one id per line."),
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", help='JSON filter, e.g. {"album": "2023"}.')
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only show what would be deleted.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete without asking (for scripts).")
    ] = False,
    as_json: Json = False,
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Delete images (vectors and stored bytes): by id, or many at once by --ids or --filter."""
    if sum(x is not None for x in (image_ids or None, ids, filter)) != 1:
        raise UsageProblem("give image ids, --ids or --filter (one of them)")
    filters = inputs.filter_object(filter)
    chosen = None if filters is not None else (image_ids or id_list(ids or ""))
    with open_api(url, grpc) as api:
        if image_ids and not dry_run:
            for image_id in image_ids:
                api.delete_one(image_id)
                say(f"deleted {image_id}")
            return
        report = bulk_delete(api, chosen, filters, dry_run, yes, ask=_ask, interactive=_tty())
    if as_json:
        print_json(report)


def bulk_delete(
    api: Api,
    ids: list[str] | None,
    filters: dict[str, Any] | None,
    dry_run: bool,
    yes: bool,
    ask: Callable[[str], bool],
    interactive: bool,
) -> dict[str, Any]:
    """Dry run, show, confirm, delete; the last report."""
    preview = api.delete_many(ids, filters, dry_run=True)
    matched = int(preview["matched"])
    if matched == 0:
        say("nothing matches: nothing deleted")
        return preview
    show_sample(preview)
    if dry_run:
        say(f"would delete {images(matched)} (dry run: nothing deleted)")
        return preview
    if not yes:
        if not interactive:
            raise UsageProblem(
                f"not deleting {images(matched)} without a confirmation (no terminal to ask on)",
                "add --yes to delete them, or --dry-run to only look",
            )
        if not ask(f"Delete {images(matched)}?"):
            raise CliError("nothing deleted")
    report = api.delete_many(ids, filters, dry_run=False)
    say(f"deleted {images(int(report['deleted']))}")
    return report


def show_sample(report: dict[str, Any]) -> None:
    sample = report.get("sample") or []
    if not sample:
        return
    more = int(report["matched"]) - len(sample)
    say(
        f"{images(int(report['matched']))} match" + (f"; the first {len(sample)}:" if more else ":")
    )
    for line in tables.sample_table(sample):
        say(line)
    if more:
        say(f"... and {images(more)} more")


def _tty() -> bool:
    return sys.stdin.isatty()


def _ask(question: str) -> bool:
    return bool(typer.confirm(question, default=False))


def id_list(spec: str) -> list[str]:
    text = Path(spec[1:]).read_text() if spec.startswith("@") else spec.replace(",", "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]
