"""``cohortd serve``: run the gRPC server over a workspace directory until SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path

from cohortd.cli._common import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the gRPC API over a data directory (until SIGTERM/SIGINT)")
    p.add_argument("--data", metavar="DIR", type=Path, required=True, help="workspace data directory")
    p.add_argument(
        "--listen", default="127.0.0.1:50051", help="address to listen on (default 127.0.0.1:50051)"
    )
    p.add_argument(
        "--auth-keys",
        type=Path,
        default=None,
        metavar="FILE",
        help="API keys and the projects each may use; without it, no authentication",
    )
    p.add_argument("--tls-cert", type=Path, default=None, metavar="FILE", help="PEM certificate chain")
    p.add_argument("--tls-key", type=Path, default=None, metavar="FILE", help="PEM private key")
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=None,
        help="also serve the HTTP/JSON API and the web console here (e.g. 127.0.0.1:8080)",
    )
    p.add_argument("--max-workers", type=int, default=None, help="request threads (default: server's choice)")
    p.add_argument(
        "--max-active-cohorts", type=int, default=None, metavar="N", help="cap on active cohorts per project"
    )
    p.add_argument(
        "--cluster",
        metavar="ray://ADDRESS|local",
        default=None,
        help="serve through shard actors on a Ray cluster (or a local one); needs --shards",
    )
    p.add_argument("--shards", type=int, default=None, metavar="N", help="number of shards with --cluster")
    p.set_defaults(func=cmd_serve)


def _check_free(listen: str) -> None:
    """Fail with one line (not grpc's log and a traceback) when ``listen`` cannot be bound."""
    import socket

    from cohortd.errors import ListenError

    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit() or int(port) == 0:
        return  # the server reports a malformed address or picks a free port itself
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError as exc:
            raise ListenError(f"cannot listen on {listen}: {exc.strerror or exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    for f in (args.auth_keys, args.tls_cert, args.tls_key):
        if f is not None and not f.is_file():
            raise UsageError(f"no such file: {f}")
    if args.http is not None:
        try:
            import fastapi  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError:
            raise UsageError("--http needs the console extra: pip install 'cohortd[console]'") from None
    if (args.cluster is None) != (args.shards is None):
        raise UsageError("--cluster and --shards go together")
    if args.cluster is not None:
        if args.shards < 1:
            raise UsageError("--shards must be at least 1")
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--cluster needs the ray extra: pip install 'cohortd[ray]'") from None
    _check_free(args.listen)
    if args.http is not None:
        _check_free(args.http)
    from cohortd.server import serve

    kwargs = {} if args.max_workers is None else {"max_workers": args.max_workers}
    serve(
        args.data,
        args.listen,
        auth_keys_path=args.auth_keys,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        http=args.http,
        max_active_cohorts=args.max_active_cohorts,
        cluster=None if args.cluster is None else (args.cluster, args.shards),
        **kwargs,
    )
    return 0
