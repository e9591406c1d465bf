"""Errors a caller can act on.

``ApiError`` is raised by a real check (no key, wrong role, unknown order, refused step) and
answers ``{"detail": "...", **extra}``. Request validation errors keep FastAPI's 422 list under
``detail`` and add ``message``, one readable line per problem naming where it is. There is no
catch-all handler: anything else is a bug and stays a 500 — except a database that cannot be
reached (refused, reset, or a connection lost mid-request), which is the caller's cue to
retry: 503 with Retry-After.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from logs import get_logger

log = get_logger(__name__)
DATABASE_RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    def __init__(self, status_code: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers
        self.extra = extra


def _safe(text: Any) -> Any:
    """Text that UTF-8 can encode (a body may carry unpaired surrogates into a message)."""
    if isinstance(text, str):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    loc = [_safe(p) for p in error.get("loc", ())]
    msg = _safe(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        reason = _safe((error.get("ctx") or {}).get("error", ""))
        msg = f"malformed JSON at character {loc[-1] if len(loc) > 1 else '?'}: {reason}; send a valid JSON document"
        loc = ["body"]
    elif error.get("type") == "model_attributes_type" and loc == ["body"]:
        msg = "the body must be a JSON object; send it with Content-Type: application/json"
    elif error.get("type") == "missing" and loc == ["body"]:
        msg = "a JSON body is required; send it with Content-Type: application/json"
    return {"loc": loc, "msg": msg, "type": error.get("type", "value_error")}


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [_describe(e) for e in exc.errors()]
    message = "; ".join(f"{'.'.join(str(p) for p in p_['loc'])}: {p_['msg']}" for p_ in problems)
    return JSONResponse(status_code=422, content={"detail": problems, "message": message})


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(status_code=exc.status_code, content={"detail": _safe(exc.detail), **exc.extra},
                        headers=exc.headers)


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DBAPIError) and not isinstance(exc, (OperationalError, InterfaceError)) \
            and not exc.connection_invalidated:
        raise exc  # a real database error (a constraint, bad SQL): a bug, so a 500
    log.warning("database unreachable", error=str(exc)[:300])
    return JSONResponse(status_code=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}, content={
        "detail": "the database is not reachable right now, so the request was not carried out (any change it "
                  "began was rolled back); repeat it in a few seconds — with the same Idempotency-Key for POST /orders"})


# What a 422 really carries: FastAPI's list of problems (with ``message``, one readable line)
# for a request that does not parse, or one ``detail`` sentence from a business check (unknown
# SKU, an order that does not exist). The generated schema knows only the first.
UNPROCESSABLE_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"anyOf": [
            {"type": "string", "description": "What was wrong and how to fix it"},
            {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"},
             "description": "Each problem with where it is (loc), what is wrong (msg) and its type"},
        ]},
        "message": {"type": "string", "description": "The problems in one readable line"},
    },
}


def _document_unprocessable(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = UNPROCESSABLE_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    _document_unprocessable(app)
    # A refused or reset connection surfaces as the driver's ConnectionError (asyncpg) or as
    # SQLAlchemy's wrapper of it.
    for unreachable in (ConnectionError, DBAPIError):
        app.add_exception_handler(unreachable, _database_unavailable)
