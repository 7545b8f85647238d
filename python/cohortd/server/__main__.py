"""``python -m cohortd.server --data DIR [--listen HOST:PORT] ...``: the server without the CLI."""

from __future__ import annotations

import argparse

from cohortd.server.app import DEFAULT_GRACE_S, DEFAULT_WORKERS, serve
from cohortd.server.limits import Limits


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m cohortd.server", description=__doc__)
    p.add_argument("--data", required=True, help="data directory")
    p.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT (port 0: any free port)")
    p.add_argument("--auth-keys", help="JSON/TOML file mapping API key -> allowed projects")
    p.add_argument("--tls-cert", help="PEM certificate chain")
    p.add_argument("--tls-key", help="PEM private key")
    p.add_argument("--http", metavar="HOST:PORT", help="also serve the HTTP/JSON API and web console")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    p.add_argument("--grace", type=float, default=DEFAULT_GRACE_S)
    p.add_argument("--max-message-bytes", type=int, default=Limits.max_message_bytes)
    p.add_argument("--max-ingest-rows", type=int, default=Limits.max_ingest_rows)
    p.add_argument("--max-checks", type=int, default=Limits.max_checks)
    p.add_argument("--max-pending-calls", type=int, default=Limits.max_pending_calls)
    p.add_argument("--query-memory-mb", type=int, default=Limits.query_memory_bytes >> 20)
    p.add_argument("--max-properties-per-batch", type=int, default=Limits.max_properties_per_batch)
    p.add_argument("--max-properties-per-project", type=int, default=Limits.max_properties_per_project)
    p.add_argument(
        "--change-log-limit",
        type=int,
        default=None,
        metavar="USERS",
        help="user changes (entries + exits) kept per project for Watch/Changes "
        "(default 1,000,000); older versions get OUT_OF_RANGE (resynchronise)",
    )
    p.add_argument("--max-active-cohorts", type=int, default=None, metavar="N",
                   help="cap on non-archived cohorts per project (default: none)")  # fmt: skip
    p.add_argument(
        "--cluster",
        metavar="ray://ADDRESS|local",
        default=None,
        help="serve through shard actors on Ray (cohortd.cluster; pip install 'cohortd[ray]')",
    )
    p.add_argument("--shards", type=int, default=None, metavar="N", help="shard count with --cluster")
    a = p.parse_args(argv)
    if (a.cluster is None) != (a.shards is None):
        p.error("--cluster and --shards go together")
    if a.change_log_limit is not None and a.change_log_limit < 1:
        p.error("--change-log-limit must be at least 1")
    limits = Limits(
        max_message_bytes=a.max_message_bytes,
        max_ingest_rows=a.max_ingest_rows,
        max_checks=a.max_checks,
        max_pending_calls=a.max_pending_calls,
        query_memory_bytes=a.query_memory_mb << 20,
        max_properties_per_batch=a.max_properties_per_batch,
        max_properties_per_project=a.max_properties_per_project,
        change_log_users=a.change_log_limit,
    )
    serve(
        a.data, a.listen, a.auth_keys, a.tls_cert, a.tls_key, a.workers, a.grace, limits, http=a.http,
        max_active_cohorts=a.max_active_cohorts,
        cluster=None if a.cluster is None else (a.cluster, a.shards),
    )  # fmt: skip


if __name__ == "__main__":
    main()
