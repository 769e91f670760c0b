"""The documentation's generated tables: the error codes (docs/api.md) and the settings
(docs/configuration.md), written from the code between marker comments.

    python -m gateway.docs_tables --write   # regenerate the tables in docs/
    python -m gateway.docs_tables --check   # exit 1 when the docs drifted from the code

A setting's meaning is its `Field(description=...)`, else the comment on or above it in
gateway/config.py, else `FALLBACK_MEANINGS` here; tests/unit/test_docs.py fails when one has
none, so a new setting cannot reach the docs undescribed. Imports no client library.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import sys
import textwrap
import tokenize
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from gateway.config import Settings
from gateway.error_codes import ErrorCode
from gateway.serving.stack_settings import StackSettings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ENV_PREFIX = "PIC_SEARCH_"
MIB = 1024 * 1024

# Settings whose code carries neither a description nor a comment, said here for readers.
FALLBACK_MEANINGS: dict[str, str] = {
    "PIC_SEARCH_SERVER__HOST": "where the gateway's HTTP server listens",
    "PIC_SEARCH_SERVER__PORT": "the HTTP port",
    "PIC_SEARCH_SERVER__CORS_ORIGINS": "JSON list of origins a browser may call from",
    "PIC_SEARCH_SERVER__LOG_LEVEL": "the access log is at `info`",
    "PIC_SEARCH_GRPC__ENABLED": "serve the gRPC API beside HTTP",
    "PIC_SEARCH_GRPC__PORT": "the gRPC port",
    "PIC_SEARCH_TRITON__TIMEOUT_S": "deadline of one inference, retries included",
    "PIC_SEARCH_TRITON__RETRY_AFTER_S": "the `Retry-After` of a 503 while Triton is down",
    "PIC_SEARCH_MILVUS__TOKEN": "Milvus credentials (`user:password` or a token)",
    "PIC_SEARCH_MILVUS__COLLECTION_PREFIX": "collections are `<prefix><model>`, e.g. `images_clip`",
    "PIC_SEARCH_MILVUS__HNSW_M": "HNSW graph degree of new collections",
    "PIC_SEARCH_MILVUS__HNSW_EF_CONSTRUCTION": "HNSW build effort of new collections",
    "PIC_SEARCH_MILVUS__SEARCH_EF": "HNSW search effort (recall against latency)",
    "PIC_SEARCH_MILVUS__TIMEOUT_S": "deadline of one Milvus call, retries included",
    "PIC_SEARCH_MILVUS__RETRY_AFTER_S": "the `Retry-After` of a 503 while Milvus is down",
    "PIC_SEARCH_STORE__KIND": "`local`: a folder (one node); `s3`: a bucket replicas share",
    "PIC_SEARCH_STORE__PATH": "the local store's folder",
    "PIC_SEARCH_STORE__S3_ENDPOINT_URL": "S3-compatible endpoint (MinIO); empty: AWS",
    "PIC_SEARCH_STORE__S3_BUCKET": "the bucket",
    "PIC_SEARCH_STORE__S3_REGION": "the bucket's region",
    "PIC_SEARCH_STORE__S3_ACCESS_KEY": "S3 credentials",
    "PIC_SEARCH_STORE__S3_SECRET_KEY": "S3 credentials",
    "PIC_SEARCH_LIMITS__MAX_FILES_PER_REQUEST": "files in one `POST /v1/images` (and gRPC batch)",
    "PIC_SEARCH_LIMITS__MAX_SIDE": "longest image side accepted, in pixels",
    "PIC_SEARCH_LIMITS__MIN_SIDE": "shortest image side accepted (1 <= min side < max side)",
    "PIC_SEARCH_LIMITS__MAX_ASPECT_RATIO": "longer side over shorter side",
    "PIC_SEARCH_LIMITS__MAX_TEXT_CHARS": "longer text queries get 422 `query_too_long`",
    "PIC_SEARCH_LIMITS__MAX_TOP_K": "the most results (and list page size) a request may ask for",
    "PIC_SEARCH_LIMITS__DEFAULT_TOP_K": "results without `top_k` (1 <= default <= max)",
    "PIC_SEARCH_LIMITS__MAX_METADATA_BYTES": "size of a `metadata` or `filter` JSON object",
    "PIC_SEARCH_LIMITS__REQUEST_TIMEOUT_S": "how long a request may take",
    "PIC_SEARCH_AUTH__API_KEYS_FILE": "a file with one key per line (`#` comments)",
    "PIC_SEARCH_AUTH__REQUIRE_FOR_READS": "also ask for a key on reads (search, listing, images)",
    "PIC_SEARCH_STACK__DATA_DIR": "the local stack's data: Milvus, the image store, logs",
    "PIC_SEARCH_STACK__MODEL_REPOSITORY": "the Triton model repository `pic-search serve` loads",
    "PIC_SEARCH_STACK__TRITON_HTTP_PORT": "Triton's HTTP port on the local stack",
    "PIC_SEARCH_STACK__TRITON_GRPC_PORT": "Triton's gRPC port on the local stack",
    "PIC_SEARCH_STACK__TRITON_METRICS_PORT": "Triton's metrics port on the local stack",
    "PIC_SEARCH_STACK__MILVUS_PORT": "Milvus' port on the local stack",
    "PIC_SEARCH_STACK__MILVUS": "`server`: a Milvus standalone server; `lite`: a Milvus Lite file",
    "PIC_SEARCH_STACK__INDEX_SAMPLES": "index the bundled sample photos at start"
    " (`pic-search serve --samples/--no-samples` overrides it)",
}


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    meaning: str


def error_code_table() -> str:
    rows = [
        "| code | HTTP | gRPC | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for code in ErrorCode:
        http = str(code.http_status) if code.http_status else "—"
        grpc = f"`{code.grpc_status}`" if code.grpc_status else "—"
        rows.append(f"| `{code.value}` | {http} | {grpc} | {_cell(code.meaning)} |")
    return "\n".join(rows)


def settings_table() -> str:
    parts = []
    for group, model in setting_groups():
        intro = inspect.getdoc(model) if model.__doc__ else None
        parts.append(f"### `{group}`\n")
        if intro:
            parts.append(intro.replace("\n", " ") + "\n")
        parts.append("| variable | default | meaning |\n| --- | --- | --- |")
        parts += [
            f"| `{s.env}` | {s.default} | {_cell(s.meaning)} |" for s in group_settings(group)
        ]
        parts.append("")
    return "\n".join(parts).rstrip()


def setting_groups() -> list[tuple[str, type[BaseModel]]]:
    """The gateway's groups, then the local stack's own (PIC_SEARCH_STACK__*)."""
    groups: list[tuple[str, type[BaseModel]]] = []
    for name, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            groups.append((name, model))
    return [*groups, ("stack", StackSettings)]


def group_settings(group: str) -> list[Setting]:
    model = dict(setting_groups())[group]
    comments = _field_comments(model)
    settings = []
    for name, field in model.model_fields.items():
        env = f"{ENV_PREFIX}{group.upper()}__{name.upper()}"
        meaning = field.description or comments.get(name) or FALLBACK_MEANINGS.get(env, "")
        settings.append(Setting(env, _default(field), _with_bounds(meaning, field)))
    return settings


def all_settings() -> list[Setting]:
    return [s for group, _ in setting_groups() for s in group_settings(group)]


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(map(str, value))}`" if value else "`[]`"
    if isinstance(value, int) and value >= MIB and value % MIB == 0:
        return f"`{value}` ({value // MIB} MiB)"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def _with_bounds(meaning: str, field: FieldInfo) -> str:
    """The choices of a Literal and the bounds of a constrained number, from the model."""
    extra = []
    if typing.get_origin(field.annotation) is typing.Literal:
        extra.append("one of " + ", ".join(f"`{c}`" for c in typing.get_args(field.annotation)))
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            extra.append(f">= {rule.ge}")
        elif isinstance(rule, annotated_types.Gt):
            extra.append(f"> {rule.gt}")
        elif isinstance(rule, annotated_types.Le):
            extra.append(f"<= {rule.le}")
    if not extra:
        return meaning
    return f"{meaning} ({'; '.join(extra)})" if meaning else "; ".join(extra)


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Each field's comment in the source: on its line, else the block right above it."""
    source = textwrap.dedent(inspect.getsource(model))
    inline: dict[int, str] = {}
    standalone: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            line = token.start[0]
            code_before = token.line[: token.start[1]].strip()
            (inline if code_before else standalone)[line] = text
    found = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = inline.get(node.lineno) or " ".join(
                _block_above(standalone, node.lineno)
            )
    return {name: text for name, text in found.items() if text}


def _block_above(comments: dict[int, str], line: int) -> Iterator[str]:
    start = line
    while start - 1 in comments:
        start -= 1
    for number in range(start, line):
        yield comments[number]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# Each generated block: its name in the markers, its file, and what writes it.
BLOCKS: dict[str, tuple[Path, Callable[[], str]]] = {
    "error-codes": (DOCS / "api.md", error_code_table),
    "settings": (DOCS / "configuration.md", settings_table),
}


def start_marker(name: str) -> str:
    return f"<!-- generated: {name} (python -m gateway.docs_tables --write) -->"


def end_marker(name: str) -> str:
    return f"<!-- end: {name} -->"


def replace_block(text: str, name: str, body: str) -> str:
    start, end = start_marker(name), end_marker(name)
    head, found, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise ValueError(f"the markers of the generated block {name!r} are missing")
    return f"{head}{start}\n{body}\n{end}{tail}"


def regenerated(name: str) -> tuple[Path, str, str]:
    """The block's file, its text now, and its text with the block regenerated."""
    path, build = BLOCKS[name]
    text = path.read_text()
    return path, text, replace_block(text, name, build())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the blocks in docs/")
    action.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = parser.parse_args(argv)
    stale = []
    for name in BLOCKS:
        path, before, after = regenerated(name)
        if args.write and after != before:
            path.write_text(after)
            print(f"rewrote {name} in {path.relative_to(ROOT)}")
        elif args.check and after != before:
            stale.append(f"{name} in {path.relative_to(ROOT)}")
        elif not (args.write or args.check):
            print(BLOCKS[name][1]() + "\n")
    if stale:
        print("stale, run `python -m gateway.docs_tables --write`: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
