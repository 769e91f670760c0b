"""Unknown query parameters and form fields are errors, not silently dropped.

A misspelt or unsupported parameter (`?modle=vgg16`, `?model=` where a route takes none)
would otherwise give a plausible answer to another question. JSON bodies get the same rule
from their models (`extra="forbid"`); this dependency covers what FastAPI reads itself."""

from __future__ import annotations

from fastapi import Request, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gateway.errors import ValidationError

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


async def reject_unknown_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return  # the web page and docs take whatever their own scripts add
    query, body = _declared(route.dependant)
    _refuse(set(request.query_params), query, "query parameter")
    if body and request.headers.get("content-type", "").startswith(_FORMS):
        form = await request.form()  # already parsed by FastAPI: this reads its cache
        _refuse(set(form.keys()), body, "form field")


def _declared(root: Dependant) -> tuple[set[str], set[str]]:
    """The query parameter and body field names a route and its dependencies take."""
    query: set[str] = set()
    body: set[str] = set()
    todo = [root]
    while todo:
        dependant = todo.pop()
        query.update(p.alias for p in dependant.query_params)
        # Form fields only: a JSON body's model forbids extra fields itself, and a form sent
        # to a JSON route is refused as the wrong body, not as unknown fields.
        body.update(p.alias for p in dependant.body_params if isinstance(p.field_info, params.Form))
        todo.extend(dependant.dependencies)
    return query, body


def _refuse(given: set[str], known: set[str], what: str) -> None:
    unknown = sorted(given - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise ValidationError(
            f"unknown {what}{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"this endpoint takes: {takes}",
            code="unknown_parameter",
        )
