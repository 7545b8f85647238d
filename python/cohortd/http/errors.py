"""Errors of the HTTP API: the gRPC status of ``server/errors.py``, as JSON.

A domain error gets the status code and message that the gRPC API gives for
it (``status_for``, the one error table), answered with the HTTP status
Google's API guidelines pair with that code, as::

    {"error": {"code": "INVALID_ARGUMENT", "message": "line 2, column 7: ...",
               "line": 2, "column": 7, "expected": "..."}}

(``line``/``column``/``expected`` only for parse errors).  Malformed requests
(FastAPI's validation) are INVALID_ARGUMENT too; anything unexpected is logged
and answered INTERNAL without internals, like the gRPC server does.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cohortd.errors import CohortError, ParseError
from cohortd.server.errors import status_for

__all__ = ["HTTP_STATUS", "error_body", "install_error_handlers"]

log = logging.getLogger("cohortd.http")

# google.rpc.Code -> HTTP status, as in Google's API design guide (code.proto).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
_BY_NAME = {code.name: code for code in HTTP_STATUS}
_FROM_HTTP = {404: grpc.StatusCode.NOT_FOUND, 405: grpc.StatusCode.UNIMPLEMENTED}


def error_body(code: grpc.StatusCode, message: str, exc: BaseException | None = None) -> dict[str, Any]:
    """The JSON body of an error answer."""
    err: dict[str, Any] = {"code": code.name, "message": message}
    if isinstance(exc, ParseError):
        err.update(line=exc.line, column=exc.column)
        if exc.expected:
            err["expected"] = exc.expected
    return {"error": err}


def _answer(code: grpc.StatusCode, message: str, exc: BaseException | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, exc), status_code=HTTP_STATUS[code])


def domain_status(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """(code, message) of any exception, the way the gRPC server would answer it."""
    mapped = status_for(exc)
    if mapped is None:
        return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__})"
    return mapped


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception leaving a handler through the one table."""

    @app.exception_handler(CohortError)
    async def _domain_error(_request: Request, exc: CohortError) -> JSONResponse:
        code, message = domain_status(exc)
        if code == grpc.StatusCode.INTERNAL:
            log.error("internal error", exc_info=exc)
        return _answer(code, message, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid")))
        return _answer(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _FROM_HTTP.get(exc.status_code, grpc.StatusCode.INVALID_ARGUMENT)
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return _answer(grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__})")


def code_named(name: str) -> grpc.StatusCode:
    """The status code of its name (``"NOT_FOUND"``)."""
    return _BY_NAME[name]
