"""Search responses are encoded by the route itself (FastAPI's validation is skipped for
speed): the bytes must be exactly what the `SearchResponse` schema says, field for field."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.api.routes.links import search_response
from gateway.api.schemas import SearchResponse
from gateway.services.cutoff import Cutoff
from gateway.services.records import FileInfo
from gateway.services.search import Hit, Match, SearchResult
from tests.fakes import fake_backends


def _result() -> SearchResult:
    full = FileInfo("cat.jpg", "albums/2024/cat.jpg", "JPEG", 640, 480, 51234, 1_733_000_000)
    matches = [
        Match(
            Hit("a" * 64, 0.93125, {"album": "2024", "tags": ["cat", "sofa"]}, 1_733_000_001), full
        ),
        # A record from before the file facts existed, or one that could not be read.
        Match(Hit("b" * 64, -0.25, {}, 0), FileInfo()),
        Match(Hit("c" * 64, 0.5, {"rating": 4, "nested": {"x": None}}, 7), FileInfo(bytes=10)),
    ]
    cutoff = Cutoff("auto", min_score=0.48, cut=2, message=None)
    return SearchResult("efficientnet_lite0", matches, 12.3456, cutoff, "date", False)


def test_the_encoded_search_body_is_the_schema_validated_body(tmp_path: Path) -> None:
    response = search_response(fake_backends(tmp_path), _result())
    sent = json.loads(bytes(response.body))
    # What FastAPI would have sent through `response_model=SearchResponse`.
    validated = SearchResponse.model_validate(sent).model_dump(mode="json")
    assert sent == validated  # no field missing (defaults would fill it), none extra
    assert response.media_type == "application/json"
    first = sent["results"][0]
    assert first["content_url"] == f"/v1/images/{'a' * 64}/content"
    assert (first["score"], first["created_at"], first["path"]) == (
        0.93125,
        1_733_000_001,
        "albums/2024/cat.jpg",
    )
    assert sent["results"][1]["created_at"] is None  # no collection time, no record time
    assert sent["cutoff"] == {"mode": "auto", "min_score": 0.48, "message": None}
    assert (sent["took_ms"], sent["cut"], sent["sort"]) == (12.35, 2, "date")
