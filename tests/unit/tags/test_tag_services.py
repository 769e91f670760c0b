"""Auto-tags on fakes: tags at ingest, `model=tags` search, the tag filter, GET /v1/tags."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway.config import Settings
from gateway.errors import ValidationError
from gateway.models.tag_vocabulary import vocabulary
from gateway.services import ingest, search
from gateway.services.backends import Backends
from gateway.services.search import SearchOptions
from gateway.services.tags import CLASS_FLOOR, MAX_CLASSES, TAG_THRESHOLD, photo_tags
from tests.fakes import FakeMilvus, FakeTriton, fake_backends
from tests.unit.api.app_on_fakes import http_on_fakes
from tests.unit.images import shade_jpeg as jpeg

LITE0 = "images_efficientnet_lite0"
SETTINGS = Settings.model_validate({"models": {"enabled": ["clip", "efficientnet_lite0"]}})


def index(name: str) -> int:
    return vocabulary().class_names.index(name)


def probabilities(**classes: float) -> np.ndarray:
    row = np.zeros(1000, np.float32)
    for name, p in classes.items():
        row[index(name.replace("_", " "))] = p
    return row


def test_kept_classes_stop_at_the_floor_and_shown_tags_sum_their_classes() -> None:
    row = np.full(1000, 0.0001, np.float32)
    row[index("egyptian cat")], row[index("tiger cat")], row[index("tabby")] = 0.4, 0.23, 0.22
    row[index("tennis ball")] = 0.006
    tags = photo_tags(row)
    assert [n for n, _ in tags.classes] == ["egyptian cat", "tiger cat", "tabby", "tennis ball"]
    assert all(p >= CLASS_FLOOR for _, p in tags.classes) and len(tags.classes) <= MAX_CLASSES
    shown = dict(tags.tags)
    assert [n for n, _ in tags.tags[:3]] == ["egyptian cat", "tiger cat", "tabby"]
    assert shown["cat"] == pytest.approx(0.85, abs=1e-3) and "animal" in shown
    assert "tennis ball" not in shown and TAG_THRESHOLD > 0.006


def test_a_flat_distribution_shows_no_tags_but_keeps_nothing_below_the_floor() -> None:
    tags = photo_tags(np.full(1000, 0.001, np.float32))
    assert tags.classes == () and tags.tags == ()


@pytest.fixture
def tagged(tmp_path: Path) -> Iterator[Backends]:
    """CLIP with random weights and EfficientNet-Lite0 with real ones (as the test models)."""
    backends = fake_backends(tmp_path, SETTINGS)
    triton = backends.triton
    assert isinstance(triton, FakeTriton)
    triton.model_weights = {"efficientnet_lite0": "pretrained:test"}
    vectors = backends.vectors
    assert isinstance(vectors, FakeMilvus)
    vectors.schema_versions = {LITE0: 3, "images_clip": 3}
    yield backends
    backends.pool.shutdown()


def put(backends: Backends, data: bytes, **classes: float) -> str:
    triton = backends.triton
    assert isinstance(triton, FakeTriton)
    triton.classes = {index(n.replace("_", " ")): p for n, p in classes.items()}
    report = asyncio.run(ingest.ingest(backends, [ingest.Upload("f.jpg", data)], {}))
    assert report.results[0].status == "created"
    image_id = report.results[0].id
    assert image_id is not None
    return image_id


def text(
    backends: Backends, q: str, model: str | None = None, **options: object
) -> search.SearchResult:
    return asyncio.run(search.by_text(backends, q, 10, SearchOptions(**options), model))  # type: ignore[arg-type]


def test_ingest_stores_tags_in_the_record_and_every_collection_row(tagged: Backends) -> None:
    image_id = put(tagged, jpeg(1), tabby=0.7, tiger_cat=0.2)
    rows = tagged.vectors.rows  # type: ignore[attr-defined]
    for collection in (LITE0, "images_clip"):
        row = rows[collection][image_id]
        assert row["classes"] == ["tabby", "tiger cat"] and "cat" in row["tags"]
        assert row["class_scores"] == pytest.approx([0.7, 0.2])
    hit = text(tagged, "cat").matches[0]
    assert hit.file.tags is not None and hit.file.tags[0] == {"name": "tabby", "score": 0.7}


def test_tag_search_ranks_by_the_summed_probability_under_the_words(tagged: Backends) -> None:
    cat = put(tagged, jpeg(1), tabby=0.5, tiger_cat=0.4)
    mostly_dog = put(tagged, jpeg(2), golden_retriever=0.8, tabby=0.1)
    put(tagged, jpeg(3), espresso=0.9)
    found = text(tagged, "cats")
    assert found.model == "tags" and found.notice is None
    assert [m.hit.id for m in found.matches] == [cat, mostly_dog]
    assert found.matches[0].hit.score == pytest.approx(0.9)
    both = text(tagged, "cats or dogs", model="tags")
    assert [m.hit.id for m in both.matches][:1] == [mostly_dog]  # 0.9 against 0.9: newest
    assert {m.hit.id for m in both.matches} == {cat, mostly_dog}


def test_tied_scores_beyond_the_page_are_broken_by_newest_then_id(tagged: Backends) -> None:
    """Only the best scores are read further (their dates): ties at the page's edge too."""
    tied = [put(tagged, jpeg(n), tabby=0.5) for n in range(1, 6)]
    put(tagged, jpeg(9), tabby=0.25)
    rows = tagged.vectors.rows[LITE0]  # type: ignore[attr-defined]
    newest = sorted(tied, key=lambda i: (-rows[i]["created_at"], i))
    options = SearchOptions(min_score=0.3)
    found = asyncio.run(search.by_text(tagged, "cat", 2, options, "tags"))
    assert [m.hit.id for m in found.matches] == newest[:2]
    assert all(m.hit.created_at == rows[m.hit.id]["created_at"] for m in found.matches)
    assert found.cutoff.cut == 1  # the 0.25 photo


def test_unknown_words_are_named_and_no_known_word_finds_nothing(tagged: Backends) -> None:
    cat = put(tagged, jpeg(1), tabby=0.9)
    some = text(tagged, "a cat on a sofa blanket zzyzx")
    assert [m.hit.id for m in some.matches] == [cat]
    assert some.notice is not None and "'zzyzx'" in some.notice and "'cat'" not in some.notice
    none = text(tagged, "zzyzx qwerty")
    assert none.matches == [] and none.notice is not None and "'qwerty'" in none.notice
    with pytest.raises(ValidationError) as empty:
        text(tagged, "   ")
    assert empty.value.code == "empty_query"


def test_filters_and_min_score_apply_to_tag_search(tagged: Backends) -> None:
    strong = put(tagged, jpeg(1), tabby=0.9)
    weak = put(tagged, jpeg(2), tabby=0.2, espresso=0.7)
    assert [m.hit.id for m in text(tagged, "cat", min_score=0.5).matches] == [strong]
    only_coffee = text(tagged, "cat", filters={"tags": "espresso"})
    assert [m.hit.id for m in only_coffee.matches] == [weak]


def test_a_tag_filter_returns_exactly_the_tagged_photos_in_image_search(tagged: Backends) -> None:
    cat = put(tagged, jpeg(1), tabby=0.9)
    put(tagged, jpeg(2), espresso=0.9)
    options = SearchOptions(filters={"tags": {"in": ["cat", "dog"]}})
    found = asyncio.run(search.similar(tagged, cat, "efficientnet_lite0", 10, options))
    assert found.matches == []  # the only cat is the query itself
    listed = asyncio.run(search.by_image(tagged, jpeg(3), "clip", 10, options))
    assert [m.hit.id for m in listed.matches] == [cat]
    with pytest.raises(ValidationError):
        asyncio.run(search.by_image(tagged, jpeg(3), "clip", 10, SearchOptions({"tags": "kat"})))


def test_the_default_text_model_follows_the_weights(tmp_path: Path, tagged: Backends) -> None:
    put(tagged, jpeg(1), tabby=0.9)
    assert text(tagged, "cat").model == "tags"  # CLIP's weights are random here
    tagged.provenance["clip"] = "pretrained:clip"  # as Triton would say after a rebuild
    assert text(tagged, "cat").model == "clip"
    assert text(tagged, "cat", model="tags").model == "tags"
    plain = fake_backends(tmp_path / "plain")  # random weights everywhere: no label head
    with pytest.raises(ValidationError) as refused:
        text(plain, "cat", model="tags")
    assert refused.value.code == "no_label_head"
    assert "PIC_SEARCH_MODELS__ENABLED" in refused.value.message
    assert text(plain, "cat").model == "clip"
    plain.pool.shutdown()


def test_tags_are_listed_most_frequent_first_over_http(tmp_path: Path) -> None:
    with http_on_fakes(tmp_path, SETTINGS) as (client, backends):
        backends.triton.model_weights = {"efficientnet_lite0": "pretrained:x"}  # type: ignore[attr-defined]
        backends.vectors.schema_versions = {LITE0: 3, "images_clip": 3}  # type: ignore[attr-defined]
        put(backends, jpeg(1), tabby=0.9)
        put(backends, jpeg(2), tiger_cat=0.9)
        put(backends, jpeg(3), espresso=0.9)
        body = client.get("/v1/tags", params={"limit": 3}).json()
        assert body["tags"][0] == {"name": "animal", "count": 2}
        assert len(body["tags"]) == 3 and body["next_cursor"] == "3"
        cats = client.get("/v1/tags", params={"prefix": "cat"}).json()["tags"]
        assert {"name": "cat", "count": 2} in cats
        assert client.get("/v1/tags", params={"limit": 0}).status_code == 422
        assert client.get("/v1/tags", params={"bogus": 1}).status_code == 422
        hits = client.get("/v1/search/text", params={"q": "cat"}).json()
        assert hits["model"] == "tags" and len(hits["results"]) == 2
        assert hits["results"][0]["tags"][0]["name"] == "tiger cat"  # a tie: newest first
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert models["tags"]["text_default"] and not models["clip"]["text_default"]
        refused = client.get("/v1/search/text", params={"q": "cat", "filter": '{"tags": 3}'})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_filter"


def test_tag_search_groups_near_copies_when_asked(tagged: Backends) -> None:
    first = put(tagged, jpeg(1), tabby=0.9)
    second = put(tagged, jpeg(2), tabby=0.8)
    tagged.copy_thresholds["efficientnet_lite0"] = -1.0  # every pair counts as copies here
    grouped = text(tagged, "cat", group=True)
    assert [m.hit.id for m in grouped.matches] == [first]
    assert [c.id for c in grouped.matches[0].copies] == [second]
    tagged.copy_thresholds["efficientnet_lite0"] = None  # a build that found no threshold
    alone = text(tagged, "cat", group=True)
    assert [m.hit.id for m in alone.matches] == [first, second]
    assert alone.notice is not None and "not grouped" in alone.notice


def test_auto_tags_off_tags_no_photo_and_refuses_tag_search(tmp_path: Path) -> None:
    settings = SETTINGS.model_copy(
        update={"models": SETTINGS.models.model_copy(update={"auto_tags": False})}
    )
    backends = fake_backends(tmp_path, settings)
    backends.triton.model_weights = {"efficientnet_lite0": "pretrained:test"}  # type: ignore[attr-defined]
    image_id = put(backends, jpeg(1), tabby=0.9)
    row = backends.vectors.rows[LITE0][image_id]  # type: ignore[attr-defined]
    assert row["tags"] == [] and row["classes"] == []
    with pytest.raises(ValidationError) as refused:
        text(backends, "cat", model="tags")
    assert refused.value.code == "no_label_head" and "AUTO_TAGS" in refused.value.message
    assert text(backends, "cat").model == "clip"
    backends.pool.shutdown()
