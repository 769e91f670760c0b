"""Repositories derived from a built one: the same model files (linked, never copied) with
edited CPU configs, for benchmarks and tests that compare runners or batching settings."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from gateway.export import triton_config
from gateway.models.spec import PRECISION_PARAMETER, RUNTIME_PARAMETER, CpuRunner


def derived_repository(
    source: Path,
    dest: Path,
    models: Iterable[str] | Mapping[str, str],
    edit: Callable[[str, mc.ModelConfig], None],
) -> Path:
    """`dest` serving `models` of `source` with `edit(name, config)` applied to each
    `configs/cpu.pbtxt`; `dest` is replaced. A mapping serves the model of each value under
    its key, so one server can hold several variants of one model."""
    shutil.rmtree(dest, ignore_errors=True)
    names = models if isinstance(models, Mapping) else {name: name for name in models}
    for served, name in names.items():
        model = dest / served
        (model / "configs").mkdir(parents=True)
        (model / "1").symlink_to((source / name / "1").resolve())
        config = triton_config.parse((source / name / "configs" / "cpu.pbtxt").read_text())
        config.name = served
        edit(name, config)
        (model / "configs" / "cpu.pbtxt").write_text(triton_config.render(config))
    return dest


def set_cpu_runner(config: mc.ModelConfig, runner: CpuRunner) -> None:
    """Ask for `runner` as written (no CPU check: the runner falls back by itself)."""
    config.parameters[RUNTIME_PARAMETER].string_value = runner.runtime
    config.parameters[PRECISION_PARAMETER].string_value = runner.precision
