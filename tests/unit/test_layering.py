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


# The quality lab (gateway/quality/) measures models off the request path: it reaches a model
# only through the `Embedder` protocol, never a concrete client nor the services' internals.
QUALITY_MAY_IMPORT = (
    "gateway.quality",
    "gateway.models",
    "gateway.preprocess",
    "gateway.clients.base",
    "gateway.config",
    "gateway.errors",
)


def test_the_quality_lab_imports_only_models_preprocess_and_the_embedder_protocol() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "quality").rglob("*.py"))
        for name in imported(ast.parse(path.read_text()))
        if name.startswith("gateway") and not name.startswith(QUALITY_MAY_IMPORT)
    ]
    assert offenders == []


def test_no_service_imports_the_quality_lab() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "services").rglob("*.py"))
        for name in imported(ast.parse(path.read_text()))
        if name.startswith("gateway.quality")
    ]
    assert offenders == []


CONCRETE_CLIENTS = (
    "gateway.clients.milvus",
    "gateway.clients.triton",
    "gateway.store.local",
    "gateway.store.s3",
    "gateway.store.factory",
)


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imports_starting(paths: list[Path], prefixes: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: {name}"
        for path in paths
        for name in imported(ast.parse(path.read_text()))
        if name.startswith(prefixes)
    ]


def test_services_see_clients_only_through_their_interfaces() -> None:
    """Only the composition root (gateway/server.py) wires the concrete clients, so every
    service runs on fakes."""
    assert imports_starting(modules_of("services"), CONCRETE_CLIENTS) == []


def test_the_http_api_does_not_import_the_grpc_transport() -> None:
    """Each transport runs without the other; the composition root starts both."""
    assert imports_starting(modules_of("api"), ("gateway.grpc",)) == []
    assert imports_starting(modules_of("grpc"), ("gateway.api",)) == []
