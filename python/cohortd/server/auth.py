"""API-key authentication and project authorisation.

Keys file (``--auth-keys FILE``), JSON or TOML, mapping each API key to the
projects it may use (``"*"`` means every project)::

    {"k-analytics": ["default", "growth"], "k-admin": ["*"]}

    # or TOML, top level or under [keys]
    [keys]
    k-analytics = ["default", "growth"]

A key may also be given a name, recorded as the author of every cohort
version made with it (``cohortd cohort history``)::

    {"k-alice": {"name": "alice", "projects": ["*"]}}

A key without a name is recorded as ``key <first 8 hex digits of its SHA-256>``
(never the key itself).

Clients send ``authorization: Bearer <key>``.  No or an unknown key gives
``UNAUTHENTICATED``; a known key used on a project it does not list gives
``PERMISSION_DENIED``.  The project is read from the request message itself
(every request has ``project``; empty means ``default``), for client streams
from every message.  The health and reflection services are open, so load
balancers and ``grpcurl`` work without a key.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from cohortd.errors import InvalidArgumentError
from cohortd.governance import AUTHOR
from cohortd.server.projects import DEFAULT_PROJECT
from cohortd.service.workspace import VISIBLE_PROJECTS

__all__ = [
    "ALL_PROJECTS",
    "MISSING_KEY",
    "UNKNOWN_KEY",
    "AuthInterceptor",
    "KeyProjects",
    "key_name",
    "load_keys",
    "project_denied",
]

ALL_PROJECTS = "*"
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# The messages of refused calls; the HTTP API (cohortd.http) answers with the same ones.
MISSING_KEY = "missing `authorization: Bearer <key>`"
UNKNOWN_KEY = "unknown API key"


def project_denied(project: str) -> str:
    """The PERMISSION_DENIED message for a key used on a project it does not list."""
    return f"this API key may not use project {project!r}"


class KeyProjects(frozenset[str]):
    """The projects of one key (a frozenset) with the key's name (None when the file gives none)."""

    name: str | None

    def __new__(cls, projects: Any = (), name: str | None = None) -> KeyProjects:
        out = super().__new__(cls, projects)
        out.name = name
        return out


def key_name(key: str, projects: Any = None) -> str:
    """The author name of a key: its name in the keys file, else ``key <digest prefix>``."""
    name = getattr(projects, "name", None)
    return name if name else f"key {hashlib.sha256(key.encode()).hexdigest()[:8]}"


def load_keys(path: str | Path) -> dict[str, frozenset[str]]:
    """Read a keys file (JSON, or TOML when it does not parse as JSON)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError(f"{path}: cannot read the keys file ({exc.strerror or exc})") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgumentError(f"{path}: neither JSON nor TOML ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("keys"), dict):
        data = data["keys"]
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{path}: expected a mapping of API key to a list of projects")
    keys: dict[str, frozenset[str]] = {}
    for key, projects in data.items():
        name = None
        if isinstance(projects, dict):
            name, projects = projects.get("name"), projects.get("projects", [])
            if name is not None and (not isinstance(name, str) or not name.strip()):
                raise InvalidArgumentError(f"{path}: key {key[:4]!r}...: name must be non-empty text")
        if isinstance(projects, str):
            projects = [projects]
        if not key or not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
            raise InvalidArgumentError(f"{path}: key {key[:4]!r}...: expected a list of project names")
        keys[key] = KeyProjects(projects, name)
    return keys


def digest(key: str) -> bytes:
    """SHA-256 of a key: keys are held and looked up as digests, never compared byte by byte."""
    return hashlib.sha256(key.encode()).digest()


def _deny(code: grpc.StatusCode, details: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    async def abort(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, details)

    async def abort_stream(_request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(code, details)
        yield  # pragma: no cover (abort raises)

    if handler.request_streaming and handler.response_streaming:
        return handler._replace(stream_stream=abort_stream)
    if handler.request_streaming:
        return handler._replace(stream_unary=abort)
    if handler.response_streaming:
        return handler._replace(unary_stream=abort_stream)
    return handler._replace(unary_unary=abort)


def _project(request: Any) -> str:
    return request.project or DEFAULT_PROJECT


def _scoped(handler: grpc.RpcMethodHandler, allowed: frozenset[str]) -> grpc.RpcMethodHandler:
    """The (async, see ``server/dispatch.py``) handler with a project check on every request message."""

    async def check(request: Any, context: grpc.aio.ServicerContext) -> None:
        project = _project(request)
        if project not in allowed:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, project_denied(project))
        VISIBLE_PROJECTS.set(allowed)  # reaches the handler (dispatch runs it in a copy of this context)

    field = next(
        f for f in ("unary_unary", "unary_stream", "stream_unary", "stream_stream") if getattr(handler, f)
    )
    inner = getattr(handler, field)
    if handler.request_streaming:

        def guarded(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async def each() -> AsyncIterator[Any]:
                async for request in requests:
                    await check(request, context)
                    yield request

            return each()

        if handler.response_streaming:

            async def checked_streams(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
                async for item in inner(guarded(requests, context), context):
                    yield item

            return handler._replace(stream_stream=checked_streams)

        async def checked_stream(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            return await inner(guarded(requests, context), context)

        return handler._replace(stream_unary=checked_stream)

    if handler.response_streaming:

        async def checked_responses(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await check(request, context)
            async for item in inner(request, context):
                yield item

        return handler._replace(unary_stream=checked_responses)

    async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await check(request, context)
        return await inner(request, context)

    return handler._replace(unary_unary=checked)


def _authored(handler: grpc.RpcMethodHandler, name: str) -> grpc.RpcMethodHandler:
    """A unary handler that runs with ``governance.AUTHOR`` set to the key's name (catalog changes).

    The dispatcher runs the synchronous handler in a copy of this context, so the name reaches it.
    """
    if handler.unary_unary is None:
        return handler
    inner = handler.unary_unary

    async def authored(request: Any, context: grpc.aio.ServicerContext) -> Any:
        token = AUTHOR.set(name)
        try:
            return await inner(request, context)
        finally:
            AUTHOR.reset(token)

    return handler._replace(unary_unary=authored)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks ``authorization: Bearer <key>`` against a key → projects mapping."""

    def __init__(self, keys: Mapping[str, frozenset[str] | set[str] | list[str]]) -> None:
        # keys are held as SHA-256 digests: lookups do not compare secrets byte by byte
        self._projects = {digest(k): frozenset(v) for k, v in keys.items()}
        self._names = {digest(k): key_name(k, v) for k, v in keys.items()}
        self._cache: dict[tuple[str, frozenset[str], str], grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        handler = await continuation(handler_call_details)
        if method.startswith(OPEN_SERVICES):
            return handler
        if handler is None:
            return None
        token = None
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                token = value
                break
        if token is None:
            return _deny(grpc.StatusCode.UNAUTHENTICATED, MISSING_KEY, handler)
        scheme, _, secret = token.partition(" ")
        hashed = digest(secret.strip())
        allowed = self._projects.get(hashed) if scheme.lower() == "bearer" else None
        if allowed is None:
            return _deny(grpc.StatusCode.UNAUTHENTICATED, UNKNOWN_KEY, handler)
        cache_key = (method, allowed, self._names[hashed])
        scoped = self._cache.get(cache_key)
        if scoped is None:
            if ALL_PROJECTS not in allowed:
                handler = _scoped(handler, allowed)
            scoped = self._cache[cache_key] = _authored(handler, self._names[hashed])
        return scoped
