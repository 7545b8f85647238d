"""``cohortd destination|audience|cohort upload|members --out`` on a real data directory.

The console script's ``main`` runs in-process (argument parsing, dispatch, error
reporting and exit codes are the same as in a subprocess; the process start-up
is what it saves).  The remote paths go through the SDK, covered by the
end-to-end tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from cohortd.cli.main import main
from cohortd.service import Workspace
from support.data import now_ms

USERS = [f"c{i:03d}" for i in range(40)]
EMAILS = {u: f"  User.{i}@Example.com " for i, u in enumerate(USERS) if i % 4 != 0}


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: bad command line
            code = int(exc.code or 0)
    proc = subprocess.CompletedProcess(["cohortd", *args], code, out.getvalue(), err.getvalue())
    if ok:
        assert proc.returncode == 0, f"cohortd {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("aud-cli")
    t = now_ms() - 60_000
    with Workspace(d) as ws:
        p = ws.project()
        p.ingest([{"user_id": u, "event_type": "Seen", "time": t} for u in USERS])
        p.ingest([{"user_id": u, "event_type": "Bought", "time": t} for u in USERS[::2]])
        p.upsert_user_properties([{"user_id": u, "email": e} for u, e in EMAILS.items()])
    return d


def test_static_cohort_upload_is_a_cohort_everywhere(data: Path, tmp_path: Path) -> None:
    listed = USERS[:20] + ["ghost-1", "ghost-2", "c001"]  # unknown ids and a duplicate
    (tmp_path / "vip.csv").write_text("user_id,note\n" + "".join(f"{u},x\n" for u in listed))
    out = run_json("cohort", "upload", "--data", str(data), "VIP", str(tmp_path / "vip.csv"))
    assert out["ids"] == 22 and out["members"] == 20 and out["unknown"] == 2
    assert sorted(out["unknown_sample"]) == ["ghost-1", "ghost-2"]
    text = run("cohort", "upload", "--data", str(data), "VIP", str(tmp_path / "vip.csv")).stdout
    assert "2 unknown" in text and "ghost-1" in text

    members = run_json("members", "--data", str(data), "VIP")["members"]
    assert members == USERS[:20]
    run(
        "cohort", "create", "--data", str(data), "VIP buyers", 'in_cohort("VIP") and did("Bought") in last 7d'
    )
    assert run_json("members", "--data", str(data), "VIP buyers")["members"] == USERS[:20:2]
    ov = run_json("overlap", "--data", str(data), "VIP", "VIP buyers")
    assert ov["sizes"] == [20, 10] and ov["intersections"][0][1] == 10

    # a new upload replaces the list; users no longer listed leave
    (tmp_path / "vip2.txt").write_text("".join(f"{u}\n" for u in USERS[15:25]))
    out = run_json("cohort", "upload", "--data", str(data), "VIP", str(tmp_path / "vip2.txt"))
    assert out["members"] == 10 and out["unknown"] == 0
    assert run_json("members", "--data", str(data), "VIP")["members"] == USERS[15:25]
    # a computed cohort is not overwritten by an upload
    bad = run("cohort", "upload", "--data", str(data), "VIP buyers", str(tmp_path / "vip2.txt"), ok=False)
    assert bad.returncode == 1 and "not a static" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_members_export_streams_hashed_identifiers(data: Path, tmp_path: Path, fmt: str) -> None:
    run("cohort", "create", "--data", str(data), f"Buyers {fmt}", 'did("Bought") in last 7d')
    out_file = tmp_path / f"buyers.{fmt}"
    doc = run_json(
        "members", "--data", str(data), f"Buyers {fmt}", "--format", fmt, "--out", str(out_file),
        "--id", "user.email", "--hash", "sha256",
    )  # fmt: skip
    buyers = USERS[::2]
    want = sorted(
        hashlib.sha256(EMAILS[u].strip().lower().encode()).hexdigest() for u in buyers if u in EMAILS
    )
    assert (
        doc["total"] == len(buyers) and doc["skipped"] == len(buyers) - len(want) and doc["rows"] == len(want)
    )
    if fmt == "csv":
        got = pcsv.read_csv(out_file).column("email_sha256").to_pylist()
    elif fmt == "parquet":
        got = pq.read_table(out_file).column("email_sha256").to_pylist()
    else:
        got = [json.loads(line)["email_sha256"] for line in out_file.read_text().splitlines()]
    assert sorted(got) == want
    assert not list(tmp_path.glob("*.tmp"))
    plain = tmp_path / f"plain.{fmt}"
    run("members", "--data", str(data), f"Buyers {fmt}", "--out", str(plain))  # format from the suffix
    assert plain.stat().st_size > 0


def test_destination_and_audience_commands(data: Path, tmp_path: Path) -> None:
    d = str(data)
    run("cohort", "create", "--data", d, "Seen L7", 'did("Seen") in last 7d')
    out = run_json("destination", "create", "--data", d, "hook", "--webhook", "http://127.0.0.1:9/x")
    assert out["destination"]["kind"] == "webhook" and len(out["secret"]) >= 32
    out = run_json(
        "destination", "create", "--data", d, "files", "--dir", str(tmp_path / "out"), "--format", "csv"
    )
    assert out["destination"]["format"] == "csv" and out["secret"] is None
    assert [x["name"] for x in run_json("destination", "list", "--data", d)["destinations"]] == [
        "files",
        "hook",
    ]

    a = run_json(
        "audience", "create", "--data", d, "Seen sync", "--cohort", "Seen L7", "--destination", "hook",
        "--id", "user.email", "--hash", "sha256", "--mode", "every", "1h", "--batch", "500",
    )  # fmt: skip
    assert (a["mode"], a["identifier"], a["hashing"], a["batch_size"]) == (
        "every 1h",
        "user.email",
        "sha256",
        500,
    )
    listed = run_json("audience", "list", "--data", d)["audiences"]
    assert [(x["name"], x["status"], x["last_success"]) for x in listed] == [("Seen sync", "active", None)]
    assert run_json("audience", "log", "--data", d, "Seen sync", "--limit", "5")["attempts"] == []
    assert run_json("audience", "pause", "--data", d, "Seen sync")["status"] == "paused"
    assert run_json("audience", "resume", "--data", d, "Seen sync")["status"] == "active"
    assert "Seen sync" in run("audience", "list", "--data", d).stdout

    bad = run("destination", "delete", "--data", d, "hook", ok=False)
    assert bad.returncode == 1 and "used by audience" in bad.stderr
    run("audience", "delete", "--data", d, "Seen sync")
    run("destination", "delete", "--data", d, "hook")

    for args, code, message in [
        (["--mode", "sometimes"], 1, "mode 'sometimes'"),
        (["--mode", "every", "5x"], 1, "duration '5x'"),
        (["--id", "email"], 1, "user.<property>"),
        (["--hash", "md5"], 2, "invalid choice"),
        (["--batch", "0"], 1, "batch size"),
    ]:
        proc = run(
            "audience",
            "create",
            "--data",
            d,
            "Bad",
            "--cohort",
            "Seen L7",
            "--destination",
            "files",
            *args,
            ok=False,
        )
        assert proc.returncode == code and message in proc.stderr and "Traceback" not in proc.stderr, (
            proc.stderr
        )
    proc = run(
        "audience", "create", "--data", d, "Bad", "--cohort", "Nope", "--destination", "files", ok=False
    )
    assert proc.returncode == 1 and "Nope" in proc.stderr
