"""The server factory: servicer + health + reflection + interceptors, and ``serve``.

Threading model: grpc.aio on one event-loop thread, with synchronous
handlers run on two thread pools (``server/dispatch.py``): cheap reads
(IsMember, CheckMembership, catalog reads) on their own pool, so they never
wait behind evaluations; everything else on the work pool with admission
control.  Watch streams and health are coroutines, so an idle watcher holds
no thread (``benchmarks/hostile_bench.py`` measures IsMember latency with slow
Evaluates and hundreds of idle watchers running).  The earlier synchronous
server measured level with aio on unary calls at concurrency 1-8 on the
2-core machine, but gave every Watch stream a thread of its own: eight idle
watchers made the server unresponsive.

Health: ``""`` and every service name are SERVING while the server runs; each
project also has the name ``cohortd.v1.Cohortd/<project>``, NOT_SERVING while
the project opens (WAL replay, re-tracking its cohorts) and SERVING once open,
so a load balancer can tell "up" from "this project is ready".
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import _async as aio_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cohortd.errors import InvalidArgumentError, ListenError
from cohortd.server.analysis_servicer import AnalysisServicer
from cohortd.server.audiences import AUDIENCES_SERVICE, AudiencesServicer
from cohortd.server.auth import AuthInterceptor, load_keys
from cohortd.server.calendar import CALENDAR_SERVICE, CalendarServicer
from cohortd.server.dispatch import Dispatcher
from cohortd.server.errors import wrap_errors
from cohortd.server.governance import GOVERNANCE_SERVICE, GovernanceServicer
from cohortd.server.identity import IDENTITY_SERVICE, IdentityServicer
from cohortd.server.limits import Limits
from cohortd.server.migration import MIGRATION_SERVICE, MigrationServicer
from cohortd.server.personas import PERSONAS_SERVICE, PersonasServicer
from cohortd.server.projects import DEFAULT_PROJECT
from cohortd.server.schema_servicer import DATA_CATALOG_SERVICE, DataCatalogServicer
from cohortd.server.servicer import CohortdServicer
from cohortd.server.storage_servicer import STORAGE_SERVICE, StorageServicer
from cohortd.service import Workspace
from cohortd.v1 import (
    analysis_pb2,
    analysis_pb2_grpc,
    audiences_pb2_grpc,
    calendar_pb2_grpc,
    cohortd_pb2,
    cohortd_pb2_grpc,
    governance_pb2_grpc,
    identity_pb2_grpc,
    migration_pb2_grpc,
    personas_pb2_grpc,
    schema_pb2_grpc,
    storage_pb2_grpc,
)

__all__ = [
    "DEFAULT_CHEAP_WORKERS",
    "DEFAULT_GRACE_S",
    "DEFAULT_WORKERS",
    "CohortdServer",
    "build_server",
    "serve",
]

log = logging.getLogger("cohortd.server")

DEFAULT_WORKERS = 8
"""Threads of the work pool (evaluations, ingest, other services); more only add GIL contention."""

DEFAULT_CHEAP_WORKERS = 4
"""Threads of the cheap-read pool (IsMember, CheckMembership, catalog reads, Watch's short steps)."""

DEFAULT_GRACE_S = 10.0
"""How long a shutdown lets in-flight calls finish before cancelling them."""

SERVICE_NAME = cohortd_pb2.DESCRIPTOR.services_by_name["Cohortd"].full_name
ANALYSIS_SERVICE_NAME = analysis_pb2.DESCRIPTOR.services_by_name["Analysis"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def project_health_name(project: str) -> str:
    """The health service name of one project (NOT_SERVING while it opens)."""
    return f"{SERVICE_NAME}/{project}"


class _LoopThread:
    """An asyncio loop running on its own daemon thread; the server lives on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="cohortd-grpc-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


@dataclass
class CohortdServer:
    """A built (not yet started) server and the port it is bound to."""

    server: grpc.aio.Server
    port: int
    host: str
    health: aio_health.HealthServicer
    servicer: CohortdServicer
    workspace: Workspace
    pools: tuple[ThreadPoolExecutor, ...]
    _loop: _LoopThread
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self._loop.run(self.server.start())
        self.workspace.on_loading.append(self._project_health)

    def _project_health(self, project: str, loading: bool) -> None:
        """Workspace listener: a project's health name follows its opening (any thread)."""
        status = NOT_SERVING if loading else SERVING
        if not self._stopped.is_set():
            asyncio.run_coroutine_threadsafe(
                self.health.set(project_health_name(project), status), self._loop.loop
            )

    def stop(self, grace: float | None = DEFAULT_GRACE_S) -> None:
        """Report NOT_SERVING, stop accepting calls, let running ones finish for ``grace`` seconds."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._project_health in self.workspace.on_loading:
            self.workspace.on_loading.remove(self._project_health)
        self._loop.run(self.health.enter_graceful_shutdown())
        self.servicer.shutdown()  # Watch streams end now (UNAVAILABLE) instead of using up the grace
        self._loop.run(self.server.stop(grace))
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self._loop.close()

    def wait(self, timeout: float | None = None) -> bool:
        if self._stopped.is_set():
            return True
        try:
            return self._loop.run(self.server.wait_for_termination(timeout))
        except RuntimeError:  # the loop was stopped meanwhile
            return True


def _split_listen(listen: str) -> str:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgumentError(f"listen address {listen!r} must be HOST:PORT")
    return host.strip("[]")


def build_server(
    workspace: Workspace,
    listen: str,
    *,
    auth_keys: str | Path | Mapping[str, frozenset[str] | set[str] | list[str]] | None = None,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    max_workers: int = DEFAULT_WORKERS,
    cheap_workers: int = DEFAULT_CHEAP_WORKERS,
    limits: Limits | None = None,
) -> CohortdServer:
    """Build the cohortd gRPC server over ``workspace``, bound to ``listen`` (port 0: any free port).

    ``auth_keys``: a keys file path or a mapping of API key to projects (see
    ``server/auth.py``); None disables authentication.  ``tls_cert`` and
    ``tls_key`` (PEM files) turn on TLS; both or neither.
    """
    limits = limits or Limits()
    if (tls_cert is None) != (tls_key is None):
        raise InvalidArgumentError("TLS needs both a certificate and a key")
    keys = None
    if auth_keys is not None:
        keys = load_keys(auth_keys) if isinstance(auth_keys, str | Path) else auth_keys
    work = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cohortd-work")
    cheap = ThreadPoolExecutor(max_workers=cheap_workers, thread_name_prefix="cohortd-read")
    loop = _LoopThread()
    try:
        return loop.run(_build(workspace, listen, keys, tls_cert, tls_key, limits, work, cheap, loop))
    except BaseException:
        loop.close()
        work.shutdown()
        cheap.shutdown()
        raise


_Wrap = Callable[[grpc.RpcMethodHandler, str], Any]


class _GenericHandlersOnly:
    """The server as the generated ``add_*Servicer_to_server`` functions see it: each service's
    generic handler only, never its registered-method handlers.  grpc.aio keeps one pending
    request per registered method and, after every call, waits on all of them again
    (``asyncio.wait`` over ~56 tasks: ~150 us of the event loop per call); a generic handler is
    one pending request.  Each method's handler is wrapped once (errors, dispatch) and cached:
    as server interceptors the same wrappers cost two coroutines per call."""

    def __init__(self, server: grpc.aio.Server, wrap: _Wrap) -> None:
        self._server = server
        self._wrap = wrap

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(tuple(_Wrapped(h, self._wrap) for h in handlers))

    def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
        """Left out on purpose (see the class docstring)."""


class _Wrapped(grpc.GenericRpcHandler):
    """One service's generic handler with each method's handler wrapped once, on first use."""

    def __init__(self, inner: grpc.GenericRpcHandler, wrap: _Wrap) -> None:
        self._inner = inner
        self._wrap = wrap
        self._cache: dict[str, Any] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        method = handler_call_details.method
        cached = self._cache.get(method)
        if cached is None:
            handler = self._inner.service(handler_call_details)
            if handler is None:
                return None
            cached = self._cache[method] = self._wrap(handler, method)
        return cached


async def _build(
    workspace: Workspace,
    listen: str,
    keys: Mapping[str, Any] | None,
    tls_cert: str | Path | None,
    tls_key: str | Path | None,
    limits: Limits,
    work: ThreadPoolExecutor,
    cheap: ThreadPoolExecutor,
    loop: _LoopThread,
) -> CohortdServer:
    """The server, built on its loop (grpc.aio binds a server to the loop it is made on)."""
    interceptors: list[grpc.aio.ServerInterceptor] = list(getattr(workspace, "server_interceptors", ()))
    if keys is not None:
        interceptors.append(AuthInterceptor(keys))
    servicer = CohortdServicer(workspace, limits)
    servicer.blocking = cheap
    inline = servicer.inline_handlers()
    dispatcher = Dispatcher(cheap, work, limits.max_pending_calls, limits.query_memory_bytes, inline)
    server = grpc.aio.server(
        migration_thread_pool=work,
        interceptors=interceptors,
        # one server per port: never share a port with a stale server (SO_REUSEPORT)
        options=[*limits.grpc_options(), ("grpc.so_reuseport", 0)],
    )
    services = _GenericHandlersOnly(server, lambda h, method: wrap_errors(dispatcher.wrap(h, method), method))
    cohortd_pb2_grpc.add_CohortdServicer_to_server(servicer, services)
    audiences_pb2_grpc.add_AudiencesServicer_to_server(AudiencesServicer(workspace, limits), services)
    personas_pb2_grpc.add_PersonasServicer_to_server(PersonasServicer(workspace), services)
    analysis_pb2_grpc.add_AnalysisServicer_to_server(AnalysisServicer(workspace), services)
    schema_pb2_grpc.add_DataCatalogServicer_to_server(DataCatalogServicer(workspace), services)
    migration_pb2_grpc.add_MigrationServicer_to_server(MigrationServicer(workspace), services)
    storage_pb2_grpc.add_StorageServicer_to_server(StorageServicer(workspace), services)
    governance_pb2_grpc.add_GovernanceServicer_to_server(GovernanceServicer(workspace), services)
    identity_pb2_grpc.add_IdentityServicer_to_server(IdentityServicer(workspace), services)
    calendar_pb2_grpc.add_CalendarServicer_to_server(CalendarServicer(workspace), services)
    health_servicer = aio_health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, services)
    for name in ("", SERVICE_NAME, AUDIENCES_SERVICE, PERSONAS_SERVICE, ANALYSIS_SERVICE_NAME,
                 DATA_CATALOG_SERVICE, MIGRATION_SERVICE, STORAGE_SERVICE, GOVERNANCE_SERVICE,
                 IDENTITY_SERVICE, CALENDAR_SERVICE):  # fmt: skip
        await health_servicer.set(name, SERVING)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            AUDIENCES_SERVICE,
            PERSONAS_SERVICE,
            ANALYSIS_SERVICE_NAME,
            DATA_CATALOG_SERVICE,
            MIGRATION_SERVICE,
            STORAGE_SERVICE,
            GOVERNANCE_SERVICE,
            IDENTITY_SERVICE,
            CALENDAR_SERVICE,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,  # its one method stays registered: reflection checks for a grpc.aio.Server
    )
    if tls_cert is not None and tls_key is not None:
        creds = grpc.ssl_server_credentials([(Path(tls_key).read_bytes(), Path(tls_cert).read_bytes())])
        bind = lambda: server.add_secure_port(listen, creds)  # noqa: E731
    else:
        bind = lambda: server.add_insecure_port(listen)  # noqa: E731
    try:
        port = bind()
    except RuntimeError:  # grpc's "Failed to bind to address"
        port = 0
    if port == 0:
        raise ListenError(f"cannot listen on {listen}: the address is in use or not available here")
    host = _split_listen(listen)
    return CohortdServer(server, port, host, health_servicer, servicer, workspace, (work, cheap), loop)


def _open_in_background(workspace: Workspace) -> None:
    """Open the projects with audiences (they deliver without waiting for a request), each on its
    own thread: projects open independently, and health tells when each is ready."""
    from cohortd.audiences.store import has_audiences

    def open_one(name: str) -> None:
        try:
            workspace.project(name)
        except Exception as exc:  # reported; requests to it will see the error too
            log.error("project %s did not open: %s", name, exc)

    for name in workspace.project_names():
        if not has_audiences(workspace.data_dir / "projects" / name / "audiences.sqlite"):
            continue  # opened on first use
        threading.Thread(target=open_one, args=(name,), name=f"cohortd-open-{name}", daemon=True).start()


def serve(
    workspace_dir: str | Path,
    listen: str = "127.0.0.1:50051",
    auth_keys_path: str | Path | None = None,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    max_workers: int = DEFAULT_WORKERS,
    grace: float = DEFAULT_GRACE_S,
    limits: Limits | None = None,
    http: str | None = None,
    max_active_cohorts: int | None = None,
    cluster: tuple[str, int] | None = None,
) -> None:
    """Serve a data directory until SIGTERM or SIGINT, then shut down gracefully.

    ``cluster`` (Ray address or "local", shard count) serves the projects
    through shard actors (``cohortd.cluster``); the API is the same.

    ``http`` (HOST:PORT) also serves the HTTP/JSON API and the console
    (``cohortd.http``) from this process, over the same workspace and keys;
    it prints ``cohortd: console on http://HOST:PORT/console/``.

    On a signal: health turns NOT_SERVING, no new calls are accepted, running
    calls get ``grace`` seconds to finish, then the workspace is closed (which
    flushes the write-ahead log).  Prints ``cohortd: serving DIR on HOST:PORT``
    to stderr once listening (with the real port when ``listen`` ends in ``:0``).
    """
    if cluster is not None:
        from cohortd.cluster.router import ClusterWorkspace

        workspace: Any = ClusterWorkspace(
            workspace_dir,
            cluster[1],
            cluster[0],
            max_active_cohorts=max_active_cohorts,
            deliver_audiences=True,
        )
    else:
        workspace = Workspace(workspace_dir, deliver_audiences=True, max_active_cohorts=max_active_cohorts)
    try:
        srv = build_server(
            workspace,
            listen,
            auth_keys=auth_keys_path,
            tls_cert=tls_cert,
            tls_key=tls_key,
            max_workers=max_workers,
            limits=limits,
        )
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda signum, frame: stop.set())
        web = None
        if http is not None:
            from cohortd.http import HttpServer

            keys = load_keys(auth_keys_path) if auth_keys_path is not None else None
            web = HttpServer(workspace, http, keys, tls_cert, tls_key)
        srv.start()
        if not workspace.project_names():  # a new data directory: serving it is its `cohortd init`
            workspace.project(DEFAULT_PROJECT, create=True)  # after start: health hears it open
        _open_in_background(workspace)
        if web is not None:
            web.start()
            print(f"cohortd: console on {web.url}/console/", file=sys.stderr, flush=True)
        tls = " (TLS)" if tls_cert else ""
        auth = " (API keys)" if auth_keys_path else ""
        where = f"{workspace.data_dir} on {srv.address}{tls}{auth}"
        print(f"cohortd: serving {where}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):  # wake up regularly so signals are handled promptly
            pass
        print(f"cohortd: shutting down (grace {grace:g}s)", file=sys.stderr, flush=True)
        if web is not None:
            web.stop()
        srv.stop(grace)
    finally:
        workspace.close()
    print("cohortd: stopped", file=sys.stderr, flush=True)
