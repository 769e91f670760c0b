"""Transports (HTTP routes, the gRPC servicer) reach Triton, Milvus and the image store only
through the service layer, so both call the same service functions."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway

ROOT = Path(gateway.__file__).parent
TRANSPORTS = ("api", "grpc")
CLIENT_PACKAGES = ("gateway.clients", "gateway.store")
CLIENT_ATTRIBUTES = {"triton", "vectors", "store", "leftovers"}


def transport_modules() -> list[Path]:
    return sorted(p for name in TRANSPORTS for p in (ROOT / name).rglob("*.py"))


def imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_both_transports_are_checked() -> None:
    checked = {p.relative_to(ROOT).parts[0] for p in transport_modules()}
    assert checked == set(TRANSPORTS)


def test_no_transport_module_imports_a_client() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in transport_modules()
        for name in imported(ast.parse(path.read_text()))
        if name.startswith(CLIENT_PACKAGES)
    ]
    assert offenders == []


def test_no_transport_module_uses_a_client_held_by_the_backends() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}"
        for path in transport_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr in CLIENT_ATTRIBUTES
        and _names_backends(node.value)
    ]
    assert offenders == []


def _names_backends(node: ast.expr) -> bool:
    """`backends.x` or `self.backends.x`."""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name == "backends"
