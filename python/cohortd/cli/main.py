"""The ``cohortd`` console script: argument parsing, dispatch and error reporting.

Each command group lives in its own module (``data``, ``query``, ``cohort``,
``membership``, ``watch``, ``serve``) and registers its subcommands here.  Every error is
reported as one line on standard error with a non-zero exit status: 1 for a
failed operation, 2 for a bad command line; a definition that does not parse
also shows the offending line with a caret under the column.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cohortd import __version__
from cohortd.cli import (
    analysis,
    audiences,
    calendar,
    cohort,
    data,
    membership,
    migration,
    personas,
    query,
    schema,
    serve,
    users,
    verify,
    watch,
)
from cohortd.cli._common import UsageError, err_console
from cohortd.errors import CohortError, ParseError


def build_parser() -> argparse.ArgumentParser:
    """The full command tree (also used by tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="cohortd",
        description="Behavioural cohort engine: ingest events, define cohorts, ask who is in them.",
    )
    parser.add_argument("--version", action="version", version=f"cohortd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data.register(sub)
    query.register(sub)
    cohort.register(sub)
    membership.register(sub)
    watch.register(sub)
    serve.register(sub)
    audiences.register(sub)
    migration.register(sub)
    personas.register(sub)
    analysis.register(sub)
    schema.register(sub)
    verify.register(sub)
    users.register(sub)
    calendar.register(sub)
    return parser


def _error(message: str) -> None:
    sys.stderr.write(f"cohortd: error: {message}\n")


def _parse_error(exc: ParseError, source: str | None) -> None:
    _error(str(exc))
    if not source:
        return
    lines = source.splitlines()
    if 1 <= exc.line <= len(lines):
        line = lines[exc.line - 1]
        sys.stderr.write(f"  {line}\n  {' ' * max(exc.column - 1, 0)}^\n")


def _remote_error(exc: BaseException) -> str | None:
    """A one-line message for a gRPC error that reached us unconverted."""
    try:
        import grpc
    except ImportError:  # pragma: no cover - grpcio is a dependency
        return None
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ParseError as exc:
        _parse_error(exc, getattr(args, "source", None))
        return 1
    except UsageError as exc:
        _error(str(exc))
        return 2
    except CohortError as exc:
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `cohortd members ... | head`
        sys.stderr.close()
        return 0
    except Exception as exc:
        msg = _remote_error(exc)
        if msg is None:
            raise
        _error(msg)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["build_parser", "err_console", "main"]
