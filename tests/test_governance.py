"""Catalog governance: unarchive, rename following in_cohort, delete refused while referenced, cap."""

from __future__ import annotations

from pathlib import Path

import pytest
from cohortd import governance
from cohortd.errors import AlreadyExistsError, LimitExceededError, NotFoundError, ReferencedError
from cohortd.lang import parse
from cohortd.lang.ast import InCohort
from cohortd.service import Project, Workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = 1_780_272_000_000
DAY = 86_400_000


def _events() -> list[dict[str, object]]:
    rows = []
    for i in range(30):
        rows.append({"user_id": f"u{i}", "event_type": "Session Start", "time": NOW - (i % 10) * DAY - 1})
        if i % 3 == 0:
            rows.append({"user_id": f"u{i}", "event_type": "Purchase", "time": NOW - DAY})
    return rows


@pytest.fixture
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = Workspace(tmp_path, clock=lambda: NOW, max_active_cohorts=4)
    p = ws.project()
    p.ingest(_events())
    yield p
    ws.close()


def test_unarchive_restores_a_maintained_cohort(project: Project) -> None:
    project.create_cohort("Buyers", 'did("Purchase") in last 7d')
    want = project.members("Buyers")
    project.archive_cohort("Buyers")
    assert [r.name for r in project.list_cohorts()] == []
    rec = project.unarchive_cohort("Buyers")
    assert not rec.archived and [r.name for r in project.list_cohorts()] == ["Buyers"]
    assert project.maintainer.current("Buyers") is not None  # maintained again
    assert project.members("Buyers") == want
    with pytest.raises(NotFoundError):
        project.unarchive_cohort("Nope")


def test_rename_follows_in_cohort_references(project: Project) -> None:
    project.create_cohort("Buyers", 'did("Purchase") in last 7d')
    project.create_cohort("Active buyers", 'in_cohort("Buyers") and did("Session Start") in last 3d')
    project.create_cohort("Lapsed", 'not in_cohort("Buyers")')
    project.archive_cohort("Lapsed")
    before = {n: project.members(n) for n in ("Buyers", "Active buyers")}
    with _author("alice"):
        rec, followed = project.rename_cohort("Buyers", "Purchasers")
    assert rec.name == "Purchasers" and rec.version == 2 and followed == ["Active buyers", "Lapsed"]
    assert project.members("Purchasers") == before["Buyers"]
    assert project.members("Active buyers") == before["Active buyers"]
    for name in followed:
        expr = parse(project.get_cohort(name).definition)
        assert InCohort("Purchasers") in _leaves(expr) and InCohort("Buyers") not in _leaves(expr)
        last = project.cohort_changelog(name)[-1]
        assert last.author == "alice" and "follows the rename" in last.note
        lines = last.definition_diff.splitlines()
        assert lines[:3] == ["--- v1", "+++ v2", "@@ -1 +1 @@"]
        assert 'in_cohort("Buyers")' in lines[3] and 'in_cohort("Purchasers")' in lines[4]
    assert project.cohort_changelog("Purchasers")[-1].note == "renamed from 'Buyers'"
    with pytest.raises(NotFoundError):
        project.get_cohort("Buyers")
    project.create_cohort("Buyers", 'did("Session Start")')  # the old name is free again
    with pytest.raises(AlreadyExistsError):
        project.rename_cohort("Buyers", "Purchasers")


def test_delete_refused_while_referenced(project: Project) -> None:
    project.create_cohort("Buyers", 'did("Purchase") in last 7d')
    project.create_cohort("Active buyers", 'in_cohort("Buyers") and did("Session Start") in last 3d')
    project.archive_cohort("Active buyers")  # archived cohorts still resolve: still a reference
    with pytest.raises(ReferencedError, match="cohort 'Active buyers'"):
        project.delete_cohort("Buyers")
    project.delete_cohort("Active buyers")
    project.delete_cohort("Buyers")
    assert project.list_cohorts(include_archived=True) == []
    with pytest.raises(NotFoundError):
        project.cohort_history("Buyers")
    project.create_cohort("Buyers", "did(any)")
    assert project.get_cohort("Buyers").version == 1  # a fresh history


def test_audiences_block_rename_and_delete(project: Project, tmp_path: Path) -> None:
    project.create_cohort("Buyers", 'did("Purchase") in last 7d')
    project.create_destination("files", directory=str(tmp_path / "out"))
    project.create_audience("Buyers to files", "Buyers", "files")
    with pytest.raises(ReferencedError, match="audiences deliver it: Buyers to files"):
        project.rename_cohort("Buyers", "Purchasers")
    with pytest.raises(ReferencedError, match="audience 'Buyers to files'"):
        project.delete_cohort("Buyers")
    project.delete_audience("Buyers to files")
    project.rename_cohort("Buyers", "Purchasers")
    project.delete_cohort("Purchasers")


def test_cap_on_active_cohorts(project: Project) -> None:
    for i in range(4):
        project.create_cohort(f"C{i}", f'did("Session Start") >= {i + 1}')
    with pytest.raises(LimitExceededError, match="4 active cohorts and its cap is 4"):
        project.create_cohort("C4", "did(any)")
    project.archive_cohort("C0")
    project.create_cohort("C4", "did(any)")
    with pytest.raises(LimitExceededError):
        project.unarchive_cohort("C0")
    project.delete_cohort("C1")
    project.unarchive_cohort("C0")


def test_changelog_has_authors_and_diffs(project: Project) -> None:
    with _author("bob"):
        project.create_cohort("Buyers", 'did("Purchase")', description="first")
    with _author("carol"):
        project.update_cohort("Buyers", 'did("Purchase") >= 2 in last 30d', note="tighter")
        project.update_cohort("Buyers", description="second")
    log = project.cohort_changelog("Buyers")
    assert [(v.version, v.author, v.note) for v in log] == [
        (1, "bob", ""),
        (2, "carol", "tighter"),
        (3, "carol", ""),
    ]
    assert log[1].definition_diff.splitlines() == [
        "--- v1", "+++ v2", "@@ -1 +1 @@", '-did("Purchase")', '+did("Purchase") >= 2 in last 30d',
    ]  # fmt: skip
    assert log[2].definition_diff == "" and "+second" in log[2].description_diff
    assert log[0].definition_diff.endswith('+did("Purchase")')


NAMES = ["A", "B", "C", "D"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["create", "rename", "delete", "archive", "unarchive"]),
                          st.sampled_from(NAMES), st.sampled_from(NAMES)), max_size=14))  # fmt: skip
def test_random_governance_keeps_every_reference_resolvable(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, str, str]]
) -> None:
    """Whatever the order of operations, no saved definition names a missing cohort; a plain model agrees."""
    ws = Workspace(tmp_path_factory.mktemp("gov"), clock=lambda: NOW, max_active_cohorts=3)
    p = ws.project()
    p.ingest(_events())
    model: dict[str, tuple[set[str], bool]] = {}  # name -> (references, archived)
    try:
        for op, a, b in ops:
            active = sum(not arch for _, arch in model.values())
            if op == "create":
                refs = {b} if b in model and b != a else set()
                definition = f'in_cohort("{b}") or did("Purchase")' if refs else 'did("Session Start")'
                if a in model:
                    with pytest.raises(AlreadyExistsError):
                        p.create_cohort(a, definition)
                elif active >= 3:
                    with pytest.raises(LimitExceededError):
                        p.create_cohort(a, definition)
                else:
                    p.create_cohort(a, definition)
                    model[a] = (refs, False)
            elif op == "rename":
                if a not in model:
                    with pytest.raises(NotFoundError):
                        p.rename_cohort(a, b)
                elif b in model and b != a:
                    with pytest.raises(AlreadyExistsError):
                        p.rename_cohort(a, b)
                elif a != b:
                    p.rename_cohort(a, b)
                    model[b] = model.pop(a)
                    for n, (refs, arch) in model.items():
                        model[n] = ({b if r == a else r for r in refs}, arch)
            elif op == "delete":
                if a not in model:
                    with pytest.raises(NotFoundError):
                        p.delete_cohort(a)
                elif any(a in refs for refs, _ in model.values()):
                    with pytest.raises(ReferencedError):
                        p.delete_cohort(a)
                else:
                    p.delete_cohort(a)
                    del model[a]
            elif op == "archive" and a in model:
                p.archive_cohort(a)
                model[a] = (model[a][0], True)
            elif op == "unarchive" and a in model:
                if model[a][1] and active >= 3:
                    with pytest.raises(LimitExceededError):
                        p.unarchive_cohort(a)
                else:
                    p.unarchive_cohort(a)
                    model[a] = (model[a][0], False)
            recs = {r.name: r for r in p.list_cohorts(include_archived=True)}
            assert {n: r.archived for n, r in recs.items()} == {n: arch for n, (_, arch) in model.items()}
            for name, rec in recs.items():
                refs = {leaf.name for leaf in _leaves(parse(rec.definition)) if isinstance(leaf, InCohort)}
                assert refs == model[name][0] and refs <= recs.keys()
                p.members(name)  # every saved cohort still evaluates
    finally:
        ws.close()


def _leaves(expr: object) -> list[object]:
    from cohortd.lang.walk import leaves as conditions

    return [c for c, _ in conditions(expr)]  # type: ignore[arg-type]


class _author:
    """``with _author("x"):`` sets governance.AUTHOR for the block."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.token = governance.AUTHOR.set(self.name)

    def __exit__(self, *exc: object) -> None:
        governance.AUTHOR.reset(self.token)


# ---------------------------------------------------------- server and CLI
def test_governance_over_a_real_server_with_named_keys(tmp_path: Path) -> None:
    import hashlib
    import json
    import subprocess
    import sys

    import grpc
    from cohortd import Client
    from cohortd.client import RemoteError, RemoteLimitError
    from support.server import ServerProcess

    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"k-alice": {"name": "alice", "projects": ["*"]}, "k-anon": ["default"]}))
    srv = ServerProcess(tmp_path / "data", "--auth-keys", str(keys), "--max-active-cohorts", "2")
    try:
        with (
            Client(srv.address, api_key="k-alice", retries=1) as alice,
            Client(srv.address, api_key="k-anon") as anon,
        ):
            alice.ingest(_events())
            alice.create_cohort("Buyers", 'did("Purchase") in last 7d')
            anon.create_cohort("Active buyers", 'in_cohort("Buyers") and did("Session Start")')
            with pytest.raises(RemoteLimitError, match="cap is 2"):
                alice.create_cohort("Third", "did(any)")
            with pytest.raises(RemoteError) as refused:
                alice.delete_cohort("Buyers")
            assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
            assert "cohort 'Active buyers'" in refused.value.details
            cohort, followed = alice.rename_cohort("Buyers", "Purchasers")
            assert cohort.name == "Purchasers" and followed == ["Active buyers"]
            log = alice.cohort_changelog("Active buyers")
            anon_name = "key " + hashlib.sha256(b"k-anon").hexdigest()[:8]
            assert [(v.version, v.author) for v in log] == [(1, anon_name), (2, "alice")]
            assert 'in_cohort("Purchasers")' in log[1].definition_diff
            alice.archive_cohort("Active buyers")
            alice.create_cohort("Third", "did(any)")
            with pytest.raises(RemoteLimitError):
                alice.unarchive_cohort("Active buyers")
            alice.delete_cohort("Third")
            assert alice.unarchive_cohort("Active buyers").archived is False
        cli = Path(sys.executable).with_name("cohortd")
        out = subprocess.run(
            [str(cli), "cohort", "history", "--server", srv.address, "--api-key", "k-alice", "Active buyers"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "alice" in out.stdout and anon_name in out.stdout and '+in_cohort("Purchasers")' in out.stdout
    finally:
        assert srv.terminate() == 0, srv.output


def test_cli_embedded_governance(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    cli = str(Path(sys.executable).with_name("cohortd"))
    ws = Workspace(tmp_path, clock=lambda: NOW)
    p = ws.project()
    p.ingest(_events())
    p.create_cohort("Buyers", 'did("Purchase") in last 7d')
    p.create_cohort("Active buyers", 'in_cohort("Buyers") and did("Session Start")')
    p.archive_cohort("Buyers")
    ws.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, "cohort", *args, "--data", str(tmp_path)], capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip

    assert json.loads(run("unarchive", "Buyers", "--json").stdout)["archived"] is False
    renamed = json.loads(run("rename", "Buyers", "Purchasers", "--json").stdout)
    assert renamed["cohort"]["name"] == "Purchasers" and renamed["followed"] == ["Active buyers"]
    refused = run("delete", "Purchasers")
    assert refused.returncode == 1 and "referenced by cohort 'Active buyers'" in refused.stderr
    assert "Traceback" not in refused.stderr
    hist = json.loads(run("history", "Active buyers", "--json").stdout)["versions"]
    assert [v["version"] for v in hist] == [1, 2] and "follows the rename" in hist[1]["note"]
    assert run("delete", "Active buyers").returncode == 0 and run("delete", "Purchasers").returncode == 0


def test_an_archived_cohort_refuses_updates_and_its_name_says_archived(project: Project) -> None:
    from cohortd.errors import ArchivedCohortError

    project.create_cohort("Buyers", 'did("Purchase") in last 7d')
    project.archive_cohort("Buyers")
    with pytest.raises(ArchivedCohortError, match="archived: unarchive it first"):
        project.update_cohort("Buyers", 'did("Purchase")')
    with pytest.raises(ArchivedCohortError):
        project.update_cohort("Buyers", description="changed")
    assert project.get_cohort("Buyers").version == 1
    with pytest.raises(AlreadyExistsError, match="archived; names stay taken: unarchive"):
        project.create_cohort("Buyers", 'did("Purchase")')
    project.unarchive_cohort("Buyers")
    assert project.update_cohort("Buyers", 'did("Purchase")')[0].version == 2
