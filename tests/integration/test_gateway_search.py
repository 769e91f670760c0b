"""Ingest and search through the gateway, on real Triton and Milvus servers."""

from __future__ import annotations

import asyncio
import io
from dataclasses import astuple
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from gateway.export.triton_config import built_cpu_runner
from gateway.models.registry import triton_models
from tests.imaging import distinct_jpegs
from tests.integration import images
from tests.integration.conftest import RunningGateway
from tests.integration.support import collection_counts

MODELS = ("clip", "vgg16", "efficientnet_lite0")


def _index(client: httpx.Client, photos: dict[str, bytes]) -> dict[str, str]:
    files = [("files", (name, data, "image/jpeg")) for name, data in photos.items()]
    response = client.post("/v1/images", files=files, data={"metadata": '{"album": "samples"}'})
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert {r["status"] for r in results} <= {"created", "duplicate"}
    return {r["filename"]: r["id"] for r in results}


@pytest.fixture(scope="module")
def indexed(gateway: RunningGateway, photos: dict[str, bytes]) -> dict[str, str]:
    with gateway.client() as client:
        return _index(client, photos)


def _search(
    client: httpx.Client, data: bytes, model: str, top_k: int = 5
) -> list[dict[str, object]]:
    response = client.post(
        "/v1/search/image",
        files={"file": ("q.jpg", data, "image/jpeg")},
        data={"model": model, "top_k": str(top_k)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == model
    # Only EfficientNet-Lite0's test weights are real (they ship in a pip package).
    assert body["random_weights"] is (model != "efficientnet_lite0")
    results: list[dict[str, object]] = body["results"]
    return results


@pytest.mark.parametrize("model", MODELS)
def test_searching_with_each_indexed_photo_finds_that_photo_first(
    gateway: RunningGateway, photos: dict[str, bytes], indexed: dict[str, str], model: str
) -> None:
    with gateway.client() as client:
        for name, data in photos.items():
            results = _search(client, data, model)
            assert results[0]["id"] == indexed[name], name
            scores = [float(r["score"]) for r in results]  # type: ignore[arg-type]
            assert scores == sorted(scores, reverse=True)
            assert scores[0] == pytest.approx(1.0, abs=1e-3)


def test_concurrent_searches_each_find_their_own_photo_first(
    gateway: RunningGateway, photos: dict[str, bytes], indexed: dict[str, str]
) -> None:
    # Searches that reach Milvus together go to it as one call (clients/search_batches.py):
    # each must still get its own answer, so every photo is searched for three times at once.
    names = list(photos) * 3

    async def search_all() -> list[str]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=120) as http:

            async def one(name: str) -> str:
                response = await http.post(
                    "/v1/search/image",
                    files={"file": ("q.jpg", photos[name], "image/jpeg")},
                    data={"model": "efficientnet_lite0", "top_k": "3"},
                )
                assert response.status_code == 200, response.text
                return str(response.json()["results"][0]["id"])

            return await asyncio.gather(*(one(n) for n in names))

    assert asyncio.run(search_all()) == [indexed[n] for n in names]


def _variant(data: bytes, scale: float, quality: int) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    size = (max(8, int(image.width * scale)), max(8, int(image.height * scale)))
    out = io.BytesIO()
    image.resize(size, Image.Resampling.BILINEAR).save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.mark.parametrize(("model", "required"), [("vgg16", 0.9), ("clip", 0.9)])
def test_half_size_and_low_quality_copies_find_their_original_first(
    gateway: RunningGateway,
    photos: dict[str, bytes],
    indexed: dict[str, str],
    model: str,
    required: float,
) -> None:
    hits = total = 0
    with gateway.client() as client:
        for name, data in photos.items():
            for variant in (_variant(data, 0.5, 92), _variant(data, 1.0, 30)):
                total += 1
                hits += _search(client, variant, model, top_k=1)[0]["id"] == indexed[name]
    recall = hits / total
    print(f"{model}: near-duplicate recall@1 = {hits}/{total} = {recall:.2f}")
    assert recall >= required


def test_a_reupload_is_a_duplicate_and_the_count_does_not_change(
    gateway: RunningGateway, photos: dict[str, bytes], indexed: dict[str, str]
) -> None:
    with gateway.client() as client:
        before = client.get("/v1/stats").json()["collections"]
        name, data = next(iter(photos.items()))
        response = client.post("/v1/images", files=[("files", (name, data, "image/jpeg"))])
        assert response.status_code == 201
        assert response.json()["results"][0] == {
            "filename": name, "status": "duplicate", "id": indexed[name],
        }  # fmt: skip
        assert client.get("/v1/stats").json()["collections"] == before


def test_eight_concurrent_uploads_of_one_new_image_create_it_exactly_once(
    gateway: RunningGateway,
) -> None:
    [data] = distinct_jpegs(Image.new("RGB", (320, 240), (90, 160, 40)), 1, seed=808)
    with gateway.client() as client:
        before = collection_counts(client)

    async def upload_all() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=gateway.url) as http:

            async def one(i: int) -> dict[str, Any]:
                files = [("files", (f"same-{i}.jpg", data, "image/jpeg"))]
                response = await http.post("/v1/images", files=files, timeout=120)
                assert response.status_code == 201, response.text
                result: dict[str, Any] = response.json()["results"][0]
                return result

            return await asyncio.gather(*(one(i) for i in range(8)))

    results = asyncio.run(upload_all())
    assert sorted(r["status"] for r in results) == ["created"] + ["duplicate"] * 7
    assert len({r["id"] for r in results}) == 1
    with gateway.client() as client:
        after = collection_counts(client)
        assert after == {name: count + 1 for name, count in before.items()}
        client.delete(f"/v1/images/{results[0]['id']}").raise_for_status()


def test_delete_makes_an_image_unfindable_and_its_content_404(
    gateway: RunningGateway, photos: dict[str, bytes], indexed: dict[str, str]
) -> None:
    extra = _variant(photos["coffee.jpg"], 0.8, 80)
    with gateway.client() as client:
        created = client.post("/v1/images", files=[("files", ("extra.jpg", extra, "image/jpeg"))])
        image_id = created.json()["results"][0]["id"]
        assert client.get(f"/v1/images/{image_id}/content").content == extra
        assert _search(client, extra, "clip", 1)[0]["id"] == image_id

        assert client.delete(f"/v1/images/{image_id}").status_code == 204
        assert client.get(f"/v1/images/{image_id}/content").status_code == 404
        assert client.get(f"/v1/images/{image_id}").status_code == 404
        for model in MODELS:
            assert image_id not in {r["id"] for r in _search(client, extra, model, 10)}
        assert client.delete(f"/v1/images/{image_id}").status_code == 404


def test_text_search_returns_top_k_well_formed_results_ordered_by_score(
    gateway: RunningGateway, indexed: dict[str, str]
) -> None:
    with gateway.client() as client:
        response = client.get(
            "/v1/search/text", params={"q": "a red ball on grass", "top_k": 7, "model": "clip"}
        )
        assert response.status_code == 200, response.text
        timing = response.headers["server-timing"]
        assert "triton;dur=" in timing and "milvus;dur=" in timing and "total;dur=" in timing
        assert len(response.headers["x-request-id"]) == 32
        body = response.json()
        assert body["model"] == "clip"
        assert len(body["results"]) == 7
        scores = [r["score"] for r in body["results"]]
        assert scores == sorted(scores, reverse=True)
        for result in body["results"]:
            assert set(result) == {"id", "score", "metadata", "content_url", "thumbnail_url",
                                   "display_url", "filename", "path", "format", "width",
                                   "height", "bytes", "created_at", "taken", "camera", "lens",
                                   "location", "tags", "copies"}  # fmt: skip
            assert result["id"] in indexed.values()
            assert client.get(result["thumbnail_url"]).headers["content-type"] == "image/jpeg"
        posted = client.post(
            "/v1/search/text", json={"q": "a red ball on grass", "top_k": 7, "model": "clip"}
        )
        assert [r["id"] for r in posted.json()["results"]] == [r["id"] for r in body["results"]]


def test_a_metadata_filter_restricts_results(
    gateway: RunningGateway, photos: dict[str, bytes], indexed: dict[str, str]
) -> None:
    tagged = _variant(photos["rocket.jpg"], 0.7, 85)
    with gateway.client() as client:
        meta = '{"album": "launch \\"day\\" \' or 1==1"}'
        response = client.post(
            "/v1/images",
            files=[("files", ("t.jpg", tagged, "image/jpeg"))],
            data={"metadata": meta},
        )
        tagged_id = response.json()["results"][0]["id"]
        found = client.post(
            "/v1/search/text",
            json={
                "q": "rocket",
                "top_k": 10,
                "model": "clip",
                "filter": {"album": 'launch "day" \' or 1==1'},
            },
        ).json()["results"]
        assert [r["id"] for r in found] == [tagged_id]
        samples = client.post(
            "/v1/search/text",
            json={"q": "rocket", "top_k": 50, "model": "clip", "filter": {"album": "samples"}},
        ).json()["results"]
        assert tagged_id not in {r["id"] for r in samples}
        assert {r["id"] for r in samples} <= set(indexed.values())
        client.delete(f"/v1/images/{tagged_id}")


def test_similar_finds_neighbours_of_an_indexed_image_without_itself(
    gateway: RunningGateway, indexed: dict[str, str]
) -> None:
    image_id = indexed["astronaut.jpg"]
    with gateway.client() as client:
        response = client.get(f"/v1/images/{image_id}/similar", params={"top_k": 3})
        assert response.status_code == 200
        ids = [r["id"] for r in response.json()["results"]]
        assert len(ids) == 3 and image_id not in ids


def test_listing_pages_through_images_newest_first(
    gateway: RunningGateway, indexed: dict[str, str]
) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    with gateway.client() as client:
        while True:
            params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/images", params=params).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids))
    assert set(indexed.values()) <= set(ids)
    created = [item["created_at"] for item in seen]
    assert created == sorted(created, reverse=True)


def test_stats_report_counts_and_weights_provenance(
    gateway: RunningGateway, indexed: dict[str, str], test_models: Path
) -> None:
    with gateway.client() as client:
        stats = client.get("/v1/stats").json()
    counts = {name: c["count"] for name, c in stats["collections"].items()}
    assert counts == {f"images_{m}": len(indexed) for m in MODELS}
    weights = {name: m["weights"] for name, m in stats["models"].items()}
    assert weights.pop("efficientnet_lite0").startswith("pretrained:efficientnet-lite0")
    assert set(weights.values()) == {"random:seed=20241127"}
    assert stats["random_weights"] is True
    # What runs each model, from its config: the registry's CPU runner on this CPU, or for
    # real weights the one the build measured.
    serving = {name: (m["runtime"], m["precision"]) for name, m in stats["models"].items()}
    assert serving == {
        spec.name: astuple(built_cpu_runner(test_models / spec.name))
        for spec in triton_models(MODELS)
    }


def test_models_lists_the_enabled_models_and_defaults_to_the_best_with_real_weights(
    gateway: RunningGateway, photos: dict[str, bytes], indexed: dict[str, str]
) -> None:
    with gateway.client() as client:
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        # `tags`: words through EfficientNet-Lite0's label head, the default text search here.
        assert list(models) == ["vgg16", "clip", "efficientnet_lite0", "tags"]
        assert {n: m["dimension"] for n, m in models.items()} == {
            "vgg16": 512, "clip": 512, "efficientnet_lite0": 1280, "tags": 0,
        }  # fmt: skip
        assert [n for n, m in models.items() if m["default"]] == ["efficientnet_lite0"]
        assert [n for n, m in models.items() if m["text"]] == ["clip", "tags"]
        assert [n for n, m in models.items() if m["text_default"]] == ["tags"]
        assert not models["efficientnet_lite0"]["random_weights"]
        # A search that names no model uses the default; text search uses CLIP's text tower.
        response = client.post(
            "/v1/search/image", files={"file": ("q.jpg", photos["chelsea.jpg"], "image/jpeg")}
        )
        assert response.json()["model"] == "efficientnet_lite0"
        assert response.json()["random_weights"] is False
        text = client.get("/v1/search/text", params={"q": "a cat", "model": "clip"}).json()
        assert (text["model"], text["random_weights"]) == ("clip", True)
        # No text tower with real weights: words go through EfficientNet-Lite0's tags.
        default = client.get("/v1/search/text", params={"q": "a cat"}).json()
        assert (default["model"], default["random_weights"]) == ("tags", False)


def test_metrics_expose_per_stage_histograms(
    gateway: RunningGateway, indexed: dict[str, str]
) -> None:
    with gateway.client() as client:
        metrics = client.get("/metrics").text
    for stage in ("decode", "triton", "milvus", "store"):
        assert f'pic_search_stage_seconds_count{{stage="{stage}"}}' in metrics
    assert 'pic_search_requests_total{method="POST",route="/v1/images",status="201"}' in metrics


def _png_with_metadata(size: tuple[int, int]) -> bytes:
    """A PNG (not a JPEG, so serving the original cannot pass) carrying EXIF, an ICC
    profile and a text chunk, all of which the thumbnail must drop."""
    image = images.photo("coffee").resize(size)
    exif = Image.Exif()
    exif[0x010F] = "Camera maker that must not leak"  # Make
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a private comment")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "PNG", exif=exif.tobytes(), icc_profile=icc, pnginfo=text)
    return out.getvalue()


def test_the_thumbnail_is_a_256_px_jpeg_without_the_originals_metadata(
    gateway: RunningGateway,
) -> None:
    original = _png_with_metadata((600, 400))
    assert Image.open(io.BytesIO(original)).info.keys() >= {"exif", "icc_profile", "Comment"}
    with gateway.client() as client:
        created = client.post("/v1/images", files=[("files", ("meta.png", original))])
        assert created.status_code == 201, created.text
        image_id = created.json()["results"][0]["id"]
        response = client.get(f"/v1/images/{image_id}/thumbnail")
        # The session's gateway: leave its counts as the other tests expect them.
        assert client.delete(f"/v1/images/{image_id}").status_code == 204
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    thumbnail = Image.open(io.BytesIO(response.content))
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (256, 171)  # longest side 256, the aspect ratio kept
    assert not {"exif", "icc_profile", "comment", "Comment"} & thumbnail.info.keys()
    assert not thumbnail.getexif()
    assert b"must not leak" not in response.content and b"private" not in response.content
