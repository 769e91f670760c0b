"""Everyday mistakes print one line saying what happened and what to do, exit 2 (usage) or
1 (failure), and show a traceback only with --debug."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from gateway.cli.client import gateway_url
from gateway.cli.errors import UsageProblem
from gateway.cli.main import app
from tests.unit.cli.fake_gateway import FakeGateway

URL = "http://gateway.test"


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _one_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_a_url_without_a_scheme_is_refused_with_the_corrected_url(fake: FakeGateway) -> None:
    result = _run("stats", "--url", "localhost:8080")
    assert result.exit_code == 2
    assert "use --url http://localhost:8080" in _one_line(result)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("given", "corrected"),
    [("127.0.0.1:8080", "http://127.0.0.1:8080"), ("ftp://host", "http://host")],
)
def test_gateway_url_names_the_fix(given: str, corrected: str) -> None:
    with pytest.raises(UsageProblem) as raised:
        gateway_url(given)
    assert corrected in raised.value.hint


def test_an_unreachable_gateway_says_to_start_the_stack(fake: FakeGateway) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    fake.fail = refuse
    result = _run("stats", "--url", URL)
    assert result.exit_code == 1
    line = _one_line(result)
    assert f"cannot reach the gateway at {URL}" in line and "make run" in line


def test_debug_shows_the_traceback(fake: FakeGateway) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    fake.fail = refuse
    result = _run("--debug", "stats", "--url", URL)
    assert isinstance(result.exception, httpx.ConnectError)


@pytest.mark.parametrize(
    ("status", "code", "advice"),
    [
        (401, "missing_api_key", "set PIC_SEARCH_API_KEY"),
        (503, "triton_unavailable", "retry later"),
    ],
)
def test_gateway_errors_say_what_to_do(
    fake: FakeGateway, status: int, code: str, advice: str
) -> None:
    fake.fail = lambda request: httpx.Response(
        status, json={"error": {"code": code, "message": "no"}}
    )
    result = _run("stats", "--url", URL)
    assert result.exit_code == 1
    line = _one_line(result)
    assert code in line and advice in line


def test_invalid_json_filters_are_usage_errors(fake: FakeGateway) -> None:
    for args in (["search", "--text", "cat", "--filter", "{album"], ["delete", "--filter", "[]"]):
        result = _run(*args, "--url", URL)
        assert result.exit_code == 2, result.output
        assert "--filter" in _one_line(result)
    assert fake.requests == []


def test_search_refuses_a_folder_a_missing_file_and_no_query(
    fake: FakeGateway, tmp_path: Path
) -> None:
    folder = _run("search", str(tmp_path), "--url", URL)
    assert folder.exit_code == 2 and "is a folder" in _one_line(folder)
    missing = _run("search", str(tmp_path / "nope.jpg"), "--url", URL)
    assert missing.exit_code == 2 and "no such file" in _one_line(missing)
    nothing = _run("search", "--url", URL)
    assert nothing.exit_code == 2 and "--text" in _one_line(nothing)
    assert fake.requests == []


def test_index_of_a_missing_folder_is_a_usage_error(fake: FakeGateway, tmp_path: Path) -> None:
    result = _run("index", str(tmp_path / "gone"), "--url", URL)
    assert result.exit_code == 2 and "no such file or folder" in _one_line(result)


def test_a_model_is_taken_by_its_title_in_any_case(fake: FakeGateway) -> None:
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        body = {"model": "efficientnet_lite0", "results": [], "took_ms": 1.0}
        return httpx.Response(200, json=body)

    fake.fail = answer
    result = _run("search", "--text", "cat", "--model", "efficientnet-LITE0", "--url", URL)
    assert result.exit_code == 0, result.output
    assert b'"model": "efficientnet_lite0"' in seen[0] or b'"model":"efficientnet_lite0"' in seen[0]
    assert "no results" in result.output


def test_a_registry_model_the_gateway_does_not_serve_names_the_setting(fake: FakeGateway) -> None:
    error = {"code": "unknown_model", "message": "unknown model 'resnet50'"}
    fake.fail = lambda request: httpx.Response(422, json={"error": error})
    result = _run("search", "--text", "cat", "--model", "ResNet50", "--url", URL)
    assert result.exit_code == 1
    assert "PIC_SEARCH_MODELS__ENABLED" in _one_line(result)


def test_an_unknown_model_lists_the_registry(fake: FakeGateway) -> None:
    result = _run("search", "--text", "cat", "--model", "alexnet", "--url", URL)
    assert result.exit_code == 2
    assert "DINOv2-S" in _one_line(result)
    assert fake.requests == []


def test_version() -> None:
    result = _run("--version")
    assert result.exit_code == 0 and result.output.startswith("pic-search ")
