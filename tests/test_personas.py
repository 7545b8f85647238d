"""Personas: features against plain Python and DuckDB, planted groups recovered, exact rules, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cohortd.engine.kernels import rust_kernel
from cohortd.errors import InvalidArgumentError, KernelError, NotFoundError
from cohortd.personas import rules
from cohortd.personas.cluster import parse_k
from cohortd.personas.features import build_features
from cohortd.service import Workspace
from cohortd.synth.planted import planted_groups
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score
from sklearn.tree import DecisionTreeClassifier

END = 1_780_272_000_000  # 2026-06-01T00:00:00Z
END_ISO = "2026-06-01T00:00:00Z"
DAY = 86_400_000
SEED = 7


# ------------------------------------------------------------------ kernel
@st.composite
def parts(draw: st.DrawFn) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], int, int]:
    n_users, n_types = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    out: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for _ in range(draw(st.integers(0, 4))):
        rows = draw(st.lists(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_types - 1),
                                       st.integers(0, 50)), max_size=40))  # fmt: skip
        if draw(st.booleans()):
            rows.sort(key=lambda r: (r[1], r[0], r[2]))  # the segment order, with runs
        out[0].append(np.array([r[0] for r in rows], np.uint32))
        out[1].append(np.array([r[1] for r in rows], np.uint32))
        out[2].append(np.array([r[2] for r in rows], np.int64))
    return out[0], out[1], out[2], n_users, n_types


@settings(max_examples=150, deadline=None)
@given(parts(), st.integers(0, 50), st.integers(0, 50), st.data())
def test_user_type_counts_equals_plain_python(
    p: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], int, int],
    a: int,
    b: int,
    data: st.DataObject,
) -> None:
    users, types, times, n_users, n_types = p
    start, end = min(a, b), max(a, b)
    in_pop = data.draw(st.lists(st.booleans(), min_size=n_users, max_size=n_users))
    rows = np.cumsum(in_pop) - 1
    row_of_user = np.where(in_pop, rows, -1).astype(np.int32)
    col_of_type = np.array(data.draw(st.permutations(range(n_types))), np.int32)
    col_of_type[data.draw(st.lists(st.integers(0, n_types - 1), max_size=2))] = -1
    n_rows = int(sum(in_pop))
    indptr, indices, values = rust_kernel.user_type_counts(
        users, types, times, start, end, row_of_user, col_of_type, n_rows, n_types
    )
    want: Counter[tuple[int, int]] = Counter()
    for u, y, t in zip(np.concatenate(users or [np.empty(0, np.uint32)]).tolist(),
                       np.concatenate(types or [np.empty(0, np.uint32)]).tolist(),
                       np.concatenate(times or [np.empty(0, np.int64)]).tolist(), strict=True):  # fmt: skip
        if start <= t < end and row_of_user[u] >= 0 and col_of_type[y] >= 0:
            want[(int(row_of_user[u]), int(col_of_type[y]))] += 1
    got = {}
    assert len(indptr) == n_rows + 1 and indptr[0] == 0
    for r in range(n_rows):
        cols = indices[indptr[r] : indptr[r + 1]]
        assert list(cols) == sorted(set(cols.tolist()))  # canonical CSR: increasing, no duplicates
        for c, v in zip(cols.tolist(), values[indptr[r] : indptr[r + 1]].tolist(), strict=True):
            got[(r, c)] = v
    assert got == dict(want)


def test_user_type_counts_rejects_inconsistent_input() -> None:
    u, y, t = [np.array([5], np.uint32)], [np.array([0], np.uint32)], [np.array([1], np.int64)]
    with pytest.raises(KernelError, match="user id 5"):
        rust_kernel.user_type_counts(u, y, t, 0, 10, np.zeros(2, np.int32), np.zeros(1, np.int32), 1, 1)


# ------------------------------------------------------------ planted data
@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = planted_groups(1500, events_per_user=10, seed=3, end_ms=END)
    directory = tmp_path_factory.mktemp("personas")
    ws = Workspace(directory, clock=lambda: END)
    project = ws.project()
    project.ingest(data.events)
    project.upsert_user_properties(data.users)
    project.engine.seal()
    yield data, project, directory
    ws.close()


@pytest.fixture(scope="module")
def report(planted):  # type: ignore[no-untyped-def]
    _, project, _ = planted
    return project.personas("all", "30d", "auto", properties=["plan"], seed=SEED, assignments=True)


def test_features_equal_duckdb_counts(planted) -> None:  # type: ignore[no-untyped-def]
    data, project, _ = planted
    engine = project.engine
    f = build_features(engine, engine.known_users(END), END - 30 * DAY, END, top_events=100)
    events = data.events  # noqa: F841 - read by DuckDB below
    rows = duckdb.sql(
        f"""select user_id, event_type, count(*) as n from events
            where epoch_ms(time) >= {END - 30 * DAY} and epoch_ms(time) < {END}
            group by all"""
    ).fetchall()
    ids = engine.external_ids(f.users)
    got = {(ids[r], f.event_types[c]): int(f.counts[r, c]) for r, c in zip(*f.counts.nonzero(), strict=True)}
    assert got == {(u, e): n for u, e, n in rows}
    assert f.population_size == len(data.user_ids)


def test_planted_groups_are_recovered(planted, report) -> None:  # type: ignore[no-untyped-def]
    data, _, _ = planted
    truth = dict(zip(data.user_ids, data.groups.tolist(), strict=True))
    ids, labels = report.assignments
    assert report.k == 5 and report.k_criterion == "silhouette"
    assert adjusted_rand_score([truth[i] for i in ids], labels) >= 0.9
    assert report.stability.resamples == 5 and report.stability.ari_min >= 0.9
    assert sum(p.size for p in report.personas) == report.clustered_users == len(ids)
    assert [p.size for p in report.personas] == sorted((p.size for p in report.personas), reverse=True)


def test_each_rule_selects_its_planted_group(planted, report) -> None:  # type: ignore[no-untyped-def]
    data, project, _ = planted
    truth = dict(zip(data.user_ids, data.groups.tolist(), strict=True))
    ids, labels = report.assignments
    by_cluster = {
        c: Counter(truth[i] for i, lab in zip(ids, labels, strict=True) if lab == c) for c in range(5)
    }
    for persona in report.personas:
        assert persona.rule is not None and persona.rule.f1 >= 0.9, persona
        group = by_cluster[persona.cluster].most_common(1)[0][0]
        planted_members = {u for u, g in truth.items() if g == group}
        members = set(project.members(definition=persona.rule.definition, as_of=END))
        hit = len(members & planted_members)
        f1 = 2 * hit / (len(members) + len(planted_members))
        assert f1 >= 0.9, (persona.rule.definition, f1)
        assert f"Group {group} A" in persona.name  # the name comes from the defining behaviours
        top = persona.behaviours[0]
        assert top.direction == "high" and top.ratio > 2 and top.cluster_mean > top.population_mean


def test_rule_is_exactly_the_tree(planted, report) -> None:  # type: ignore[no-untyped-def]
    """The engine's members of the printed rule are the users the tree predicts, no more, no less."""
    _, project, _ = planted
    engine = project.engine
    f = build_features(engine, engine.known_users(END), END - 30 * DAY, END, properties=["plan"])
    ids, labels = report.assignments
    labels = np.array(labels)
    assert engine.external_ids(f.users) == ids
    for cluster in range(report.k):
        tree = DecisionTreeClassifier(max_depth=rules.MAX_DEPTH, random_state=SEED).fit(
            f.raw, labels == cluster
        )
        predicted = {ids[i] for i in np.flatnonzero(tree.predict(f.raw))}
        rule = report.personas[cluster].rule
        assert set(project.members(definition=rule.definition, as_of=END)) == predicted
        assert rule.size == len(predicted)


def test_same_seed_same_answer(planted, report) -> None:  # type: ignore[no-untyped-def]
    _, project, _ = planted
    again = project.personas("all", "30d", "auto", properties=["plan"], seed=SEED, assignments=True)
    assert again.to_dict() == report.to_dict()
    assert again.assignments == report.assignments


def test_fixed_k_population_cohort_and_save(planted) -> None:  # type: ignore[no-untyped-def]
    data, project, _ = planted
    project.create_cohort("Has plan 0 or 1", 'user.plan in ("plan-0", "plan-1")')
    out = project.personas("Has plan 0 or 1", "30d", "3", seed=1, cluster=0, save_cohort="Persona zero")
    assert out.k == 3 and out.k_criterion == "fixed" and out.saved_cohort == "Persona zero"
    rule = out.personas[0].rule
    assert rule.definition.startswith('in_cohort("Has plan 0 or 1") and ')
    saved = project.get_cohort("Persona zero")
    assert saved.definition == rule.definition
    assert len(project.members("Persona zero", as_of=END)) == rule.size
    plan = dict(
        zip(data.users.column("user_id").to_pylist(), data.users.column("plan").to_pylist(), strict=True)
    )
    assert all(plan[u] in ("plan-0", "plan-1") for u in project.members("Persona zero", as_of=END))


def test_refusals(planted) -> None:  # type: ignore[no-untyped-def]
    _, project, _ = planted
    project.create_cohort("Tiny", 'user.plan == "plan-0" and did("Group 0 A") >= 9 in last 30d')
    with pytest.raises(InvalidArgumentError, match="population too small"):
        project.personas("Tiny", "30d", "auto", as_of=END)
    with pytest.raises(InvalidArgumentError, match="population too small"):
        project.personas("all", "30d", "auto", as_of=END - 400 * DAY)
    with pytest.raises(NotFoundError):
        project.personas("No such cohort")
    with pytest.raises(NotFoundError, match="no user property named 'shoe'"):
        project.personas(properties=["shoe"])
    with pytest.raises(InvalidArgumentError, match="window"):
        project.personas(window="30 days")
    with pytest.raises(InvalidArgumentError, match="needs --cluster"):
        project.personas(save_cohort="X")
    with pytest.raises(InvalidArgumentError, match="cluster 9 does not exist"):
        project.personas(k=3, cluster=9)


@pytest.mark.parametrize(
    ("spec", "want"),
    [("auto", (3, 10)), ("3..10", (3, 10)), ("5", (5, 5)), (4, (4, 4)), (" 2 .. 6 ", (2, 6))],
)
def test_parse_k(spec: str | int, want: tuple[int, int]) -> None:
    assert parse_k(spec) == want


@pytest.mark.parametrize("spec", ["1", "10..3", "x", "3-5", "0", "3..99"])
def test_parse_k_rejects(spec: str) -> None:
    with pytest.raises(InvalidArgumentError, match="k "):
        parse_k(spec)


# ------------------------------------------------------------------- CLI
COHORTD = Path(sys.executable).with_name("cohortd")


def test_cli_embedded(planted, report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, directory = planted
    out = tmp_path / "assignments.parquet"
    args = [str(COHORTD), "personas", "--data", str(directory), "--population", "all", "--window", "30d",
            "--k", "auto", "--properties", "plan", "--seed", str(SEED), "--as-of", END_ISO, "--json",
            "--assignments", str(out)]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc == json.loads(json.dumps(report.to_dict()))
    table = pq.read_table(out)
    assert table.column_names == ["user_id", "cluster"] and table.schema.field("cluster").type == pa.int32()
    assert (table.column("user_id").to_pylist(), table.column("cluster").to_pylist()) == report.assignments

    bad = subprocess.run([*args[:4], "--save-cohort", "X"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "--save-cohort needs --cluster" in bad.stderr
    small = subprocess.run(
        [*args[:4], "--as-of", "2020-01-01T00:00:00Z"], capture_output=True, text=True, check=False
    )
    assert (
        small.returncode == 1 and "population too small" in small.stderr and "Traceback" not in small.stderr
    )


# ------------------------------------------------------------- gRPC / SDK
def test_rpc_and_sdk_over_a_real_server(planted, report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The Personas service on a server process answers what the embedded call answers."""
    import grpc
    from cohortd import Client
    from cohortd.client import RemoteError, RemoteNotFoundError
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from support.server import ServerProcess

    data, _, _ = planted
    srv = ServerProcess(tmp_path / "srv")
    try:
        with Client(srv.address, retries=1) as c:
            c.wait_ready()
            assert c.ingest(data.events).rejections == []
            c.upsert_user_properties(data.users)
            got = c.personas(
                "all", "30d", "auto", properties=["plan"], seed=SEED, as_of=END_ISO, assignments=True
            )
            assert got.to_dict() == report.to_dict()
            assert got.assignments == report.assignments
            saved = c.personas(
                k=5, seed=SEED, as_of=END_ISO, properties=["plan"], cluster=1, save_cohort="P1"
            )
            assert (
                saved.saved_cohort == "P1"
                and c.get_cohort("P1").definition == saved.personas[1].rule.definition
            )
            assert saved.assignments is None
            with pytest.raises(RemoteError) as small:
                c.personas(as_of="2020-01-01T00:00:00Z")
            assert small.value.code == grpc.StatusCode.INVALID_ARGUMENT and "too small" in small.value.details
            with pytest.raises(RemoteNotFoundError):
                c.personas("No such cohort", as_of=END_ISO)
        cli = subprocess.run(
            [str(COHORTD), "personas", "--server", srv.address, "--k", "auto", "--properties", "plan",
             "--seed", str(SEED), "--as-of", END_ISO, "--json"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout) == json.loads(json.dumps(report.to_dict()))
        with grpc.insecure_channel(srv.address) as ch:
            health = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service="cohortd.v1.Personas"), timeout=10
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert srv.terminate() == 0, srv.output
