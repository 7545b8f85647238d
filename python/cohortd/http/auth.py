"""Who is calling the HTTP API, and which projects they may see.

Two ways in, one set of keys (``server/auth.py``'s keys file, the same as gRPC):

- scripts send ``Authorization: Bearer <key>`` on every request;
- the console posts the key once to ``POST /api/session``; the server keeps
  the session (the projects the key may use and a CSRF token) in memory and
  hands back a random session id in a ``Secure; HttpOnly; SameSite=Strict``
  cookie, so page scripts never see the key or the id.

Cross-site request forgery: a request authenticated by the cookie that changes
anything (any method but GET/HEAD/OPTIONS) must carry the session's token in
``X-CSRF-Token`` (the console reads it from its page), and, when the browser
sends ``Origin``, that origin must be this server.  A bearer-key request needs
neither: a browser never adds that header by itself.

Without a keys file (``--auth-keys`` not given) every caller may use every
project, as on the gRPC side, and the console's login takes any key; a
browser's cross-origin request that changes anything is still refused.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import Request

from cohortd.errors import PermissionDeniedError, UnauthenticatedError
from cohortd.governance import AUTHOR
from cohortd.server.auth import ALL_PROJECTS, MISSING_KEY, UNKNOWN_KEY, digest, key_name, project_denied
from cohortd.service.workspace import VISIBLE_PROJECTS

__all__ = ["COOKIE", "CSRF_HEADER", "Access", "KeyRing", "Session", "Sessions"]

COOKIE = "cohortd_session"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL_S = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class KeyRing:
    """API key -> projects it may use; ``None`` keys means authentication is off."""

    def __init__(self, keys: Mapping[str, frozenset[str] | set[str] | list[str]] | None) -> None:
        self.enabled = keys is not None
        self._projects = {digest(k): frozenset(v) for k, v in (keys or {}).items()}
        self._names = {digest(k): key_name(k, v) for k, v in (keys or {}).items()}

    def lookup(self, key: str) -> tuple[frozenset[str], str]:
        """(projects ``key`` may use, its author name); UNAUTHENTICATED for an unknown key."""
        if not self.enabled:
            return frozenset({ALL_PROJECTS}), ""
        d = digest(key.strip())
        allowed = self._projects.get(d)
        if allowed is None:
            raise UnauthenticatedError(UNKNOWN_KEY)
        return allowed, self._names[d]


@dataclass(frozen=True)
class Session:
    """A logged-in console: what its key may use, and the token its page sends back."""

    projects: frozenset[str]
    author: str
    csrf_token: str
    expires_s: float


class Sessions:
    """Console sessions, in memory (a restart logs everyone out, which is fine for a console)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[bytes, Session] = {}

    def create(self, projects: frozenset[str], author: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(projects, author, secrets.token_urlsafe(32), time.time() + SESSION_TTL_S)
        with self._lock:
            now = time.time()
            self._by_id = {k: s for k, s in self._by_id.items() if s.expires_s > now}
            self._by_id[digest(sid)] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._by_id.get(digest(sid))
        if session is None or session.expires_s <= time.time():
            return None
        return session

    def drop(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._by_id.pop(digest(sid), None)


@dataclass(frozen=True)
class Access:
    """The projects the caller of one request may use."""

    projects: frozenset[str]
    session: Session | None
    author: str = ""

    def may_use(self, project: str) -> bool:
        return ALL_PROJECTS in self.projects or project in self.projects

    def check(self, project: str) -> None:
        """PERMISSION_DENIED unless this caller may use ``project``; for a key scoped to some
        projects, a missing-project error later in this call names only those."""
        if not self.may_use(project):
            raise PermissionDeniedError(project_denied(project))
        if ALL_PROJECTS not in self.projects:
            VISIBLE_PROJECTS.set(self.projects)

    def visible(self, names: list[str]) -> list[str]:
        """The subset of ``names`` this caller may see."""
        return [n for n in names if self.may_use(n)]


def same_origin(request: Request) -> bool:
    """Whether the request's ``Origin`` (when the browser sent one) is this server."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def authenticate(request: Request, keys: KeyRing, sessions: Sessions) -> Access:
    """The caller's access, from a bearer key or the session cookie (with CSRF checks)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise UnauthenticatedError(UNKNOWN_KEY)
        projects, author = keys.lookup(secret)
        return Access(projects, None, author)
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        if not keys.enabled:
            if request.method not in SAFE_METHODS and not same_origin(request):
                raise PermissionDeniedError("cross-origin request refused")
            return Access(frozenset({ALL_PROJECTS}), None)
        raise UnauthenticatedError(MISSING_KEY)
    if request.method not in SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(token.encode(), session.csrf_token.encode()) or not same_origin(request):
            raise PermissionDeniedError("missing or wrong CSRF token")
    return Access(session.projects, session, session.author)


@contextmanager
def authored(who: Access) -> Iterator[None]:
    """Catalog changes made inside are recorded with the caller's key name, as over gRPC."""
    token = AUTHOR.set(who.author)
    try:
        yield
    finally:
        AUTHOR.reset(token)
