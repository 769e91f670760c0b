"""`pic-search check [--repair [--force]]` and `pic-search reindex`: admin calls the service
runs against its own store and collections (HTTP or gRPC), so they work the same against
Compose or Kubernetes and never open a store or Milvus guessed from the current folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.cli.api import Api
from gateway.cli.errors import ApiError, CliError

Say = Callable[[str], None]


def report_lines(report: dict[str, Any], verbose: bool) -> list[str]:
    """Counts per collection; every id with `verbose`."""
    lines = [f"store: {report['stored_images']} images"]
    for c in report["collections"]:
        lines.append(
            f"{c['name']}: {c['vectors']} vectors, {len(c['missing'])} missing, "
            f"{len(c['orphans'])} without a stored image"
        )
    if report["unreadable"]:
        lines.append(f"unreadable stored images: {len(report['unreadable'])}")
    if verbose:
        for c in report["collections"]:
            lines += [f"missing vector in {c['name']}: {i}" for i in c["missing"]]
            lines += [f"vector without stored image in {c['name']}: {i}" for i in c["orphans"]]
        lines += [f"unreadable stored image: {i}" for i in report["unreadable"]]
    return lines


def repair_plan(report: dict[str, Any]) -> list[str]:
    """What a repair of `report` will change, collection by collection."""
    plan = []
    for c in report["collections"]:
        if c["orphans"]:
            plan.append(f"delete {len(c['orphans'])} vectors from {c['name']}")
        if c["missing"]:
            plan.append(f"re-embed {len(c['missing'])} images into {c['name']}")
    return plan


def check(api: Api, say: Say, repair: bool, force: bool, verbose: bool) -> bool:
    """Prints the report (and repairs, when asked); True when consistent at the end."""
    report = api.check(repair=False, force=False)
    for line in report_lines(report, verbose):
        say(line)
    if report["consistent"]:
        say("consistent")
        return True
    if not repair:
        say("inconsistent: `pic-search check --repair` shows and makes the changes")
        return False
    say("the repair will " + "; ".join(repair_plan(report) or ["change nothing"]))
    try:
        after = api.check(repair=True, force=force)
    except ApiError as exc:
        if exc.code == "repair_refused":
            raise CliError(
                f"repair refused, nothing changed: {exc.message}",
                "if this is what you want, run again with --repair --force",
            ) from exc
        raise
    if verbose:
        for line in report_lines(after, verbose):
            say(line)
    say("repaired; now: " + ("consistent" if after["consistent"] else "still inconsistent"))
    return bool(after["consistent"])


def reindex(api: Api, say: Say) -> None:
    say("re-embedding where a collection is out of date (this can take minutes) ...")
    for c in api.reindex()["collections"]:
        if c["action"] == "rebuilt":
            say(f"{c['name']}: now {c['target']} ({c['images']} images)")
        else:
            say(f"{c['name']}: already built with the served weights ({c['images']} images)")
