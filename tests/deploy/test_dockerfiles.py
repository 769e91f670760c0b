"""The Dockerfiles build what Compose and Kubernetes run, from the project's own metadata."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from packaging.specifiers import SpecifierSet

from tests.deploy.support import (
    DOCKER_DIR,
    GATEWAY_DOCKERFILE,
    ROOT,
    Instruction,
    dockerfile,
    image_is_pinned,
    resolve_build_args,
    stages,
)

PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
TRITON = DOCKER_DIR / "triton.Dockerfile"
TRITON_PYTHON = DOCKER_DIR / "triton-python.Dockerfile"
BUILDER = DOCKER_DIR / "model-builder.Dockerfile"


def last(stage: list[Instruction], keyword: str) -> str:
    found = [i.args for i in stage if i.keyword == keyword]
    assert found, f"no {keyword}"
    return found[-1]


def exec_form(args: str) -> list[str]:
    """The JSON array of a CMD/ENTRYPOINT/HEALTHCHECK CMD in exec form."""
    start = args.index("[")
    value = json.loads(args[start:])
    assert isinstance(value, list)
    return [str(v) for v in value]


def healthcheck(args: str) -> list[str]:
    """A HEALTHCHECK's command in exec form, after its options."""
    _, cmd, command = args.partition(" CMD ")
    assert cmd, f"HEALTHCHECK without CMD: {args}"
    return exec_form(command)


def base_images(path: Any) -> list[str]:
    instructions = dockerfile(path)
    names = {i.args.split()[-1] for i in instructions if i.keyword == "FROM" and " AS " in i.args}
    images = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            image = resolve_build_args(instructions, instruction.args.split()[0])
            if image not in names:
                images.append(image)
    return images


def non_root(user: str) -> bool:
    return user.split(":")[0] not in ("", "0", "root")


def test_every_base_image_is_pinned() -> None:
    for path in (GATEWAY_DOCKERFILE, TRITON, TRITON_PYTHON, BUILDER):
        for image in base_images(path):
            assert image_is_pinned(image), (path.name, image)


def test_the_gateway_image_is_multi_stage_slim_and_non_root_with_a_healthcheck() -> None:
    instructions = dockerfile(GATEWAY_DOCKERFILE)
    _build, runtime = stages(instructions)
    runtime_base = resolve_build_args(instructions, runtime[0].args.split()[0])
    assert "-slim" in runtime_base
    assert any(i.keyword == "COPY" and i.args.startswith("--from=build ") for i in runtime)
    assert non_root(last(runtime, "USER"))
    check = " ".join(healthcheck(last(runtime, "HEALTHCHECK")))
    assert "/healthz" in check and "'8080'" in check
    assert last(runtime, "EXPOSE").split() == ["8080", "50051"]  # HTTP, gRPC
    env = " ".join(i.args for i in runtime if i.keyword == "ENV")
    assert "PIC_SEARCH_SERVER__HOST=0.0.0.0" in env
    # The compilers and pip caches of the build stage stay behind.
    assert not any(i.keyword == "RUN" and "pip install" in i.args for i in runtime)


def test_the_gateway_image_installs_from_the_same_pyproject_as_the_tests() -> None:
    instructions = dockerfile(GATEWAY_DOCKERFILE)
    build = stages(instructions)[0]
    copies = [i.args.split() for i in build if i.keyword == "COPY"]
    assert any("pyproject.toml" in c for c in copies)
    runs = " ".join(i.args for i in build if i.keyword == "RUN")
    assert "['project']['dependencies']" in runs
    assert re.search(r"pip install --no-deps \.(\s|$)", runs)
    # Python in the image satisfies the project's requires-python.
    base = resolve_build_args(instructions, build[0].args.split()[0])
    match = re.match(r"python:(\d+\.\d+(?:\.\d+)?)-", base)
    assert match, base
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(match.group(1))


def test_the_gateway_image_runs_the_gateway_command_of_the_cli() -> None:
    runtime = stages(dockerfile(GATEWAY_DOCKERFILE))[-1]
    command = exec_form(last(runtime, "ENTRYPOINT")) + exec_form(last(runtime, "CMD"))
    assert command == ["pic-search", "gateway"]
    assert "pic-search" in PYPROJECT["project"]["scripts"]


def test_the_dockerignore_sends_only_the_package_its_metadata_and_the_build_inputs() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "**"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    # bench/results/cutoff.json: the cutoff rules the model builder writes into configs.
    assert allowed == {"pyproject.toml", "README.md", "gateway", "bench/results/cutoff.json"}
    readme = PYPROJECT["project"]["readme"]
    assert readme in allowed


def _triton_checks(path: Any, release: str) -> list[str]:
    (stage,) = stages(dockerfile(path))
    assert stage[0].args == f"nvcr.io/nvidia/tritonserver:{release}-py3"
    assert last(stage, "USER") == "1000:1000"  # Triton's own non-root user
    assert "http://127.0.0.1:8000/v2/health/ready" in healthcheck(last(stage, "HEALTHCHECK"))
    assert last(stage, "EXPOSE").split() == ["8000", "8001", "8002"]
    command = exec_form(last(stage, "CMD"))
    assert command[0] == "tritonserver"
    assert "--model-repository=/models" in command
    return command


# The stock current release: its ONNX Runtime backend serves configs/onnx.pbtxt unchanged.
CURRENT_TRITON = "26.07"


def test_the_gpu_triton_image_is_the_stock_current_release_serving_the_onnx_configs() -> None:
    command = _triton_checks(TRITON, CURRENT_TRITON)
    assert "--model-config-name=onnx" in command
    (stage,) = stages(dockerfile(TRITON))
    assert not [i for i in stage if i.keyword in ("RUN", "COPY", "ADD")], "no custom build"


def test_the_cpu_triton_image_installs_the_cpu_runtimes_with_numpy_1_and_no_tensorflow() -> None:
    command = _triton_checks(TRITON_PYTHON, CURRENT_TRITON)
    assert "--model-config-name=cpu" in command
    (stage,) = stages(dockerfile(TRITON_PYTHON))
    runs = " ".join(i.args for i in stage if i.keyword == "RUN")
    assert '"numpy>=1.26,<2"' in runs
    assert "onnxruntime" in runs and "openvino" in runs
    assert "tensorflow" not in runs


def test_the_model_builder_exports_pretrained_weights_with_the_serving_extra() -> None:
    instructions = dockerfile(BUILDER)
    by_name = {s[0].args.split()[-1]: s for s in stages(instructions)}
    assert set(by_name) == {"builder", "export", "bundle"}
    builder = by_name["builder"]
    runs = " ".join(i.args for i in builder if i.keyword == "RUN")
    assert "['optional-dependencies']['serving']" in runs
    assert "serving" in PYPROJECT["project"]["optional-dependencies"]
    command = " ".join(exec_form(last(builder, "CMD")))
    assert command == "pic-search models build --weights pretrained --output /models"
    assert non_root(last(builder, "USER"))
    # The bundle (an init container in Kubernetes) copies the repository into Triton's volume.
    bundle = by_name["bundle"]
    assert any(i.keyword == "COPY" and i.args.startswith("--from=export") for i in bundle)
    assert last(bundle, "USER") == "1000:1000"
    assert exec_form(last(bundle, "CMD"))[:2] == ["cp", "-R"]
