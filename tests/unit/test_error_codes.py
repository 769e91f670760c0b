"""Every error code the gateway can answer is in gateway/error_codes.py (the source of the
docs' table), with the statuses the transports really give it.

The gateway's source is read, not run: a `code=` keyword (a literal, a module constant or
an f-string family such as `invalid_{what}`), an error class raised without one (its
default code), and the codes the HTTP and gRPC boundaries write themselves.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gateway
import gateway.errors as domain
from gateway.api.errors import _HTTP_CODES, HTTP_STATUS
from gateway.error_codes import ErrorCode
from gateway.grpc.errors import GRPC_STATUS

ROOT = Path(gateway.__file__).parent
ERROR_CLASSES = {
    name: cls
    for name, cls in vars(domain).items()
    if isinstance(cls, type) and issubclass(cls, domain.PicSearchError)
}
REGISTERED = {code.value: code for code in ErrorCode}

Function = tuple[str, tuple[str, ...]]  # a function's name and parameter names


@dataclass(frozen=True)
class Raised:
    code: str  # a code, or a regular expression for an f-string family
    where: str
    error_class: str | None = None  # the domain error carrying it
    http_status: int | None = None  # a status written next to it
    family: bool = False
    template: str = ""  # a family's f-string as a format string
    placeholders: tuple[str, ...] = ()
    function: Function | None = None  # a family's function and parameters


def gateway_modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "_generated" not in p.parts)


@functools.cache
def parsed() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text()) for path in gateway_modules()}


@functools.cache
def raised_codes() -> list[Raised]:
    found = [code for path, tree in parsed().items() for code in _codes_in(path, tree)]
    return [member for code in found for member in _members(code)]


def _members(found: Raised) -> list[Raised]:
    """An f-string family's codes, from the constants its function is called with, through
    any callers passing them on (`parse_json(raw, "filter", ...)` makes `invalid_{what}`
    `invalid_filter`)."""
    if not found.family or found.function is None:
        return [found]
    name, params = found.function
    choices = [sorted(_argument_values(name, params.index(p), p)) for p in found.placeholders]
    return [
        dataclasses.replace(
            found,
            code=found.template.format(**dict(zip(found.placeholders, values, strict=True))),
            family=False,
        )
        for values in itertools.product(*choices)
    ] or [found]


def _argument_values(
    function: str, position: int, param: str, seen: frozenset[str] = frozenset()
) -> set[str]:
    values: set[str] = set()
    for call, caller in call_sites():
        if _called(call) != function or function in seen:
            continue
        given = dict(enumerate(call.args)) | {k.arg: k.value for k in call.keywords if k.arg}
        node = given.get(position, given.get(param))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            values.add(node.value)
        elif isinstance(node, ast.Name) and caller is not None and node.id in caller[1]:
            outer, outer_params = caller
            values |= _argument_values(
                outer, outer_params.index(node.id), node.id, seen | {function}
            )
    return values


def call_sites() -> Iterator[tuple[ast.Call, Function | None]]:
    for calls, _ in indexed().values():
        yield from calls


@functools.cache
def indexed() -> dict[Path, tuple[list[tuple[ast.Call, Function | None]], dict[str, str]]]:
    """Per module, in one pass: each call with its innermost function, and the functions
    returning `("a_code", message)`, as error helpers do."""
    index = {}
    for path, tree in parsed().items():
        calls: list[tuple[ast.Call, Function | None]] = []
        returned: dict[str, str] = {}
        _visit(tree, None, calls, returned)
        index[path] = (calls, returned)
    return index


def _visit(
    node: ast.AST,
    function: Function | None,
    calls: list[tuple[ast.Call, Function | None]],
    returned: dict[str, str],
) -> None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        function = (node.name, tuple(a.arg for a in node.args.args))
    if isinstance(node, ast.Call):
        calls.append((node, function))
    elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
        first = node.value.elts[0]
        if function is not None and isinstance(first, ast.Constant):
            returned[function[0]] = str(first.value)
    for child in ast.iter_child_nodes(node):
        _visit(child, function, calls, returned)


def _codes_in(path: Path, tree: ast.Module) -> Iterator[Raised]:
    calls, returned = indexed()[path]
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    for node, function in calls:
        where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
        name = _called(node)
        keywords = {k.arg: k.value for k in node.keywords}
        if "code" in keywords and name in ERROR_CLASSES:
            for found in _literal(keywords["code"], constants, where, error_class=name):
                yield dataclasses.replace(found, function=function)
        elif name in ERROR_CLASSES:
            yield Raised(ERROR_CLASSES[name].code, where, error_class=name)
        elif name == "error_response":
            yield from _error_response(node, constants, returned, where)
        elif (name == "status" and len(node.args) >= 2) or (  # gRPC's rich status
            name == "get" and ast.unparse(node.func) == "_HTTP_CODES.get"
        ):
            yield from _literal(node.args[1], constants, where)


def _error_response(
    node: ast.Call, constants: dict[str, str], returned: dict[str, str], where: str
) -> Iterator[Raised]:
    first = node.args[0]
    status = (
        first.value if isinstance(first, ast.Constant) and isinstance(first.value, int) else None
    )
    if len(node.args) >= 2 and not isinstance(node.args[1], ast.Starred):
        code = node.args[1]
        for found in _literal(code, constants, where):
            yield Raised(found.code, where, http_status=status, family=found.family)
    for arg in node.args:  # error_response(413, *_too_large(...))
        if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Call):
            helper = _called(arg.value)
            assert helper in returned, f"{where}: cannot read the code {helper}() returns"
            yield Raised(returned[helper], where, http_status=status)


def _literal(
    node: ast.expr, constants: dict[str, str], where: str, error_class: str | None = None
) -> Iterator[Raised]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield Raised(node.value, where, error_class)
    elif isinstance(node, ast.Name) and node.id in constants:
        yield Raised(constants[node.id], where, error_class)
    elif isinstance(node, ast.JoinedStr):
        parts = [
            (str(part.value), None)
            if isinstance(part, ast.Constant)
            else ("", ast.unparse(part.value))  # type: ignore[attr-defined]
            for part in node.values
        ]
        pattern = "".join(re.escape(text) if name is None else "[a-z_]+" for text, name in parts)
        template = "".join(text if name is None else f"{{{name}}}" for text, name in parts)
        names = tuple(name for _, name in parts if name is not None)
        yield Raised(
            pattern, where, error_class, family=True, template=template, placeholders=names
        )
    # Anything else passes a code through (`exc.code`), chosen where it was raised.


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def registered_matches(found: Raised) -> list[ErrorCode]:
    if found.family:
        return [code for code in ErrorCode if re.fullmatch(found.code, code.value)]
    return [REGISTERED[found.code]] if found.code in REGISTERED else []


def test_the_scan_finds_the_codes_of_every_kind_of_source() -> None:
    found = {f.code for f in raised_codes()}
    assert "invalid_top_k" in found  # a keyword
    assert "triton_unavailable" in found  # an error class's default
    assert "bad_request" in found  # a module constant
    assert {"validation_error", "deadline_exceeded", "http_error"} <= found  # the boundaries'
    assert "request_too_large" in found  # a helper's (code, message) tuple
    assert {"metadata_too_large", "filter_too_large"} <= found  # an f-string family


def test_every_code_the_gateway_raises_is_registered() -> None:
    missing = [f"{f.where}: {f.code}" for f in raised_codes() if not registered_matches(f)]
    assert missing == []


def test_every_registered_code_is_raised_somewhere() -> None:
    raised = {code for f in raised_codes() for code in registered_matches(f)}
    raised |= {REGISTERED[code] for code in _HTTP_CODES.values()}
    assert sorted(set(ErrorCode) - raised) == []


def test_registered_http_statuses_are_the_ones_the_boundary_answers() -> None:
    wrong = []
    for found in raised_codes():
        for code in registered_matches(found):
            status: int | None = found.http_status
            if found.error_class is not None:
                status = HTTP_STATUS[ERROR_CLASSES[found.error_class].kind]
            if status is not None and status != code.http_status:
                wrong.append(f"{found.where}: {code.value} answers {status}")
    for http_status, name in _HTTP_CODES.items():
        if REGISTERED[name].http_status != http_status:
            wrong.append(f"_HTTP_CODES: {name} answers {http_status}")
    assert wrong == []


def test_registered_grpc_statuses_are_the_ones_the_boundary_answers() -> None:
    wrong = [
        f"{found.where}: {code.value} answers {status}"
        for found in raised_codes()
        if found.error_class is not None
        for code in registered_matches(found)
        if code.grpc_status
        and code.grpc_status != (status := GRPC_STATUS[ERROR_CLASSES[found.error_class].kind].name)
    ]
    assert wrong == []


def test_codes_are_snake_case_and_described() -> None:
    for code in ErrorCode:
        assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", code.value), code
        assert code.meaning and not code.meaning.endswith("."), code
