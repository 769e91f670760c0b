"""Multipart forms, encoded before a load run, and the lean keep-alive HTTP/1.1 client that sends
them as a browser would: the load generator shares the 2 cores with the servers it measures, so
its CPU per request (a fraction of aiohttp's) is kept small."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

# Under every server's keep-alive (the gateway's 75 s, uvicorn's default 5 s, which Infinity
# keeps): a connection idle longer is dropped, so a request never races the server closing it.
IDLE_REUSE_S = 3.0
REQUEST_TIMEOUT_S = 600.0  # a stuck server fails the run instead of hanging it


@dataclass(frozen=True)
class Multipart:
    body: bytes
    content_type: str


def one_image(field: str, data: bytes, filename: str, **fields: str) -> Multipart:
    """A form with the image under `field` and plain text `fields` before it."""
    return images_form(field, [(filename, data)], **fields)


def images_form(field: str, files: list[tuple[str, bytes]], **fields: str) -> Multipart:
    """A form with each (filename, JPEG) under `field` and plain text `fields` before them."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts += [
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + data
        + b"\r\n"
        for filename, data in files
    ]
    parts.append(f"--{boundary}--\r\n".encode())
    return Multipart(b"".join(parts), f"multipart/form-data; boundary={boundary}")


class HttpError(RuntimeError):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:500]!r}")
        self.status = status


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    used_at: float


class Client:
    """Keep-alive HTTP/1.1 for `Content-Length` answers, a request per connection at a time."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or url.hostname is None:
            raise ValueError(f"an http:// URL is needed, not {base_url!r}")
        self.host, self.port, self.prefix = url.hostname, url.port or 80, url.path.rstrip("/")
        self.idle: list[_Connection] = []

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def get(self, path: str) -> bytes:
        return (await self._request(b"GET", path, b"", None))[0]

    async def post(self, path: str, form: Multipart) -> bytes:
        """The response body; an error status raises `HttpError`."""
        return (await self.post_with_headers(path, form))[0]

    async def post_with_headers(self, path: str, form: Multipart) -> tuple[bytes, dict[str, str]]:
        """The response body and headers (names in lower case)."""
        return await self._request(b"POST", path, form.body, form.content_type)

    async def close(self) -> None:
        while self.idle:
            self.idle.pop().writer.close()

    async def _request(
        self, method: bytes, path: str, body: bytes, content_type: str | None
    ) -> tuple[bytes, dict[str, str]]:
        connection = await self._connection()
        head = [
            method + b" " + (self.prefix + path).encode() + b" HTTP/1.1",
            f"Host: {self.host}:{self.port}".encode(),
            b"Content-Length: " + str(len(body)).encode(),
        ]
        if content_type is not None:
            head.append(b"Content-Type: " + content_type.encode())
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                connection.writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
                status, headers = _parse_head(await connection.reader.readuntil(b"\r\n\r\n"))
                if "content-length" not in headers:
                    raise RuntimeError(f"{method.decode()} {path}: no Content-Length in the answer")
                content = await connection.reader.readexactly(int(headers["content-length"]))
        except BaseException:
            connection.writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            connection.writer.close()
        else:
            connection.used_at = time.monotonic()
            self.idle.append(connection)
        if status >= 400:
            raise HttpError(status, content)
        return content, headers

    async def _connection(self) -> _Connection:
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()
            if now - connection.used_at < IDLE_REUSE_S and not connection.reader.at_eof():
                return connection
            connection.writer.close()
        return _Connection(*await asyncio.open_connection(self.host, self.port), now)


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in lines if line)
    headers = {name.strip().lower(): value.strip() for name, _, value in fields}
    return int(status_line.split(" ", 2)[1]), headers
