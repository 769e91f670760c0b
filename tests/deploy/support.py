"""Reading what deploy/, the Dockerfiles and the Compose files say, for the deploy tests.

Nothing here runs a container or talks to a cluster: Kustomize renders the overlays
(`kubectl kustomize`), the rest is parsed the way Docker and Compose parse it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from gateway.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUSTOMIZATIONS = ("overlays/dev", "overlays/prod", "monitoring")
OVERLAYS = ("overlays/dev", "overlays/prod")
COMPOSE_FILE = ROOT / "docker-compose.yml"
CPU_OVERRIDE = ROOT / "docker-compose.cpu.yml"
COMPOSE_ENV_EXAMPLE = DEPLOY / "compose.env.example"
# The Compose Specification's JSON schema (Apache-2.0, licence beside it), vendored from
# PyPI's check-jsonschema 0.39.0 wheel: check_jsonschema/builtin_schemas/vendor/compose-spec.json
# (sha256 d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64).
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")
GATEWAY_DOCKERFILE = ROOT / "Dockerfile"
DOCKER_DIR = DEPLOY / "docker"

Doc = dict[str, Any]


# --- Kubernetes -------------------------------------------------------------------------


@functools.cache
def render(kustomization: str) -> tuple[Doc, ...]:
    """The manifests `kubectl kustomize deploy/<kustomization>` prints (cached: don't mutate)."""
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl (with its built-in kustomize) is needed to render deploy/"
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[Doc, ...], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: tuple[Doc, ...], kind: str, name: str) -> Doc:
    found = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def all_containers(workload: Doc) -> list[Doc]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def container(workload: Doc, name: str) -> Doc:
    found = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    assert len(found) == 1, f"no container {name} in {workload['metadata']['name']}"
    return found[0]


def container_port(workload: Doc, port: int | str) -> int:
    """Resolve a probe's or Service's port (a number or a port name) in a workload."""
    for c in pod_spec(workload)["containers"]:
        for p in c.get("ports", []):
            if port in (p["containerPort"], p.get("name")):
                return int(p["containerPort"])
    raise AssertionError(f"port {port!r} is not declared by {workload['metadata']['name']}")


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def config_map_env(docs: tuple[Doc, ...], workload: Doc, container_name: str) -> dict[str, str]:
    """Every environment variable a container gets, ConfigMap entries included.

    Variables from a Secret come back as "<from secret NAME/KEY>".
    """
    c = container(workload, container_name)
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        cm = named(docs, "ConfigMap", source["configMapRef"]["name"])
        env.update(cm.get("data", {}))
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = f"<from secret {ref['name']}/{ref['key']}>"
    return env


def image_is_pinned(image: str) -> bool:
    """A digest, or a tag other than `latest`."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


# --- Compose ----------------------------------------------------------------------------


class Reset:
    """Compose's `!reset` tag: drop the value the base file set."""


@dataclass(frozen=True)
class Override:
    """Compose's `!override` tag: replace the base file's value instead of merging."""

    value: Any


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus the two tags Compose adds for override files."""


def _construct_reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))  # type: ignore[arg-type]


ComposeLoader.add_constructor("!reset", _construct_reset)
ComposeLoader.add_constructor("!override", _construct_override)


def load_compose(path: Path) -> Doc:
    doc = yaml.load(path.read_text(), Loader=ComposeLoader)  # a SafeLoader subclass
    assert isinstance(doc, dict)
    return doc


def without_tags(value: Any) -> Any:
    """The document as it reads without the override tags (a `!reset` value becomes {})."""
    if isinstance(value, Reset):
        return {}
    if isinstance(value, Override):
        return without_tags(value.value)
    if isinstance(value, dict):
        return {k: without_tags(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_tags(v) for v in value]
    return value


# Compose replaces these sequences instead of appending to them.
_REPLACED_SEQUENCES = {"command", "entrypoint", "test"}


def merge_compose(base: Any, override: Any, key: str = "") -> Any:
    """Compose's merge of an override file onto a base file (the rules these files use)."""
    if isinstance(override, Override):
        return without_tags(override.value)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for k, v in override.items():
            if isinstance(v, Reset):
                merged.pop(k, None)
            elif k in merged:
                merged[k] = merge_compose(merged[k], v, k)
            else:
                merged[k] = without_tags(v)
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED_SEQUENCES:
        return base + [v for v in without_tags(override) if v not in base]
    return without_tags(override)


class MissingVariableError(Exception):
    pass


_VARIABLE = re.compile(
    r"\$\$"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable interpolation (`${VAR}`, `:-`, `-`, `:?`, `?`, `:+`, `$$`)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = not current
        if op in (":-", "-"):
            missing = unset_or_empty if op == ":-" else current is None
            return arg if missing else str(current)
        if op in (":?", "?"):
            missing = unset_or_empty if op == ":?" else current is None
            if missing:
                raise MissingVariableError(f"{name}: {arg}")
            return str(current)
        if op in (":+", "+"):
            present = not unset_or_empty if op == ":+" else current is not None
            return arg if present else ""
        return current or ""

    return _VARIABLE.sub(substitute, value)


def variables(value: Any) -> Iterator[tuple[str, str | None]]:
    """Every (variable, operator) a document interpolates."""
    if isinstance(value, dict):
        for v in value.values():
            yield from variables(v)
    elif isinstance(value, list):
        for v in value:
            yield from variables(v)
    elif isinstance(value, Override):
        yield from variables(value.value)
    elif isinstance(value, str):
        for match in _VARIABLE.finditer(value):
            name = match.group("braced") or match.group("bare")
            if name:
                yield name, match.group("op")


def read_env_file(path: Path) -> dict[str, str]:
    """A Compose `.env` file: KEY=VALUE lines, optional quotes, # comments."""
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


@functools.cache
def compose_example() -> Doc:
    """docker-compose.yml interpolated with deploy/compose.env.example (cached: don't mutate)."""
    doc: Doc = interpolate(load_compose(COMPOSE_FILE), read_env_file(COMPOSE_ENV_EXAMPLE))
    return doc


@functools.cache
def compose_cpu_example() -> Doc:
    """docker-compose.yml with the CPU override merged, then interpolated."""
    merged = merge_compose(load_compose(COMPOSE_FILE), load_compose(CPU_OVERRIDE))
    doc: Doc = interpolate(merged, read_env_file(COMPOSE_ENV_EXAMPLE))
    return doc


def service_env(service: Doc) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


# --- Dockerfiles ------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile(path: Path) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped, as Docker reads them."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip()))
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage, each starting with its FROM."""
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def resolve_build_args(instructions: list[Instruction], text: str) -> str:
    """Replace ${ARG} with the default of the global ARG of that name."""
    defaults: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ARG" and "=" in instruction.args:
            key, _, value = instruction.args.partition("=")
            defaults.setdefault(key, value.strip('"'))
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)


# --- Settings ---------------------------------------------------------------------------

ENV_PREFIX = "PIC_SEARCH_"


def setting_path(variable: str) -> tuple[str, ...]:
    """The Settings field a PIC_SEARCH_* variable sets; AssertionError if there is none."""
    assert variable.startswith(ENV_PREFIX), variable
    parts = tuple(variable[len(ENV_PREFIX) :].lower().split("__"))
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        assert part in model.model_fields, f"{variable}: {model.__name__} has no field {part!r}"
        annotation = model.model_fields[part].annotation
        if depth < len(parts) - 1:
            assert isinstance(annotation, type) and issubclass(annotation, BaseModel), (
                f"{variable}: {part!r} is not a group of settings"
            )
            model = annotation
    return parts


def all_setting_paths() -> set[tuple[str, ...]]:
    """Every leaf field of Settings, as (group, field) tuples."""
    paths: set[tuple[str, ...]] = set()

    def walk(model: type[BaseModel], prefix: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, (*prefix, name))
            else:
                paths.add((*prefix, name))

    walk(Settings, ())
    return paths


def settings_from(env: Mapping[str, str]) -> Settings:
    """Settings built from exactly these variables (the process' PIC_SEARCH_* ones hidden)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update(env)
        return Settings()
    finally:
        for key in env:
            os.environ.pop(key, None)
        os.environ.update(saved)


def gateway_sources() -> str:
    """The text of every Python file of the gateway package."""
    return "\n".join(p.read_text() for p in sorted((ROOT / "gateway").rglob("*.py")))
