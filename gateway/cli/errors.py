"""The CLI's one error boundary: everyday mistakes become one line saying what happened and
what to do, with exit 2 for usage errors and 1 for failures. `--debug` shows tracebacks."""

from __future__ import annotations

from typing import Any

import httpx
import typer
from typer._click.core import Context
from typer.core import TyperGroup

USAGE = 2
FAILURE = 1
INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class CliError(Exception):
    """A problem the user can act on: `message`, then what to do (`hint`)."""

    exit_code = FAILURE

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint

    def line(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


class UsageProblem(CliError):
    """The command line itself is wrong (a bad URL, JSON that does not parse, a folder
    where a file is needed): nothing was sent."""

    exit_code = USAGE


class ApiError(RuntimeError):
    """The gateway answered an error (either transport): its status and `code` string."""

    def __init__(self, status: int | str, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Unreachable(CliError):
    def __init__(self, where: str) -> None:
        super().__init__(
            f"cannot reach the gateway at {where}",
            "is the stack running? Start it with `make run` (or point --url / "
            "PIC_SEARCH_URL at a running gateway)",
        )


_UNAUTHENTICATED = {401, "UNAUTHENTICATED"}
_UNAVAILABLE = {503, "UNAVAILABLE"}


def describe_api_error(exc: ApiError) -> CliError:
    """What the gateway said, and what to do about it where that is known."""
    said = f"the gateway answered {exc.code}: {exc.message}".rstrip(": ")
    if exc.status in _UNAUTHENTICATED:
        return CliError(said, "set PIC_SEARCH_API_KEY to one of the gateway's API keys")
    if exc.status in _UNAVAILABLE:
        return CliError(said, "the service is not ready or a dependency is down; retry later")
    if exc.code == "unknown_model":
        return CliError(said, "see `pic-search models list`")
    return CliError(said)


def describe(exc: BaseException) -> CliError | None:
    """The one-line form of an everyday failure; None for bugs (they keep their traceback)."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ApiError):
        return describe_api_error(exc)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return Unreachable(str(exc.request.url.copy_with(path="/", query=None)).rstrip("/"))
    if isinstance(exc, httpx.TimeoutException):
        return CliError(f"the gateway did not answer in time ({exc})", "retry later")
    if isinstance(exc, httpx.RemoteProtocolError):
        return CliError(f"the gateway closed the connection ({exc})", "retry later")
    if isinstance(exc, FileNotFoundError):
        return UsageProblem(f"no such file: {exc.filename}")
    if isinstance(exc, IsADirectoryError):
        return UsageProblem(f"{exc.filename} is a folder", "give a file")
    if isinstance(exc, PermissionError):
        return CliError(f"cannot read {exc.filename}: permission denied")
    return None


class ErrorBoundary(TyperGroup):
    """Wraps every command (nested groups included): known failures print one line on
    stderr and exit with their code; anything else (typer's own Exit and usage errors
    included) propagates unchanged."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if debugging(ctx):
                raise
            typer.echo("interrupted", err=True)
            raise typer.Exit(INTERRUPTED) from None
        except Exception as exc:
            if debugging(ctx):
                raise
            problem = describe(exc)
            if problem is None:
                raise
            typer.echo(f"error: {problem.line()}", err=True)
            raise typer.Exit(problem.exit_code) from None


def debugging(ctx: Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("debug"))
