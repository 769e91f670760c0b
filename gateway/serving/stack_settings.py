"""The local one-command stack's own settings (`pic-search serve`, the benchmarks' stack):
ports and paths of the servers it starts. Not the gateway's: a gateway in a container never
reads them. From the environment, `PIC_SEARCH_STACK__<NAME>`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIC_SEARCH_STACK__", extra="ignore")

    data_dir: Path = Path("data")
    model_repository: Path = Path("model_repository")
    triton_http_port: int = 8000
    triton_grpc_port: int = 8001
    triton_metrics_port: int = 8002
    milvus_port: int = 19530
    milvus: Literal["server", "lite"] = "server"
    index_samples: bool = True
    # Niceness of Milvus and the gateway on the local stack, Triton's being 0. On shared cores
    # a preempted inference thread stalls its whole batch (the CPU runner's threads meet at
    # every layer), while the gateway's and Milvus' work waits well for a few milliseconds:
    # worth about 0.02-0.04 of the throughput ratios on 2 cores. Where the kernel groups tasks
    # by session (`sched_autogroup_enabled`, in the root cgroup) a nice acts only inside one,
    # and each server starts a session of its own: there this changes nothing (issue 29).
    nice_below_triton: int = Field(6, ge=0, le=19)


@lru_cache
def get_stack_settings() -> StackSettings:
    return StackSettings()
