"""Options and output shared by the commands that talk to a gateway."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(highlight=False)

Url = Annotated[
    str | None,
    typer.Option(help="Gateway URL (default: $PIC_SEARCH_URL or http://127.0.0.1:8080)."),
]
Grpc = Annotated[
    str | None,
    typer.Option("--grpc", metavar="HOST:PORT", help="Talk gRPC (picsearch.v1) instead of HTTP."),
]
Json = Annotated[bool, typer.Option("--json", help="Print the raw response (for scripts).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="List every item.")]


def say(text: str) -> None:
    """One line as is: no markup, no highlighting, never wrapped (for grep and logs)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))


def images(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"
