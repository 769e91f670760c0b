"""The commands that talk to a running gateway (HTTP, or picsearch.v1 with --grpc).

Errors are not caught here: the error boundary (gateway/cli/errors.py) turns everyday
failures into one line and an exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import admin, inputs, tables
from gateway.cli.api import GrpcApi, HttpApi, open_api
from gateway.cli.errors import INTERRUPTED, ApiError, CliError, UsageProblem
from gateway.cli.options import Grpc, Json, Url, Verbose, console, print_json, say

SEARCH_OPTIONS = ("top_k", "sort", "min_score", "cutoff", "filter", "group")


def index(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (recursive).")],
    url: Url = None,
    batch_size: Annotated[int, typer.Option(min=1, max=64, help="Images per request.")] = 16,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Requests in flight.")] = 2,
    metadata: Annotated[
        str | None,
        typer.Option(help='JSON object stored with every new image, e.g. {"album": "2024"}.'),
    ] = None,
    journal: Annotated[
        Path | None,
        typer.Option(help="Resume journal (default: ~/.cache/pic-search/index-journal.jsonl)."),
    ] = None,
    store_path: Annotated[
        bool, typer.Option(help="Store each file's absolute source path with it.")
    ] = True,
    verbose: Verbose = False,
    grpc: Grpc = None,
) -> None:
    """Index images; Ctrl-C stops, the same command resumes; exits 1 if any file was rejected."""
    from gateway.cli import over_grpc
    from gateway.cli.index import print_summary, run_index
    from gateway.cli.journal import default_journal

    meta = inputs.metadata(metadata)  # refused once, before anything is read or sent
    for path in paths:
        if not path.exists():
            raise UsageProblem(f"no such file or folder: {path}")
    journal_path = journal or default_journal()
    with open_api(url, grpc) as api:
        if isinstance(api, GrpcApi):
            summary = over_grpc.run_index(
                paths, api, meta, journal_path, console, store_paths=store_path
            )
        else:
            assert isinstance(api, HttpApi)
            summary = run_index(
                paths, api, batch_size, workers, meta, journal_path, console, store_path
            )
    print_summary(summary, console, verbose)
    if summary.interrupted:
        raise typer.Exit(INTERRUPTED)
    if not summary.ok:
        raise typer.Exit(1)


def search(
    image: Annotated[Path | None, typer.Argument(help="Query image.")] = None,
    text: Annotated[str | None, typer.Option("--text", "-t", help="Search by text (CLIP).")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="A model's name or title (`pic-search models list`); default: the gateway's."
        ),
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    filter: Annotated[
        str | None, typer.Option("--filter", help='JSON filter, e.g. {"album": "2024"}.')
    ] = None,
    sort: Annotated[
        str, typer.Option(help="score, date (indexing time, newest first) or taken.")
    ] = "score",
    min_score: Annotated[float | None, typer.Option(help="Drop results below.")] = None,
    cutoff: Annotated[str | None, typer.Option(help="auto: the model's own cutoff.")] = None,
    group: Annotated[
        bool,
        typer.Option("--group", help="Near-copies of a photo count once (shown as +N copies)."),
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Only photos with this auto-tag (repeatable: any of them)."),
    ] = None,
    ids: Annotated[bool, typer.Option("--ids", help="Show full ids instead of files.")] = False,
    as_json: Json = False,
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Search by an image file or by text (`--model tags`: words through auto-tags); prints a
    ranked table of files."""
    if image is None and text is None:
        raise UsageProblem("nothing to search for", "give an IMAGE file or --text WORDS")
    if image is not None and text is not None:
        raise UsageProblem("give an IMAGE or --text, not both")
    name = inputs.model_name(model)
    if name == "tags" and text is None:
        raise UsageProblem("--model tags searches by words", "give --text WORDS")
    filters = inputs.with_tags(inputs.filter_object(filter), tag)
    options: dict[str, Any] = {"top_k": top_k, "sort": sort, "filter": filters}
    options |= {"min_score": min_score, "cutoff": cutoff, "group": group or None}
    options = {k: v for k, v in options.items() if v is not None}
    with open_api(url, grpc) as api:
        try:
            if text is not None:
                body = api.search_text(text, name, options)
            else:
                body = api.search_image(inputs.query_image(image), name, options)  # type: ignore[arg-type]
        except ApiError as exc:
            raise _not_enabled(name, exc) from exc
    if as_json:
        print_json(body)
        return
    print_results(body, ids)


def _not_enabled(name: str | None, exc: ApiError) -> Exception:
    """A registry model the gateway does not serve: say which setting enables it."""
    if exc.code != "unknown_model" or name is None:
        return exc
    return CliError(
        f"the model {name!r} is not enabled on this gateway",
        f"add it to PIC_SEARCH_MODELS__ENABLED where the gateway runs (and build it: "
        f"pic-search models build --model {name}); `pic-search models list` shows what is",
    )


def print_results(body: dict[str, Any], ids: bool = False) -> None:
    if body.get("notice"):
        say(f"note: {body['notice']}")
    elif body.get("random_weights"):
        say("note: this model has random weights: only copies and near-copies are found")
    by = body.get("sort", "score")
    say(f"{body['model']}, {len(body['results'])} results by {by} ({body['took_ms']:.0f} ms)")
    cutoff = body.get("cutoff") or {}
    if not body["results"]:
        say("no results")
    else:
        for line in tables.results_table(body["results"], ids=ids):
            say(line)
    if body.get("cut"):
        say(f"{body['cut']} results below {cutoff.get('min_score')} were cut")
    if cutoff.get("message"):
        say(str(cutoff["message"]))


def tags(
    prefix: Annotated[
        str | None, typer.Argument(help="Only tags with a word starting with this.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many tags.")] = 50,
    as_json: Json = False,
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """The auto-tags of the indexed photos, most frequent first, with their counts."""
    with open_api(url, grpc) as api:
        body = api.tags(prefix, limit, None)
    if as_json:
        print_json(body)
        return
    if not body["tags"]:
        say("no tags" + (f" starting with {prefix!r}" if prefix else ""))
        return
    for line in tables.render(
        ["tag", "photos"], [[t["name"], str(t["count"])] for t in body["tags"]], [False, True]
    ):
        say(line)
    if body.get("next_cursor"):
        say(f"(more: --limit {min(500, limit * 2)})")


def stats(as_json: Json = False, url: Url = None, grpc: Grpc = None) -> None:
    """Vectors per collection, the weights each model holds, and the total."""
    with open_api(url, grpc) as api:
        body = api.stats()
    if as_json:
        print_json(body)
        return
    for line in tables.stats_table(body):
        say(line)
    if body.get("random_weights"):
        say("note: some models hold random weights: only copies and near-copies are found")


def edit(
    image: Annotated[str, typer.Argument(help="An image id, or the photo's file.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="Set a key (a string).")
    ] = None,
    unset: Annotated[list[str] | None, typer.Option(metavar="KEY", help="Remove a key.")] = None,
    metadata: Annotated[
        str | None,
        typer.Option(help='A JSON merge patch (RFC 7396): {"album": "2024", "old": null}.'),
    ] = None,
    as_json: Json = False,
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Change an indexed image's metadata; prints the updated record."""
    patch = inputs.metadata_patch(metadata, set_ or [], unset or [])
    image_id = inputs.image_id(image)
    with open_api(url, grpc) as api:
        record = api.patch_metadata(image_id, patch)
    if as_json:
        print_json(record)
        return
    say(f"{record['id']}  {record.get('path') or record.get('filename') or ''}".rstrip())
    for key, value in sorted((record.get("metadata") or {}).items()):
        say(f"  {key} = {value!r}" if not isinstance(value, str) else f"  {key} = {value}")
    if not record.get("metadata"):
        say("  (no metadata)")


def check(
    repair: Annotated[bool, typer.Option(help="Show what will change, then fix it.")] = False,
    force: Annotated[
        bool, typer.Option(help="Repair even what looks implausible (e.g. an empty store).")
    ] = False,
    verbose: Verbose = False,
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Compare the service's image store with every collection; exit 1 when they disagree."""
    with open_api(url, grpc) as api:
        if not admin.check(api, say, repair, force, verbose):
            raise typer.Exit(1)


def reindex(url: Url = None, grpc: Grpc = None) -> None:
    """Re-embed the stored originals where weights changed or fields are new; switch aliases."""
    with open_api(url, grpc) as api:
        admin.reindex(api, say)
