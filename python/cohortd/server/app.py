"""The server factory: servicer + health + reflection + interceptors, and ``serve``.

Threading model: grpcio's synchronous server on a thread pool, chosen by
measurement (``benchmarks/load_bench.py`` runs a bare echo service, same
messages and a constant answer, on both models in every run).  On the 2-core
dev machine, with client and server sharing the cores: at concurrency 1 and 8
the two are level (sync 1.7k / 3.6k calls/s, aio 1.8k / 3.5k; a first
standalone probe had sync ahead at c=8, 4.8k vs 3.2k) and sync spends about
the same or less server CPU per call; aio pulls ahead only at concurrency 64
(~2x) and on 1,000-check responses.  cohortd's handlers are blocking (SQLite
catalog, engine evaluation, Rust kernels that release the GIL), so under
grpc.aio every non-trivial call would need a hop to a thread executor anyway,
which gives back the advantage; the sync pool keeps one straightforward model.
Revisit for Watch (issue 5), where many idle server streams favour asyncio:
today each Watch stream holds one pool thread, so ``max_workers`` bounds the
number of concurrent Watch subscribers plus other calls.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cohortd.server.analysis_servicer import AnalysisServicer
from cohortd.server.audiences import AUDIENCES_SERVICE, AudiencesServicer
from cohortd.server.auth import AuthInterceptor, load_keys
from cohortd.server.errors import ErrorInterceptor
from cohortd.server.governance import GOVERNANCE_SERVICE, GovernanceServicer
from cohortd.server.limits import Limits
from cohortd.server.migration import MIGRATION_SERVICE, MigrationServicer
from cohortd.server.personas import PERSONAS_SERVICE, PersonasServicer
from cohortd.server.schema_servicer import DATA_CATALOG_SERVICE, DataCatalogServicer
from cohortd.server.servicer import CohortdServicer
from cohortd.server.storage_servicer import STORAGE_SERVICE, StorageServicer
from cohortd.v1 import (
    analysis_pb2,
    analysis_pb2_grpc,
    audiences_pb2_grpc,
    cohortd_pb2,
    cohortd_pb2_grpc,
    governance_pb2_grpc,
    migration_pb2_grpc,
    personas_pb2_grpc,
    schema_pb2_grpc,
    storage_pb2_grpc,
)
from cohortd.workspace import Workspace

__all__ = ["DEFAULT_GRACE_S", "DEFAULT_WORKERS", "CohortdServer", "build_server", "serve"]

log = logging.getLogger("cohortd.server")

DEFAULT_WORKERS = 8
"""Handler threads.  More threads only add GIL contention for unary calls; each
server-streaming Members or Watch call and each IngestStream holds one while it runs."""

DEFAULT_GRACE_S = 10.0
"""How long a shutdown lets in-flight calls finish before cancelling them."""

SERVICE_NAME = cohortd_pb2.DESCRIPTOR.services_by_name["Cohortd"].full_name
ANALYSIS_SERVICE_NAME = analysis_pb2.DESCRIPTOR.services_by_name["Analysis"].full_name


@dataclass
class CohortdServer:
    """A built (not yet started) server and the port it is bound to."""

    server: grpc.Server
    port: int
    host: str
    health: health.HealthServicer
    servicer: CohortdServicer
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self.server.start()

    def stop(self, grace: float | None = DEFAULT_GRACE_S) -> None:
        """Report NOT_SERVING, stop accepting calls, let running ones finish for ``grace`` seconds."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.servicer.shutdown()  # Watch streams end now (UNAVAILABLE) instead of using up the grace
        self.server.stop(grace).wait()

    def wait(self, timeout: float | None = None) -> bool:
        return self.server.wait_for_termination(timeout)


def _split_listen(listen: str) -> str:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {listen!r} must be HOST:PORT")
    return host.strip("[]")


def build_server(
    workspace: Workspace,
    listen: str,
    *,
    auth_keys: str | Path | Mapping[str, frozenset[str] | set[str] | list[str]] | None = None,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    max_workers: int = DEFAULT_WORKERS,
    limits: Limits | None = None,
) -> CohortdServer:
    """Build the cohortd gRPC server over ``workspace``, bound to ``listen`` (port 0: any free port).

    ``auth_keys``: a keys file path or a mapping of API key to projects (see
    ``server/auth.py``); None disables authentication.  ``tls_cert`` and
    ``tls_key`` (PEM files) turn on TLS; both or neither.
    """
    limits = limits or Limits()
    interceptors: list[grpc.ServerInterceptor] = []
    if auth_keys is not None:
        keys = load_keys(auth_keys) if isinstance(auth_keys, str | Path) else auth_keys
        interceptors.append(AuthInterceptor(keys))
    interceptors.append(ErrorInterceptor())
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cohortd-rpc"),
        interceptors=interceptors,
        # one server per port: never share a port with a stale server (SO_REUSEPORT)
        options=[*limits.grpc_options(), ("grpc.so_reuseport", 0)],
    )
    servicer = CohortdServicer(workspace, limits)
    cohortd_pb2_grpc.add_CohortdServicer_to_server(servicer, server)
    audiences_pb2_grpc.add_AudiencesServicer_to_server(AudiencesServicer(workspace, limits), server)
    personas_pb2_grpc.add_PersonasServicer_to_server(PersonasServicer(workspace), server)
    analysis_pb2_grpc.add_AnalysisServicer_to_server(AnalysisServicer(workspace), server)
    schema_pb2_grpc.add_DataCatalogServicer_to_server(DataCatalogServicer(workspace), server)
    migration_pb2_grpc.add_MigrationServicer_to_server(MigrationServicer(workspace), server)
    storage_pb2_grpc.add_StorageServicer_to_server(StorageServicer(workspace), server)
    governance_pb2_grpc.add_GovernanceServicer_to_server(GovernanceServicer(workspace), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME, AUDIENCES_SERVICE, PERSONAS_SERVICE, ANALYSIS_SERVICE_NAME,
                 DATA_CATALOG_SERVICE, MIGRATION_SERVICE, STORAGE_SERVICE, GOVERNANCE_SERVICE):  # fmt: skip
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
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
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("TLS needs both a certificate and a key")
    if tls_cert is not None and tls_key is not None:
        creds = grpc.ssl_server_credentials([(Path(tls_key).read_bytes(), Path(tls_cert).read_bytes())])
        port = server.add_secure_port(listen, creds)
    else:
        port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"could not listen on {listen}")
    return CohortdServer(server, port, _split_listen(listen), health_servicer, servicer)


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
) -> None:
    """Serve a data directory until SIGTERM or SIGINT, then shut down gracefully.

    ``http`` (HOST:PORT) also serves the HTTP/JSON API and the console
    (``cohortd.http``) from this process, over the same workspace and keys;
    it prints ``cohortd: console on http://HOST:PORT/console/``.

    On a signal: health turns NOT_SERVING, no new calls are accepted, running
    calls get ``grace`` seconds to finish, then the workspace is closed (which
    flushes the write-ahead log).  Prints ``cohortd: serving DIR on HOST:PORT``
    to stderr once listening (with the real port when ``listen`` ends in ``:0``).
    """
    workspace = Workspace(workspace_dir, deliver_audiences=True, max_active_cohorts=max_active_cohorts)
    try:
        from cohortd.audiences.store import has_audiences

        for name in workspace.project_names():  # audiences deliver without waiting for a request
            if has_audiences(workspace.data_dir / "projects" / name / "audiences.sqlite"):
                workspace.project(name)
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
