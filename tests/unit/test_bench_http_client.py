"""The benchmarks' lean HTTP/1.1 client, against uvicorn (the gateway's server): a form
arrives as sent, connections are kept alive and reused, an error status raises, and a
connection the server has closed or that sat idle too long is never reused."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench import uploads

IMAGE = b"\xff\xd8\xff\r\n--\r\n" + bytes(range(256)) * 64


async def echo(request: Request) -> JSONResponse:
    form = await request.form()
    upload = form["file"]
    assert not isinstance(upload, str)
    data = await upload.read()
    if form.get("fail"):
        return JSONResponse({"error": "asked to"}, status_code=422)
    client = request.client
    assert client is not None
    return JSONResponse(
        {"size": len(data), "same": data == IMAGE, "top_k": form.get("top_k"), "port": client.port}
    )


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"port": request.client.port if request.client else None})


async def slow(request: Request) -> JSONResponse:
    await asyncio.sleep(2)
    return JSONResponse({})


APP = Starlette(
    routes=[
        Route("/v1/echo", echo, methods=["POST"]),
        Route("/v1/hello", hello),
        Route("/v1/slow", slow),
    ]
)


@asynccontextmanager
async def serving(keep_alive_s: int = 5) -> AsyncIterator[str]:
    """uvicorn on a socket bound here: connections wait in its backlog until it accepts."""
    listening = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        APP, log_level="warning", lifespan="off", timeout_keep_alive=keep_alive_s
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        listening.close()


def test_a_form_arrives_as_sent_over_one_kept_alive_connection() -> None:
    async def run() -> list[dict[str, object]]:
        async with serving() as url, uploads.Client(url) as http:
            form = uploads.one_image("file", IMAGE, "q.jpg", top_k="7")
            return [parsed(await http.post("/v1/echo", form)) for _ in range(3)]

    answers = asyncio.run(run())
    assert [(a["size"], a["same"], a["top_k"]) for a in answers] == [(len(IMAGE), True, "7")] * 3
    assert len({a["port"] for a in answers}) == 1


def test_an_error_status_raises_and_the_connection_stays_usable() -> None:
    async def run() -> tuple[int, dict[str, object], dict[str, object]]:
        async with serving() as url, uploads.Client(url) as http:
            first = parsed(await http.get("/v1/hello"))
            with pytest.raises(uploads.HttpError) as failed:
                await http.post("/v1/echo", uploads.one_image("file", IMAGE, "q.jpg", fail="1"))
            return failed.value.status, first, parsed(await http.get("/v1/hello"))

    status, first, after = asyncio.run(run())
    assert status == 422
    assert first["port"] == after["port"]


def test_a_connection_the_server_closed_is_not_reused() -> None:
    async def run() -> tuple[dict[str, object], dict[str, object]]:
        async with serving(keep_alive_s=1) as url, uploads.Client(url) as http:
            first = parsed(await http.get("/v1/hello"))
            await asyncio.sleep(1.5)  # uvicorn closes the idle connection
            return first, parsed(await http.get("/v1/hello"))

    first, after = asyncio.run(run())
    assert first["port"] != after["port"]


def test_a_connection_idle_longer_than_the_reuse_limit_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(uploads, "IDLE_REUSE_S", 0.0)

    async def run() -> list[dict[str, object]]:
        async with serving() as url, uploads.Client(url) as http:
            return [parsed(await http.get("/v1/hello")) for _ in range(2)]

    first, second = asyncio.run(run())
    assert first["port"] != second["port"]


def test_a_server_that_does_not_answer_fails_the_request_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(uploads, "REQUEST_TIMEOUT_S", 0.3)

    async def run() -> dict[str, object]:
        async with serving() as url, uploads.Client(url) as http:
            with pytest.raises(TimeoutError):
                await http.get("/v1/slow")
            return parsed(await http.get("/v1/hello"))  # a fresh connection works

    assert "port" in asyncio.run(run())


def parsed(body: bytes) -> dict[str, object]:
    answer = json.loads(body)
    assert isinstance(answer, dict)
    return answer
