"""The FastAPI application: JSON API under /api, console under /console, assets under /static."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from cohortd import __version__
from cohortd.errors import LoginRequired
from cohortd.http import api, api_analysis, api_know, api_personas, pages
from cohortd.http.auth import KeyRing
from cohortd.http.context import Context
from cohortd.http.errors import install_error_handlers
from cohortd.service import Workspace

__all__ = ["build_app"]

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    # every script, style and font comes from this server; nothing inline runs
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def build_app(
    workspace: Workspace, keys: Mapping[str, frozenset[str] | set[str] | list[str]] | None = None
) -> FastAPI:
    """The HTTP app over ``workspace``; ``keys`` as for the gRPC server (None: no authentication)."""
    app = FastAPI(
        title="cohortd HTTP API",
        version=__version__,
        description="The cohortd service over HTTP/JSON: same projects, keys, answers and errors as gRPC.",
        docs_url=None,  # the stock docs pages load scripts from a CDN
        redoc_url=None,
    )
    app.state.cohortd = Context(workspace, KeyRing(keys))
    install_error_handlers(app)

    @app.exception_handler(LoginRequired)  # more specific than the CohortError handler: it wins
    async def _login(_request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse("/console/login", status_code=303)

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    app.include_router(api.router)
    app.include_router(api_know.router)
    app.include_router(api_personas.router)
    app.include_router(api_analysis.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
