"""Run the HTTP app on uvicorn in a thread of the gRPC server's process.

``cohortd serve --http HOST:PORT`` serves both from one process over one
``Workspace``: the same open projects, data and keys.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from cohortd.errors import InvalidArgumentError
from cohortd.http.app import build_app
from cohortd.service import Workspace

__all__ = ["HttpServer"]

GRACE_S = 3.0


def _bind(address: str) -> socket.socket:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgumentError(f"HTTP address {address!r} must be HOST:PORT")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise OSError(f"could not listen on {address} for HTTP: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class HttpServer:
    """The console and HTTP API on a bound socket (port 0: any free port), served from a thread."""

    def __init__(
        self,
        workspace: Workspace,
        address: str,
        keys: Mapping[str, frozenset[str] | set[str] | list[str]] | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
    ) -> None:
        self.app = build_app(workspace, keys)
        self._sock = _bind(address)
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=int(GRACE_S),
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            lifespan="off",
        )
        self.scheme = "https" if tls_cert else "http"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="cohortd-http", daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End live streams, let running requests finish (a few seconds at most), stop."""
        self.app.state.cohortd.stopping.set()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(GRACE_S + 5)
        self._sock.close()
