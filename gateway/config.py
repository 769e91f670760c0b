"""One typed settings object for the gateway, the CLI and the local stack.

Every value comes from the environment with the `PIC_SEARCH_` prefix; nested groups use a
double underscore, e.g. `PIC_SEARCH_MILVUS__URI=http://milvus:19530`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.models.registry import DEFAULT_ENABLED, REGISTRY


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    # Public base URL used in links the API returns; empty means relative links.
    public_url: str = ""
    cors_origins: list[str] = Field(default_factory=list)
    # Decode/resize pool size; 0 means one worker per core.
    preprocess_workers: int = 0
    # How long an idle client connection stays open. Longer than the idle timeout of the
    # proxies in front (60 s for nginx and AWS load balancers), so none reuses a connection
    # the gateway is closing; uvicorn's 5 s default did race clients (a write on a closed
    # connection, seen in CI).
    keep_alive_s: int = Field(default=75, ge=1)
    # On SIGTERM, in-flight HTTP requests get this long to finish (gRPC: grpc.grace_s).
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class GrpcSettings(BaseModel):
    """The gateway's gRPC API (picsearch.v1), served in the same process."""

    enabled: bool = True
    host: str = ""  # empty: the HTTP server's host
    port: int = 50051
    # Room beyond one image (max_upload_bytes) for the rest of a message: the largest message
    # accepted is one image plus this; a reply with an original and its thumbnail, too.
    message_overhead_bytes: int = 1024 * 1024
    # Images of an IndexImages stream embedded together (at most max_files_per_request).
    ingest_batch: int = 16
    # How long a batch waits for more images of the stream before it is embedded anyway.
    ingest_linger_ms: float = 20.0
    # How often health checking re-reads readiness (Triton, Milvus, the store).
    health_interval_s: float = 2.0
    grace_s: float = 5.0  # in-flight calls get this long on shutdown


class TritonSettings(BaseModel):
    url: str = "127.0.0.1:8001"  # gRPC endpoint
    timeout_s: float = 30.0
    retry_after_s: int = 5
    # Ingest's model calls in Triton at once, across every upload, reindex and repair
    # (searches do not wait for them); calls for one model that wait for a turn go together
    # as one batch. On a CPU each call already uses every core, so more calls only share the
    # cores with searches: on 2 cores, image search p99 while 2 clients upload fell from 208
    # to 76 ms at 1, and ingest alone kept its rate. A GPU server may want more.
    ingest_calls: int = Field(default=1, ge=1)


class MilvusSettings(BaseModel):
    # `http://host:19530` for a Milvus server, or a file path for Milvus Lite.
    uri: str = "http://127.0.0.1:19530"
    token: SecretStr = SecretStr("")
    collection_prefix: str = "images_"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    search_ef: int = 128
    # Session: read-your-own-writes per gateway; Strong: every replica's writes, slower.
    read_consistency: Literal["Strong", "Session", "Bounded"] = "Session"
    # With Session reads, searches read as of this long ago, so they never wait on uploads:
    # a photo is found by searches this long after its 201. 0: searches see this gateway's
    # own writes at once (Session), and wait on them.
    search_staleness_s: float = Field(default=0.5, ge=0.0, le=5.0)
    timeout_s: float = 10.0
    retry_after_s: int = 5


class StoreSettings(BaseModel):
    kind: Literal["local", "s3"] = "local"
    path: Path = Path("data/images")
    s3_endpoint_url: str = ""
    s3_bucket: str = "pic-search"
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")


class LimitSettings(BaseModel):
    max_upload_bytes: int = 25 * 1024 * 1024  # one file
    max_request_bytes: int = 200 * 1024 * 1024  # one multipart request
    max_files_per_request: int = 64
    max_pixels: int = 80_000_000  # decompression bombs stop here
    max_side: int = 20_000
    min_side: int = 8
    max_aspect_ratio: float = 50.0
    max_text_chars: int = 1000
    max_top_k: int = 100
    default_top_k: int = 10
    max_metadata_bytes: int = 4096
    request_timeout_s: float = 60.0

    @model_validator(mode="after")
    def _consistent(self) -> LimitSettings:
        # Fail at startup, naming the variables, rather than on the first request.
        if not 1 <= self.default_top_k <= self.max_top_k:
            raise ValueError(
                f"PIC_SEARCH_LIMITS__DEFAULT_TOP_K ({self.default_top_k}) must be between 1 and"
                f" PIC_SEARCH_LIMITS__MAX_TOP_K ({self.max_top_k})"
            )
        if not 1 <= self.min_side < self.max_side:
            raise ValueError(
                f"PIC_SEARCH_LIMITS__MIN_SIDE ({self.min_side}) must be at least 1 and below"
                f" PIC_SEARCH_LIMITS__MAX_SIDE ({self.max_side})"
            )
        return self


class AuthSettings(BaseModel):
    # With no keys, writes are open (the local default, bound to 127.0.0.1).
    api_keys: list[SecretStr] = Field(default_factory=list)
    api_keys_file: Path | None = None
    require_for_reads: bool = False
    # Lifetime of the web page's session cookie (`POST /v1/session`); then it asks again.
    session_ttl_s: int = Field(default=3600, gt=0)


class PrivacySettings(BaseModel):
    # GPS positions read from EXIF at ingest. A stored location is returned to every reader
    # of the image (hits, listings, GET /v1/images/{id}); false drops it before it is stored.
    store_location: bool = True


class ModelSettings(BaseModel):
    # Which registry models run: Triton loads them, ingest embeds with each, each has its
    # own collection. A comma list, e.g. `PIC_SEARCH_MODELS__ENABLED=vgg16,clip,resnet50`.
    enabled: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_ENABLED))
    # Auto-tags from an enabled label head with real weights (docs/tags.md); false tags no
    # photo and turns `model=tags` off, e.g. to measure what tagging costs at ingest.
    auto_tags: bool = True

    @field_validator("enabled", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("enabled")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in REGISTRY]
        if unknown:
            raise ValueError(f"unknown models {unknown}; the registry has {sorted(REGISTRY)}")
        if not value:
            raise ValueError("enable at least one model")
        return list(dict.fromkeys(value))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIC_SEARCH_", env_nested_delimiter="__", extra="ignore"
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    grpc: GrpcSettings = Field(default_factory=GrpcSettings)
    triton: TritonSettings = Field(default_factory=TritonSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    def preprocess_pool_size(self) -> int:
        # The cores this process may use (a container CPU set), not the whole node.
        return self.server.preprocess_workers or len(os.sched_getaffinity(0)) or 1

    def load_api_keys(self) -> list[str]:
        keys = [k.get_secret_value() for k in self.auth.api_keys if k.get_secret_value()]
        if self.auth.api_keys_file is not None:
            lines = self.auth.api_keys_file.read_text().splitlines()
            keys += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        return keys


@lru_cache
def get_settings() -> Settings:
    return Settings()
