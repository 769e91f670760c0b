"""Collections are ensured all at once; of their failures, the one that says most wins."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.errors import MilvusUnavailableError, ModelMismatchError
from tests.fakes import FakeMilvus, fake_backends


class SlowAndMismatched(FakeMilvus):
    """CLIP's collection times out, VGG16's holds other weights, and the timeout is first."""

    async def ensure_collection(self, alias: str, fingerprint: str, dim: int) -> None:
        if alias.endswith("clip"):
            raise MilvusUnavailableError("Milvus timed out (fake)")
        await asyncio.sleep(0.05)
        raise ModelMismatchError(f"{alias} was built with other weights")


def test_a_model_mismatch_is_reported_over_a_sibling_collections_timeout(
    tmp_path: Path,
) -> None:
    backends = fake_backends(tmp_path)
    backends.vectors = backends.collections = SlowAndMismatched()
    try:
        with pytest.raises(ModelMismatchError, match="other weights"):
            asyncio.run(backends.ensure_collections())
        assert not backends.collections_ready
    finally:
        backends.pool.shutdown()


def test_every_collection_is_ensured_and_each_model_keeps_its_fingerprint(
    tmp_path: Path,
) -> None:
    backends = fake_backends(tmp_path)
    try:
        asyncio.run(backends.ensure_collections())
        assert backends.collections_ready
        assert set(backends.fingerprints) == {"clip", "vgg16"}
        milvus = backends.vectors
        assert isinstance(milvus, FakeMilvus)
        assert set(milvus.rows) == {backends.collection(m) for m in backends.models}
    finally:
        backends.pool.shutdown()


def test_a_reduced_precision_is_in_the_fingerprint_and_fp32_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that starts serving bf16 reindexes instead of mixing vectors in a collection;
    collections made before precision counted (fp32) stay valid after the upgrade."""
    backends = fake_backends(tmp_path)
    model = backends.models[0]
    real_serving = backends.triton.serving
    try:
        fp32 = asyncio.run(backends.fingerprint(model))
        weights = asyncio.run(backends.triton.provenance(model.image_model))
        assert fp32 == f"{model.image_model.name}@{weights}"

        async def bf16(spec: object) -> object:
            return replace(await real_serving(spec), precision="bf16")  # type: ignore[arg-type]

        monkeypatch.setattr(backends.triton, "serving", bf16)
        assert asyncio.run(backends.fingerprint(model)) == f"{fp32}|bf16"
    finally:
        backends.pool.shutdown()
