"""Shared plumbing of the CLI: target selection (embedded or remote), output, times.

Every command that reads or changes cohorts talks to a :class:`Backend`, which
is either the embedded service layer over ``--data DIR`` or the gRPC SDK over
``--server HOST:PORT``; both return the same plain dictionaries so one set of
printers serves both and ``--json`` output is identical.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cohortd.cli.backend import Backend, EmbeddedBackend, RemoteBackend
from cohortd.errors import UsageError as UsageError  # re-exported: CLI modules raise it
from cohortd.times import parse_as_of

# Tables are not wrapped at 80 columns when output goes to a pipe or file.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")


def add_data(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--data", metavar="DIR", required=required, help="workspace data directory (embedded)")
    p.add_argument("--project", default="default", help="project inside the workspace (default: default)")


def add_target(p: argparse.ArgumentParser) -> None:
    """--data DIR (embedded) or --server HOST:PORT (remote), plus project and API key."""
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--data", metavar="DIR", help="workspace data directory (embedded, no server)")
    g.add_argument("--server", metavar="HOST:PORT", help="a running cohortd server")
    p.add_argument("--project", default="default", help="project (default: default)")
    p.add_argument("--api-key", metavar="KEY", default=None, help="API key for --server (or COHORTD_API_KEY)")
    p.add_argument("--tls-ca", metavar="FILE", default=None, help="CA certificate (PEM) of a TLS --server")


def add_as_of(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", metavar="ISO", default=None, help="evaluate as of this instant (default: now)")


def as_of_ms(args: argparse.Namespace) -> int | None:
    return parse_as_of(getattr(args, "as_of", None))


@contextmanager
def backend(args: argparse.Namespace) -> Iterator[Backend]:
    """Open the backend named by --data / --server for the duration of one command.

    Nothing is created: a missing data directory or project is an error that says so
    (and names the projects that exist); ``cohortd init`` or an ingest creates them.
    """
    if getattr(args, "server", None):
        import os

        key = args.api_key or os.environ.get("COHORTD_API_KEY")
        b: Backend = RemoteBackend(args.server, key, args.project, args.tls_ca)
    else:
        b = EmbeddedBackend(args.data, args.project)
    try:
        yield b
    finally:
        b.close()


def read_definition(text: str) -> str:
    """The definition argument; ``-`` reads it from standard input."""
    return sys.stdin.read() if text == "-" else text


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None, right: Sequence[str] = ()
) -> None:
    """Print an aligned table (numbers in ``right`` columns are right-aligned)."""
    t = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left", overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console.print(t)


def print_warnings(warnings: Sequence[dict[str, Any]]) -> None:
    for w in warnings:
        err_console.print(f"[yellow]warning[/] {escape('[' + w['code'] + ']')} {escape(w['message'])}")
