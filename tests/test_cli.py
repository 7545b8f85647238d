"""The ``cohortd`` console script, run as a real subprocess against a temporary data directory.

Remote (``--server``) runs are covered with the server's end-to-end tests; these
are the embedded (``--data``) paths.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

COHORTD = Path(sys.executable).with_name("cohortd")
AS_OF = "2026-02-01T00:00:00Z"


def run(*args: str, ok: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(COHORTD), *args], capture_output=True, text=True, input=stdin, timeout=300, check=False
    )
    if ok:
        assert proc.returncode == 0, f"cohortd {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


CSV = """user_id,event_type,time,feature_area
u1,Session Start,2026-01-10T10:00:00Z,
u1,Feature Used,2026-01-11T10:00:00Z,dashboard
u2,Session Start,2026-01-12T10:00:00Z,
,Session Start,2026-01-12T10:00:00Z,
u3,Session Start,1999-06-01T00:00:00Z,
u4,Feature Used,2026-01-20T08:00:00Z,reports
"""

JSONL_LINES = [
    {"user_id": "u5", "event_type": "Purchase", "time": "2026-01-15T00:00:00Z", "revenue": 30.5},
    {"user_id": "u6", "event_type": "Purchase", "event_time": "2026-01-16 00:00:00",
     "event_properties": {"revenue": 12}},
    {"type": "track", "userId": "u7", "event": "Purchase", "timestamp": "2026-01-17T00:00:00Z",
     "properties": {"revenue": 99}},
    {"type": "identify", "userId": "u7", "timestamp": "2026-01-17T00:00:01Z", "traits": {"plan": "paid"}},
    {"user_id": "u8", "time": "2026-01-18T00:00:00Z"},
]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("files")
    (d / "events.csv").write_text(CSV)
    with gzip.open(d / "events.jsonl.gz", "wt") as fh:
        for obj in JSONL_LINES:
            fh.write(json.dumps(obj) + "\n")
    pq.write_table(
        pa.table(
            {
                "user_id": ["u1", "u2", "u9"],
                "event_type": ["Signup Submitted", "Signup Submitted", "Session Start"],
                "time": pa.array([1_767_225_600_000, 1_767_312_000_000, 1_769_000_000_000], pa.int64()),
            }
        ),
        d / "events.parquet",
    )
    (d / "users.csv").write_text("user_id,plan\nu1,free\nu2,paid\nu4,free\n")
    (d / "fake.parquet").write_text("this is not parquet\n")
    return {p.name: p for p in d.iterdir()}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path]) -> Path:
    """A data directory with all three files ingested (module-wide; tests below only read)."""
    d = tmp_path_factory.mktemp("ws") / "data"
    report = run_json(
        "ingest", "--data", str(d), str(files["events.csv"]), str(files["events.jsonl.gz"]),
        str(files["events.parquet"]),
    )  # fmt: skip
    assert report["accepted"] == 4 + 4 + 3
    run("ingest-users", "--data", str(d), str(files["users.csv"]), "--quiet")
    return d


def test_ingest_report_rows_fields_reasons(tmp_path: Path, files: dict[str, Path]) -> None:
    report = run_json(
        "ingest", "--data", str(tmp_path / "d"), str(files["events.csv"]), str(files["events.jsonl.gz"])
    )
    assert report["accepted"] == 8
    rejections = [(Path(r["file"]).name, r["row"], r["field"]) for r in report["rejections"]]
    assert rejections == [
        ("events.csv", 4, "user_id"),
        ("events.csv", 5, "time"),
        ("events.jsonl.gz", 5, "event_type"),
    ]
    assert all(r["reason"] for r in report["rejections"])
    human = run("ingest", "--data", str(tmp_path / "d2"), str(files["events.csv"]), "--quiet")
    assert "accepted 4 events, rejected 2 rows" in human.stdout
    assert "user_id" in human.stdout and "time" in human.stdout


def test_bad_file_fails_and_writes_nothing(tmp_path: Path, files: dict[str, Path]) -> None:
    d = str(tmp_path / "d")
    proc = run("ingest", "--data", d, str(files["events.csv"]), str(files["fake.parquet"]), ok=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "fake.parquet" in lines[0] and "Parquet" in lines[0]
    # the good file before it was not loaded: no project was written, and a read says so (creating nothing)
    assert not (tmp_path / "d" / "projects" / "default").exists()
    missing = run("query", "--data", d, "did(any)", ok=False)
    assert missing.returncode == 1 and "no project 'default'" in missing.stderr
    assert not (tmp_path / "d" / "projects" / "default").exists()
    proc = run("ingest", "--data", d, str(tmp_path / "missing.csv"), ok=False)
    assert proc.returncode == 1 and "missing.csv" in proc.stderr


def test_query_json_size_and_sorted_members(data: Path) -> None:
    out = run_json("query", "--data", str(data), "--as-of", AS_OF, "--members", "did(any)")
    assert out["size"] == 7 == len(out["members"])
    assert out["members"] == sorted(out["members"])
    out = run_json("query", "--data", str(data), "--as-of", AS_OF, "--members", 'did("Purchase") in last 30d')
    assert out == {"size": 3, "as_of": "2026-02-01T00:00:00.000Z", "members": ["u5", "u6", "u7"]}
    out = run_json(
        "query", "--data", str(data), "--as-of", AS_OF, 'sum(revenue, "Purchase") > 20 in last 30d'
    )
    assert out["size"] == 2 and "members" not in out
    out = run_json("query", "--data", str(data), "--as-of", AS_OF, "--members", 'user.plan == "free"')
    assert out["members"] == ["u1", "u4"]
    # point in time: before u9's only event
    assert (
        run_json("query", "--data", str(data), "--as-of", "2026-01-03", 'did("Signup Submitted")')["size"]
        == 2
    )
    assert (
        run_json("query", "--data", str(data), "--as-of", "2026-01-02", 'did("Signup Submitted")')["size"]
        == 1
    )


def test_query_members_exactly(data: Path) -> None:
    out = run_json("query", "--data", str(data), "--as-of", AS_OF, "--members", "did(any)")
    assert out["members"] == ["u1", "u2", "u4", "u5", "u6", "u7", "u9"]
    assert out["size"] == len(out["members"])


def test_query_kernels_agree(data: Path) -> None:
    expr = 'did("Session Start") >= 1 in last 30d or did("Feature Used" where feature_area == "dashboard")'
    rust = run_json("query", "--data", str(data), "--as-of", AS_OF, "--kernel", "rust", "--members", expr)
    numba = run_json("query", "--data", str(data), "--as-of", AS_OF, "--kernel", "numba", "--members", expr)
    assert rust == numba
    assert rust["members"] == ["u1", "u2", "u9"]


def test_query_human_and_stdin(data: Path) -> None:
    proc = run("query", "--data", str(data), "--as-of", AS_OF, "--members", "-", stdin='did("Purchase")\n')
    assert proc.stdout.splitlines() == ["size 3  (as of 2026-02-01T00:00:00.000Z)", "u5", "u6", "u7"]


def test_parse_error_shows_line_and_column(data: Path) -> None:
    proc = run("query", "--data", str(data), 'did(any) and\n  did("X" >= 3', ok=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    first = proc.stderr.splitlines()[0]
    assert first.startswith("cohortd: error: line 2, column ")
    lines = proc.stderr.splitlines()
    assert lines[1] == '    did("X" >= 3'
    assert lines[2].rstrip().endswith("^")


def test_explain_steps(data: Path) -> None:
    expr = 'did("Session Start") in last 30d and not did("Feature Used")'
    out = run_json("explain", "--data", str(data), "--as-of", AS_OF, expr)
    steps = out["steps"]
    assert steps[0]["depth"] == 0 and steps[0]["size"] == 2  # u2, u9
    assert {s["text"]: s["size"] for s in steps[1:]}['did("Session Start") in last 30d'] == 3
    assert all(s["millis"] >= 0 for s in steps)
    human = run("explain", "--data", str(data), "--as-of", AS_OF, expr).stdout
    assert 'did("Feature Used")' in human and "size" in human


def test_cohort_lifecycle_embedded(tmp_path: Path, files: dict[str, Path]) -> None:
    d = str(tmp_path / "data")
    run("ingest", "--data", d, str(files["events.csv"]), str(files["events.jsonl.gz"]), "--quiet")
    created = run_json(
        "cohort", "create", "--data", d, "Purchase 30d", 'did("Purchase") in last 30d',
        "--description", "buyers", "--note", "first cut",
    )  # fmt: skip
    assert created["cohort"]["version"] == 1
    assert created["cohort"]["definition"] == 'did("Purchase") in last 30d'
    assert created["warnings"] == []

    proc = run("cohort", "create", "--data", d, "VIP users", 'did("Purchase") >= 2')
    assert "created 'VIP users' version 1" in proc.stdout
    assert "count-without-window" in proc.stderr and "name-missing-behaviour" in proc.stderr

    dup = run("cohort", "create", "--data", d, "VIP users", "did(any)", ok=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr

    upd = run_json(
        "cohort", "update", "--data", d, "Purchase 30d", 'did("Purchase") in last 14d', "--note", "tighter"
    )
    assert upd["cohort"]["version"] == 2

    listed = run_json("cohort", "list", "--data", d)
    assert [c["name"] for c in listed["cohorts"]] == ["Purchase 30d", "VIP users"]
    human = run("cohort", "list", "--data", d).stdout
    assert "Purchase 30d" in human and 'did("Purchase") in last 14d' in human

    shown = run_json("cohort", "show", "--data", d, "Purchase 30d", "--size")
    assert shown["description"] == "buyers" and shown["version"] == 2 and "size" in shown
    assert shown["last_evaluated"] is not None

    hist = run_json("cohort", "history", "--data", d, "Purchase 30d")
    assert [(v["version"], v["note"]) for v in hist["versions"]] == [(1, "first cut"), (2, "tighter")]
    assert hist["versions"][0]["definition"] == 'did("Purchase") in last 30d'
    assert "tighter" in run("cohort", "history", "--data", d, "Purchase 30d").stdout

    archived = run_json("cohort", "archive", "--data", d, "VIP users")
    assert archived["archived"] is True
    assert [c["name"] for c in run_json("cohort", "list", "--data", d)["cohorts"]] == ["Purchase 30d"]
    assert len(run_json("cohort", "list", "--data", d, "--all")["cohorts"]) == 2

    missing = run("cohort", "show", "--data", d, "Nope", ok=False)
    assert missing.returncode == 1 and "no cohort named 'Nope'" in missing.stderr
    cyc = run("cohort", "update", "--data", d, "Purchase 30d", 'in_cohort("Purchase 30d")', ok=False)
    assert cyc.returncode == 1 and "cycle" in cyc.stderr
    nothing = run("cohort", "update", "--data", d, "Purchase 30d", ok=False)
    assert nothing.returncode == 2


def test_members_overlap_user_cohorts_embedded(tmp_path: Path, files: dict[str, Path]) -> None:
    d = str(tmp_path / "data")
    run("ingest", "--data", d, str(files["events.csv"]), str(files["events.jsonl.gz"]), "--quiet")
    run("cohort", "create", "--data", d, "Purchase ever", 'did("Purchase")')
    run("cohort", "create", "--data", d, "Sessions ever", 'did("Session Start")')
    run("cohort", "create", "--data", d, "Any event ever", "did(any)")
    members = run_json("members", "--data", d, "Purchase ever", "--as-of", AS_OF)
    assert members == {"cohort": "Purchase ever", "size": 3, "members": ["u5", "u6", "u7"]}
    assert run("members", "--data", d, "Purchase ever", "--limit", "2").stdout.split() == ["u5", "u6"]

    ov = run_json(
        "overlap", "--data", d, "--as-of", AS_OF, "Purchase ever", "Sessions ever", "Any event ever"
    )
    assert ov["names"] == ["Purchase ever", "Sessions ever", "Any event ever"]
    assert ov["sizes"] == [3, 2, 6]
    assert ov["intersections"] == [[3, 0, 3], [0, 2, 2], [3, 2, 6]]
    assert ov["jaccard"][0][2] == pytest.approx(0.5)
    assert ov["jaccard"][1][2] == pytest.approx(2 / 6)
    assert ov["jaccard"][0][1] == 0.0
    assert "Jaccard" in run("overlap", "--data", d, "Purchase ever", "Sessions ever").stdout

    assert run_json("user-cohorts", "--data", d, "u5")["cohorts"] == ["Any event ever", "Purchase ever"]
    assert run_json("user-cohorts", "--data", d, "nobody")["cohorts"] == []
    assert "in no saved cohort" in run("user-cohorts", "--data", d, "nobody").stdout


def test_projects_are_separate_on_the_command_line(tmp_path: Path, files: dict[str, Path]) -> None:
    d = str(tmp_path / "data")
    run("ingest", "--data", d, "--project", "team-a", str(files["events.csv"]), "--quiet")
    assert run_json("query", "--data", d, "--project", "team-a", "did(any)")["size"] == 3
    missing = run("query", "--data", d, "--project", "team-b", "did(any)", ok=False)
    assert missing.returncode == 1 and "team-b" in missing.stderr and "team-a" in missing.stderr
    assert not (tmp_path / "data" / "projects" / "team-b").exists()  # a read creates nothing
    run("init", d, "--project", "team-b")  # an empty project is made on purpose
    assert run_json("query", "--data", d, "--project", "team-b", "did(any)")["size"] == 0
    bad = run("query", "--data", d, "--project", "no/slashes", "did(any)", ok=False)
    assert bad.returncode == 1 and "project name" in bad.stderr


def test_generate_then_ingest(tmp_path: Path) -> None:
    out = tmp_path / "synth.parquet"
    gen = run_json("generate", "--users", "40", "--days", "20", "--seed", "3", "--out", str(out))
    assert gen["users"] == 40 and gen["events"] > 0 and out.is_file()
    d = str(tmp_path / "data")
    rep = run_json("ingest", "--data", d, str(out))
    assert rep["accepted"] == gen["events"] and rep["rejected"] == 0
    users = run_json("ingest-users", "--data", d, gen["users_path"])
    assert users["accepted"] == 40
    assert run_json("query", "--data", d, "--as-of", gen["end"], "did(any)")["size"] >= 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("query", "did(any)", ok=False).returncode == 2  # neither --data nor --server
    both = run("query", "--data", str(tmp_path), "--server", "127.0.0.1:1", "did(any)", ok=False)
    assert both.returncode == 2
    assert run("cohort", ok=False).returncode == 2
    bad_as_of = run("query", "--data", str(tmp_path / "d"), "--as-of", "yesterday", "did(any)", ok=False)
    assert bad_as_of.returncode == 1 and "ISO-8601" in bad_as_of.stderr
