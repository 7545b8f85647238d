"""Helpers for the HTTP/console tests: a real ``cohortd`` server with ``--http`` and its data.

No tests here.  The server is the gRPC test launcher's process
(``test_server_support.ServerProcess``) started with ``--http 127.0.0.1:0``;
the console's URL is read from the line it prints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cohortd.workspace import Workspace
from test_server_support import ServerProcess, saas_events, saas_users

KEYS = {"k-default": {"name": "dana", "projects": ["default"]}, "k-other": ["other"], "k-admin": ["*"]}


def seed(data_dir: Path, users: int = 300) -> None:
    """Two projects with events and user properties; two saved cohorts and an audience in ``default``."""
    with Workspace(data_dir) as ws:
        p = ws.project("default")
        p.ingest(saas_events(users))
        p.upsert_user_properties(saas_users(users))
        p.create_cohort("Active 7d", 'did("Session Start") >= 3 in last 7d', "three sessions this week")
        p.create_cohort("Feature users", 'did("Feature Used") in last 90d')
        p.create_destination("exports", directory=str(data_dir.parent / "exports"))
        p.create_audience("Active export", "Active 7d", "exports")
        other = ws.project("other")
        other.ingest(saas_events(40))
        other.create_cohort("Secret other", "did(any) in last 90d")


class HttpServer(ServerProcess):
    """``cohortd`` serving gRPC and HTTP on free loopback ports, with API keys."""

    def __init__(self, data_dir: Path, tmp: Path, *args: str) -> None:
        keys = tmp / "keys.json"
        keys.write_text(json.dumps(KEYS))
        super().__init__(data_dir, "--http", "127.0.0.1:0", "--auth-keys", str(keys), *args)
        urls = [
            m.group(1) for line in self.lines if (m := re.search(r"console on (http://\S+)/console/", line))
        ]
        if not urls:
            self.kill()
            raise RuntimeError("no console line:\n" + self.output)
        self.url = urls[0]
