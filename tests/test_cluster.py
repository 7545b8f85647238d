"""The cluster (router + Ray shard actors) gives the single-process answers on the same data.

A local Ray cluster is started once for the module (``ray.init(num_cpus=2)``
on 127.0.0.1, no dashboard) with clusters of 1, 2 and 4 shards; each
hypothesis example writes the same random events into a fresh project of a
plain :class:`~cohortd.service.Project` and of every cluster, then compares
every condition type, overlap, percentiles, membership and changes.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import ray
from cohortd.cluster.partition import shard_of, split_table
from cohortd.cluster.router import ClusterWorkspace, global_threshold
from cohortd.engine.evaluate import top_percent_mask
from cohortd.service import Workspace
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

DAY = 86_400_000
T = 1_760_000_000_000  # the as-of instant of every comparison
SHARD_COUNTS = (1, 2, 4)
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
"""Phases of the heavier examples: a failure is reported as found (shrinking over Ray takes minutes)."""

#: every condition type of the language (and the algebra), over the generated data
DEFINITIONS = [
    'did("A")',
    'did("A") >= 2 in last 10d',
    'did("B" where x > 2) between 20d ago and 5d ago',
    "did(any) in last 3d",
    'sum(x, "A") >= 5 in last 30d',
    'avg(x, "B") > 2',
    "min(x, any) <= 1",
    'max(x, "C") >= 4',
    "distinct(x, any) >= 2",
    "active_days(any) >= 2 in last 30d",
    "active_periods(any, 1w) >= 2 in last 30d",
    'sequence("A", "B") within 7d in last 30d',
    'first did("C") in last 15d',
    "top 30% by count(any) in last 30d",
    'top 50% by sum(x, "A")',
    "top 25% by active_days(any)",
    'user.plan == "pro"',
    'did("A" where x in (1, 2)) between 1 and 3 since 2025-09-15',
    'did("B" where x not in (0) and x exists) between 2025-09-01 and 2025-10-01',
    'did("C" where tag contains "a" or tag not exists) == 0',
    'did("A") and not did("C") in last 10d',
    'did("B") or user.plan == "free"',
    'top 40% by count(any) and did("C")',
    'in_cohort("pct") or did("C") >= 3',
]
SAVED = {"a": 'did("A") >= 2', "pct": "top 20% by count(any) in last 30d", "b": 'did("B") in last 20d'}


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory):
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    root = tmp_path_factory.mktemp("cluster")
    made = {n: ClusterWorkspace(root / f"c{n}", n, namespace=f"test-{n}") for n in SHARD_COUNTS}
    single = Workspace(root / "single")
    yield single, made
    single.close()
    for c in made.values():
        c.close()
    ray.shutdown()


events_st = st.lists(
    st.tuples(
        st.integers(0, 24),  # user
        st.sampled_from(["A", "B", "C"]),
        st.integers(1, 40 * DAY),  # how long before T
        st.integers(0, 5),  # x
    ),
    min_size=1,
    max_size=120,
)
plans_st = st.dictionaries(st.integers(0, 24), st.sampled_from(["free", "pro"]), max_size=25)

_projects = itertools.count()


def _load(project, events, plans) -> None:
    tags = ["ab", "b", None]
    project.ingest(
        [
            {"user_id": f"u{u}", "event_type": e, "time": T - ago, "x": x, "tag": tags[x % 3]}
            for u, e, ago, x in events
        ]
    )
    if plans:
        project.upsert_user_properties([{"user_id": f"u{u}", "plan": p} for u, p in plans.items()])
    for name, text in SAVED.items():
        project.create_cohort(name, text)


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=events_st, plans=plans_st)
def test_same_answers_as_one_process(clusters, events, plans) -> None:
    single, made = clusters
    name = f"p{next(_projects)}"
    reference = single.project(name)
    _load(reference, events, plans)
    users = [f"u{i}" for i in range(26)]  # u25 is unknown everywhere
    for n, cluster in made.items():
        project = cluster.project(name)
        _load(project, events, plans)
        for text in DEFINITIONS:
            want = reference.members(definition=text, as_of=T)
            got = project.evaluate_members(definition=text, as_of=T)
            assert got.members() == want, (n, text)
            assert project.evaluate(definition=text, as_of=T).size == len(want), (n, text)
        for cohort in SAVED:
            assert project.members(cohort, as_of=T) == reference.members(cohort, as_of=T), (n, cohort)
        names = list(SAVED)
        ov, want_ov = project.overlap(names, as_of=T), reference.overlap(names, as_of=T)
        assert (ov.sizes, ov.intersections, ov.jaccard) == (
            want_ov.sizes,
            want_ov.intersections,
            want_ov.jaccard,
        )
        want_matrix = reference.check_membership(users, names, as_of=T)
        assert project.check_membership(users, names, as_of=T) == want_matrix
        for u in users[::5]:
            assert project.user_cohorts(u, as_of=T) == reference.user_cohorts(u, as_of=T), (n, u)
            assert project.is_member(u, "pct", as_of=T) == reference.is_member(u, "pct", as_of=T)


@settings(max_examples=60, deadline=None)
@given(
    metric=st.lists(st.integers(0, 6), min_size=0, max_size=40),
    percent=st.sampled_from([0.5, 1, 10, 20, 33.3, 50, 99, 100]),
    shards=st.integers(1, 4),
)
def test_two_phase_threshold_equals_one_pass(metric, percent, shards) -> None:
    """The router's global q from per-shard distributions selects what one pass over every user selects."""
    import numpy as np

    values = np.array(metric, dtype=np.float64)
    known = np.ones(len(values), bool)
    want = top_percent_mask(values, known, percent)
    parts = [values[i::shards] for i in range(shards)]
    dists = [np.unique(p, return_counts=True) for p in parts]
    all_v = np.concatenate([d[0] for d in dists])
    all_c = np.concatenate([d[1] for d in dists])
    uniq, inv = np.unique(all_v, return_inverse=True)
    q = global_threshold(uniq, np.bincount(inv, weights=all_c).astype(np.int64), percent)
    got = (values > 0) & (values >= q)
    assert (got == want).all()


def test_partition_keeps_every_row_once() -> None:
    import pyarrow as pa

    table = pa.table({"user_id": [f"u{i % 7}" for i in range(50)], "n": list(range(50))})
    parts = split_table(table, 3)
    assert sorted(r for _, rows in parts for r in rows.tolist()) == list(range(50))
    for s, (part, _) in enumerate(parts):
        assert all(shard_of(u, 3) == s for u in part.column("user_id").to_pylist())


def test_shard_count_is_fixed(clusters, tmp_path: Path) -> None:
    from cohortd.errors import InvalidArgumentError

    _, made = clusters
    with pytest.raises(InvalidArgumentError, match="no rebalancing"):
        ClusterWorkspace(made[2].data_dir, 4, namespace="test-2")


def test_dead_shard_loses_no_acknowledged_event(clusters) -> None:
    """Kill a shard actor mid-ingest: reads fail UNAVAILABLE naming it until Ray restarted it from
    its directory; batches for the other shards keep landing; every acknowledged event is there."""
    import threading
    import time

    from cohortd.errors import ShardUnavailableError

    _, made = clusters
    cluster = made[2]
    project = cluster.project("killed")
    project.create_cohort("seen", "did(any)")
    acked: list[int] = []
    refused: list[str] = []
    stop = threading.Event()
    users = [f"k{i}" for i in range(12)]
    on_shard_0 = [u for u in users if shard_of(u, 2) == 0]

    def ingest() -> None:
        b = 0
        while not stop.is_set():
            rows = [{"user_id": u, "event_type": f"B{b}", "time": T - DAY} for u in users]
            try:
                project.ingest(rows)
                acked.append(b)
            except ShardUnavailableError as exc:
                refused.append(str(exc))
                project.ingest([r for r in rows if r["user_id"] in on_shard_0])  # the other shard continues
            b += 1
            time.sleep(0.02)

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        time.sleep(0.5)
        ray.kill(cluster.shards.actors[1], no_restart=False)
        deadline = time.monotonic() + 60
        unavailable = None
        while unavailable is None and time.monotonic() < deadline:
            try:
                project.evaluate(definition="did(any)", as_of=T)
            except ShardUnavailableError as exc:
                unavailable = exc
            time.sleep(0.05)
        assert unavailable is not None and "shard 1" in str(unavailable)
        partial = project.evaluate(definition="did(any)", as_of=T, partial=True)
        assert partial.missing_shards in ([1], [])  # [] only if it came back in between
        while time.monotonic() < deadline:  # back: answers again from its replayed directory
            try:
                project.evaluate(definition="did(any)", as_of=T)
                break
            except ShardUnavailableError:
                time.sleep(0.1)
        time.sleep(0.3)  # a few more batches after the restart
    finally:
        stop.set()
        writer.join()
    assert refused and all("shard 1" in r for r in refused)
    assert acked
    for b in acked:  # every acknowledged batch, whole, on both shards
        assert project.evaluate(definition=f'did("B{b}")', as_of=T).size == len(users), b
    assert project.members("seen") == sorted(users)  # the catalog copy survived the restart


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=events_st, second=events_st, third=events_st)
@pytest.mark.parametrize(
    "text", ['did("A") >= 2 or (did("B") and not did("C"))', 'top 30% by count(any) or did("C") >= 3']
)
def test_changes_resume_across_the_cluster(clusters, text, first, second, third) -> None:
    """Members at a cluster version plus the changes after it, read in two resumed pieces,
    are the single-process members now: nothing lost, nothing repeated (a percentile cohort's
    changes come from the router's log of two-phase refreshes)."""
    single, made = clusters
    name = f"w{next(_projects)}"
    reference = single.project(name)
    for batch in (first, second, third):
        reference.ingest([{"user_id": f"u{u}", "event_type": e, "time": T - a} for u, e, a, _ in batch])
    want = set(reference.members(definition=text))
    for n, cluster in made.items():
        project = cluster.project(name)
        project.ingest([{"user_id": f"u{u}", "event_type": e, "time": T - a} for u, e, a, _ in first])
        project.create_cohort("w", text)
        start = project.evaluate_members("w")  # members "now" and the cluster version they were read at
        members = set(start.members())
        assert start.version > 0
        versions = []
        for batch in (second, third):
            project.ingest([{"user_id": f"u{u}", "event_type": e, "time": T - a} for u, e, a, _ in batch])
            upto = project.evaluate("w").version  # read-your-writes: the batch is folded in
            for change in project.changes(["w"], versions[-1] if versions else start.version, upto):
                members |= set(change.entered)
                members -= set(change.exited)
            versions.append(upto)
        assert members == want, n
        assert versions == sorted(versions)


def test_partial_answer_only_when_asked_over_grpc(clusters) -> None:
    """Over a real gRPC server on the cluster: a down shard is UNAVAILABLE naming it, unless the
    client sends ``cohortd-partial: 1``; then the answer comes from the others and the trailer says so."""
    import time

    import grpc
    from cohortd.client import Client
    from cohortd.client.types import RemoteError
    from cohortd.server.app import build_server
    from cohortd.v1 import cohortd_pb2 as pb
    from cohortd.v1 import cohortd_pb2_grpc as pb_grpc

    _, made = clusters
    cluster = made[4]
    project = cluster.project("partial")
    users = [f"p{i}" for i in range(40)]
    project.ingest([{"user_id": u, "event_type": "A", "time": T - DAY} for u in users])
    on_3 = sum(shard_of(u, 4) == 3 for u in users)
    server = build_server(cluster, "127.0.0.1:0")
    server.start()
    try:
        with (
            Client(server.address, project="partial", retries=0) as strict,  # no retry: see the error
            Client(server.address, project="partial", partial=True) as lenient,
        ):
            assert strict.evaluate(definition='did("A")', as_of=T).size == len(users)
            ray.kill(cluster.shards.actors[3], no_restart=False)
            deadline = time.monotonic() + 60
            error = None
            while error is None and time.monotonic() < deadline:
                try:
                    strict.evaluate(definition='did("A")', as_of=T)
                    time.sleep(0.05)
                except RemoteError as exc:
                    error = exc
            assert error is not None and error.code == grpc.StatusCode.UNAVAILABLE and "shard 3" in str(error)
            channel = grpc.insecure_channel(server.address)
            stub = pb_grpc.CohortdStub(channel)
            req = pb.EvaluateRequest(project="partial")
            req.target.definition.text = 'did("A")'
            req.as_of.FromMilliseconds(T)
            resp, call = stub.Evaluate.with_call(req, metadata=(("cohortd-partial", "1"),), timeout=30)
            trailer = dict(call.trailing_metadata() or ())
            if trailer.get("cohortd-missing-shards") == "3":  # still down: the others' answer
                assert resp.size == len(users) - on_3
            else:  # came back in between: the whole answer
                assert resp.size == len(users)
            channel.close()
            assert lenient.evaluate(definition='did("A")', as_of=T).size in (len(users) - on_3, len(users))
            while time.monotonic() < deadline:  # back: the whole answer again
                try:
                    assert strict.evaluate(definition='did("A")', as_of=T).size == len(users)
                    break
                except RemoteError:
                    time.sleep(0.1)
            else:
                raise AssertionError("shard 3 did not come back")
    finally:
        server.stop(0)


def test_bad_input_is_the_single_process_error(clusters) -> None:
    """Errors raised on a shard reach the caller as themselves (the status table maps them)."""
    from cohortd.errors import AlreadyExistsError, DefinitionError, NotFoundError, ParseError, ResyncRequired

    single, made = clusters
    project = made[2].project("errors")
    project.ingest([{"user_id": "e1", "event_type": "A", "time": T - DAY, "x": 1}])
    for who in (project, single.project("errors")):  # raised on a shard, as in one process
        with pytest.raises(DefinitionError, match="nope"):
            who.evaluate(definition='in_cohort("nope")', as_of=T)
    with pytest.raises(NotFoundError):
        project.evaluate("missing", as_of=T)
    with pytest.raises(ParseError):
        project.evaluate(definition="did(", as_of=T)
    project.create_cohort("one", 'did("A")')
    with pytest.raises(AlreadyExistsError):
        project.create_cohort("one", 'did("A")')
    from cohortd.errors import NotInClusterError

    with pytest.raises(NotInClusterError, match="account cohorts"):  # an account spans shards
        project.create_cohort("teams", 'accounts(team): count of users who did("A") >= 2 in last 30d >= 1')
    before = project.maintainer.version
    project.ingest([{"user_id": "e9", "event_type": "A", "time": T - DAY}])
    project.create_cohort("top", "top 10% by count(any)")
    with pytest.raises(ResyncRequired):  # before the percentile cohort's log begins
        project.changes(["one", "top"], before)
    assert project.changes(["one", "top"], project.evaluate("top").version) == []
    linked = [{"user_id": "e3", "anonymous_id": "d1", "event_type": "A", "time": "not a time"}]
    report, want = project.ingest(linked), single.project("errors").ingest(linked)  # rejected: no link
    assert [(r.row, r.field) for r in report.rejected] == [(r.row, r.field) for r in want.rejected]
    report = project.ingest([{"user_id": "e2", "event_type": "A", "time": "not a time"}])
    reference = single.project("errors")
    want = reference.ingest([{"user_id": "e2", "event_type": "A", "time": "not a time"}])
    assert (report.accepted, [(r.row, r.field) for r in report.rejected]) == (
        want.accepted,
        [(r.row, r.field) for r in want.rejected],
    )


def _delivered(directory: Path) -> list[tuple[bool, list[str], list[str]]]:
    """(full, added, removed) of every file delivery in the directory, in version order."""
    import json

    out = []
    for f in sorted(directory.glob("*.jsonl")):  # <audience>.<version:020d>.<seq>-of-<of>.jsonl
        rows = [json.loads(line) for line in f.read_text().splitlines()]
        full = all(r["full"] for r in rows) if rows else False
        out.append(
            (
                full,
                sorted(r["id"] for r in rows if r["change"] == "added"),
                sorted(r["id"] for r in rows if r["change"] == "removed"),
            )
        )
    return out


def _held(deliveries: list[tuple[bool, list[str], list[str]]]) -> set[str]:
    held: set[str] = set()
    for full, added, removed in deliveries:
        held = set() if full else held - set(removed)
        held |= set(added)
    return held


def test_audience_delivery_on_a_cluster_equals_one_process(clusters, tmp_path: Path) -> None:
    """Audiences delivered by the router (merged change stream, router ids, identifiers read from
    the shards) send the same deliveries and write the same sync logs as one process; a holdout
    holds out exactly the users its key picks."""
    import time

    from cohortd.audiences.holdout import holdout_score
    from cohortd.audiences.identifiers import hash_value

    single, made = clusters
    name = f"aud{next(_projects)}"
    sides = {"single": single.project(name), "cluster": made[2].project(name)}

    def did_a(us):
        return [{"user_id": u, "event_type": "A", "time": T - k * DAY} for u in us for k in (1, 2)]

    def did_c(us):
        return [{"user_id": u, "event_type": "C", "time": T - DAY} for u in us]

    def emails(us):
        return [{"user_id": u, "email": f" {u.upper()}@Example.com"} for u in us]

    steps = [  # (events, user properties)
        (did_a([f"a{i}" for i in range(20)]), emails([f"a{i}" for i in range(0, 29, 2)])),
        (did_a([f"a{i}" for i in range(20, 30)]) + did_c([f"a{i}" for i in range(5)]), []),
        (did_a(["a30"]) + did_c(["a5", "a22"]), emails(["a1", "a3", "a30"])),
    ]
    text = 'did("A") >= 2 and not did("C")'
    dirs = {}
    for side, p in sides.items():
        p.ingest(steps[0][0])
        p.upsert_user_properties(steps[0][1])
        p.create_cohort("aud", text)
        for audience in ("plain", "mail"):
            dirs[side, audience] = tmp_path / side / audience
            p.create_destination(f"{audience}-dir", directory=str(dirs[side, audience]), fmt="jsonl")
        p.create_audience("plain", "aud", "plain-dir")
        p.create_audience("mail", "aud", "mail-dir", identifier="user.email", hashing="sha256", holdout="30%")
        p.audiences.start()

    def want(side: str, audience: str) -> set[str]:
        p = sides[side]
        members = p.members("aud")
        if audience == "plain":
            return set(members)
        mail = {u for u in members if any(r.get("user_id") == u for s in steps[:done] for r in s[1])}
        uid = p.audiences.store.audience("mail").uid
        return {hash_value(f" {u.upper()}@Example.com") for u in mail if holdout_score(uid, u) >= 0.3}

    def converged() -> bool:
        return all(_held(_delivered(dirs[key])) == want(*key) for key in dirs)

    done = 1
    for step in range(len(steps)):
        deadline = time.monotonic() + 60
        while not converged():
            assert time.monotonic() < deadline, f"step {step}: not delivered"
            time.sleep(0.1)
        if step == len(steps) - 1:
            break
        events, props = steps[step + 1]
        for p in sides.values():  # one delivery per step on both sides: deliver once the step is whole
            for audience in ("plain", "mail"):
                p.pause_audience(audience)
        time.sleep(1.0)  # a worker's step in progress finishes (it sees nothing new)
        for p in sides.values():
            p.ingest(events)
            if props:
                p.upsert_user_properties(props)
            p.evaluate("aud")  # every shard folds the step in
            for audience in ("plain", "mail"):
                p.resume_audience(audience)
        done += 1
    plain = {side: _delivered(dirs[side, "plain"]) for side in sides}
    assert plain["cluster"] == plain["single"] and len(plain["single"]) == len(steps)
    assert plain["single"][0][0] and not any(full for full, _, _ in plain["single"][1:])

    def log(side: str, audience: str) -> list[tuple]:
        entries = sides[side].audience_log(audience, 100)
        return [(e.full, e.seq, e.of, e.added, e.removed, e.skipped, e.status) for e in entries]

    assert log("cluster", "plain") == log("single", "plain")
    info = {side: sides[side].get_audience("plain") for side in sides}
    assert info["cluster"].acknowledged_members == info["single"].acknowledged_members
    assert {i.status for i in info.values()} == {"active"}
    for p in sides.values():
        p.audiences.close()  # stop the workers (the projects close with the module)


def test_rename_and_delete_through_the_catalog_of_record(clusters) -> None:
    """Rename (references follow) and delete (refused while referenced) give the single-process
    catalog, history and members; a shard that missed a rename catches up from the record."""
    from cohortd.errors import NotFoundError, ReferencedError

    single, made = clusters
    name = f"g{next(_projects)}"
    sides = {0: single.project(name)} | {n: made[n].project(name) for n in SHARD_COUNTS}
    events = [
        {"user_id": f"g{u}", "event_type": e, "time": T - (u % 5 + 1) * DAY}
        for u in range(30)
        for e in ("A", "A", "B", "C")[: u % 4 + 1]
    ]
    more = [{"user_id": f"g{u}", "event_type": "A", "time": T - DAY} for u in range(30, 36) for _ in "AA"]
    results = {}
    for n, p in sides.items():
        p.ingest(events)
        p.create_cohort("a", 'did("A") >= 2')
        p.create_cohort("b", 'in_cohort("a") or did("C")', "refers to a")
        p.create_cohort("c", 'did("B") and not in_cohort("b")')
        before = p._entries() if n else None
        with pytest.raises(ReferencedError, match="cohort 'b'"):
            p.delete_cohort("a")
        rec, followed = p.rename_cohort("a", "a2")
        if n == 2:  # shard 1 misses the rename (rolled back), then catches up as after a restart
            made[2].shards.call("sync_catalog", {1: (name, before)})
            p._resync(1)
        p.ingest(more)  # maintained members carry on under the new name
        with pytest.raises(NotFoundError):
            p.members("a")
        results[n] = {
            "renamed": (rec.name, rec.version, rec.definition, followed),
            "cohorts": [(r.name, r.version, r.definition, r.description) for r in p.list_cohorts(True)],
            "history": [(v.version, v.definition, v.note) for v in p.cohort_history("b")],
            "members": {c: p.members(c) for c in ("a2", "b", "c")},
        }
        with pytest.raises(ReferencedError, match="cohort 'c'"):
            p.delete_cohort("b")
        p.delete_cohort("c")
        p.delete_cohort("b")
        results[n]["after"] = ([r.name for r in p.list_cohorts(True)], p.members("a2"))
        with pytest.raises(NotFoundError):
            p.delete_cohort("b")
    for n in SHARD_COUNTS:
        assert results[n] == results[0], n
    assert results[0]["renamed"][3] == ["b"]


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
@given(events=events_st, plans=plans_st)
def test_analyses_add_up_to_the_one_process_answers(clusters, events, plans) -> None:
    """Backtest, retention, funnel (medians, splits) and journeys summed over the shards are the
    single-process answers; a percentile population is refused, naming why."""
    from cohortd.errors import NotInClusterError

    single, made = clusters
    name = f"an{next(_projects)}"
    reference = single.project(name)
    _load(reference, events, plans)
    import time

    now = int(time.time() * 1000)  # entries into "b" now (after T: the other analyses do not see them)
    recent = [{"user_id": f"u{u}", "event_type": "B", "time": now - DAY} for u in range(0, 25, 3)]
    reference.ingest(recent)
    lo, hi = T - 40 * DAY, T - DAY
    calls = {
        "backtest": lambda p: p.backtest(
            definition='did("A")', outcome='did("B")', horizon="10d", as_of=T - 15 * DAY
        ),
        "backtest every": lambda p: p.backtest(
            "a", outcome='did("C")', horizon="5d", every="7d", start=T - 30 * DAY, end=T - 5 * DAY,
            baseline="cohort", baseline_cohort="b",
        ),
        "retention": lambda p: p.retention(
            '"A"', "any", lo, hi, period="3d", periods=5, as_of=T, cohort="b", baseline="rest"
        ),
        "funnel": lambda p: p.funnel(['"A"', '"B"', '"C"'], lo, hi, window="20d", as_of=T, split_cohort="a"),
        "funnel by plan": lambda p: p.funnel(
            ["any", '"B"'], lo, hi, window=None, as_of=T, split_property="plan"
        ),
        "journeys": lambda p: p.journeys(
            '"A"', lo, hi, after="10d", before="10d", depth=2, top=3, as_of=T, returned_within="5d",
            did=['"C"'],
        ),
        "migration": lambda p: Matrices(p.migration(["a", "b", 'did("C") in last 10d'], lo, T, "9d")),
        "entries": lambda p: Entries(p.migration_entries(["a"], "b")),
    }  # fmt: skip
    if not plans:
        del calls["funnel by plan"]  # no such property: an error everywhere
    reference.evaluate("b")
    want = {what: call(reference).to_json() for what, call in calls.items()}
    assert want["entries"]["entries"] == len(recent)
    for n, cluster in made.items():
        project = cluster.project(name)
        _load(project, events, plans)
        project.ingest(recent)
        project.evaluate("b")  # every shard folds the batch in (the reference did on ingest)
        for what, call in calls.items():
            assert call(project).to_json() == want[what], (n, what)
        with pytest.raises(NotInClusterError, match="top P%"):
            project.retention('"A"', "any", lo, hi, as_of=T, cohort="pct")
        with pytest.raises(NotInClusterError, match="top P%"):
            project.migration(["a", "pct"], lo, T)
        with pytest.raises(NotInClusterError, match="k-means"):
            project.personas()


class Matrices:
    """Transition matrices as JSON (the analyses' results have ``to_json``; these ``to_dict``)."""

    def __init__(self, matrices: list) -> None:
        self.matrices = matrices

    def to_json(self) -> list:
        return [m.to_dict(str) for m in self.matrices]


class Entries:
    def __init__(self, entries) -> None:
        self.entries = entries

    def to_json(self) -> dict:
        from dataclasses import asdict

        out = asdict(self.entries)
        assert out.pop("log_from_ms") > 0  # where each process's log starts (its open time)
        return out


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
@given(events=events_st, plans=plans_st)
def test_explain_schema_and_population_merge_to_the_one_process_answers(clusters, events, plans) -> None:
    """Explain (per-step sizes add), the schema document (counts add, top values from the sums)
    and population series (sizes, entries and exits add) equal the single-process ones."""
    from cohortd.errors import NotInClusterError

    single, made = clusters
    name = f"k{next(_projects)}"
    reference = single.project(name)
    _load(reference, events, plans)

    def plan(p, **target):
        return [(s.text, s.size, s.depth) for s in p.explain(as_of=T, **target)]

    targets = [{"name": "a"}, {"name": "b"}, {"definition": 'in_cohort("pct") or did("C") >= 2'}]
    targets += [{"definition": text} for text in DEFINITIONS[::4]]
    want_plans = [plan(reference, **t) for t in targets]
    want_schema = reference.schema(3)
    series = {"start": T - 20 * DAY, "end": T, "step": "2d"}
    want_pop = [reference.population("a", **series).to_dict(), reference.population(
        definition='did("B") in last 5d', **series).to_dict()]  # fmt: skip
    for n, cluster in made.items():
        project = cluster.project(name)
        _load(project, events, plans)
        assert [plan(project, **t) for t in targets] == want_plans, n
        assert project.schema(3) == want_schema, n
        got_pop = [project.population("a", **series).to_dict(), project.population(
            definition='did("B") in last 5d', **series).to_dict()]  # fmt: skip
        assert got_pop == want_pop, n
        with pytest.raises(NotInClusterError, match="base count"):
            project.breakdown("a", by="user.plan")


LINTED = [
    'did("Z") >= 2 in last 7d',  # unknown event type
    'did("A" where colour == "red")',  # unknown event property
    'did("A" where tag == "zz") in last 9d',  # unknown value (with a suggestion)
    'did("C" where tag in ("ab", "b")) in last 3d',
    'user.plan == "gold"',  # unknown user value
    "user.tier exists",  # unknown user property
    'did("B") >= 3',  # count without a window
    'did("A") >= 2',  # overlaps saved cohort "a"
    "top 30% by count(any)",
]


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
@given(events=events_st, plans=plans_st)
def test_lint_warnings_come_from_every_shard(clusters, events, plans) -> None:
    """Evaluate answers' warnings and the lint on save (overlaps included) are the single-process
    ones: the router lints against every shard's data merged, not a sample."""
    single, made = clusters
    name = f"l{next(_projects)}"
    reference = single.project(name)
    twice = [{"user_id": "l0", "event_type": "A", "time": T - k * DAY} for k in (1, 2)]  # "a" not empty
    _load(reference, events, plans)
    reference.ingest(twice)
    want = [(reference.warnings(definition=d), reference.lint(d, "weekly buyers")) for d in LINTED]
    want_saved = [reference.warnings(c) for c in SAVED]
    for n, cluster in made.items():
        project = cluster.project(name)
        _load(project, events, plans)
        project.ingest(twice)
        got = [(project.warnings(definition=d), project.lint(d, "weekly buyers")) for d in LINTED]
        assert got == want, n
        assert [project.warnings(c) for c in SAVED] == want_saved, n
    assert any(w.code == "overlaps-cohort" for _, lint in want for w in lint)
    assert {w.code for ws, _ in want for w in ws} >= {"unknown-event-type", "unknown-user-property"}


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
@given(events=events_st, plans=plans_st, doomed=st.sets(st.integers(0, 27), min_size=1, max_size=8))
def test_delete_users_routed_to_the_owning_shards(clusters, events, plans, doomed) -> None:
    """delete_users on a cluster: the report, the audit entry, the answers and the exits Changes
    reports are the single-process ones; after the purge the router forgets the ids too."""
    import json

    single, made = clusters
    name = f"d{next(_projects)}"
    ids = [f"u{i}" for i in sorted(doomed)]  # u25.. are unknown everywhere
    reference = single.project(name)
    _load(reference, events, plans)
    checked = ["b", "a"]

    def answers(p) -> dict:
        return {text: p.members(definition=text, as_of=T) for text in DEFINITIONS[::3]} | {
            c: p.members(c) for c in checked
        }

    def audit(p) -> dict:
        entry = json.loads((p.directory / "audit" / "deletions.jsonl").read_text().splitlines()[-1])
        assert entry.pop("at_ms") > 0
        return entry

    start = reference.maintainer.version
    want = reference.delete_users(ids + ids[:1])  # a repeated id is reported once
    want_changes = [(c.cohort, c.entered, c.exited) for c in reference.changes(checked, start)]
    want_answers, want_audit = answers(reference), audit(reference)
    for n, cluster in made.items():
        project = cluster.project(name)
        _load(project, events, plans)
        before = project.evaluate("b").version
        got = project.delete_users(ids + ids[:1])
        assert got.as_json() | {"audit": {}} == want.as_json() | {"audit": {}}, n
        assert audit(project) == want_audit, n
        after = project.evaluate("b").version
        got_changes = [(c.cohort, c.entered, c.exited) for c in project.changes(checked, before, after)]
        assert sorted(got_changes) == sorted(want_changes), n
        assert answers(project) == want_answers, n
    reference.delete_users(ids[:1], compact=True)
    for n, cluster in made.items():  # the purge: shards compact, the router renames its ids
        project = cluster.project(name)
        seen = project.router_ids.dense(want.found)  # as an audience would have seen them
        report = project.delete_users(ids[:1], compact=True)
        assert report.purged and not project.router_ids.forget(want.found), n  # already forgotten
        assert not set(want.found) & set(project.router_ids.external_ids(seen)), n
        assert answers(project) == answers(reference), n


CALENDAR = [
    'did("A") in this month',
    'did("B") >= 2 in last calendar week',
    "active_days(any) >= 2 in last 2 calendar weeks",
    'did("C") in this day or did("A") in last 3 calendar days',
    "active_days(any) >= 3",
    'did(any) in this year and not did("B") in this week',
]


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
@given(events=events_st, zone=st.sampled_from(["America/New_York", "Asia/Kolkata", "Pacific/Auckland"]))
def test_time_zone_applies_to_every_shard(clusters, events, zone) -> None:
    """Calendar windows and active_days in the project zone set through the router are the
    single-process answers; a shard that missed the change takes the recorded zone on resync."""
    from cohortd.errors import InvalidArgumentError

    single, made = clusters
    name = f"z{next(_projects)}"
    reference = single.project(name)
    _load(reference, events, {})
    reference.create_cohort("month", CALENDAR[0])
    assert reference.set_time_zone(zone) == zone
    want = {text: reference.members(definition=text, as_of=T) for text in CALENDAR}
    want_saved = reference.members("month", as_of=T)
    for n, cluster in made.items():
        project = cluster.project(name)
        _load(project, events, {})
        project.create_cohort("month", CALENDAR[0])
        with pytest.raises(InvalidArgumentError):
            project.set_time_zone("Mars/Olympus")
        assert project.time_zone == "UTC"
        assert project.set_time_zone(zone) == zone and project.time_zone == zone
        got = {text: project.members(definition=text, as_of=T) for text in CALENDAR}
        assert got == want, n
        assert project.members("month", as_of=T) == want_saved, n
        if n > 1:  # shard 1 misses the change (back to UTC behind the router), then catches up
            cluster.shards.call("set_time_zone", {1: (name, "UTC")})
            project._resync(1)
            assert {text: project.members(definition=text, as_of=T) for text in CALENDAR} == want, n
        assert cluster.project(name).time_zone == zone


ID_USERS = [f"i{k}" for k in range(6)]
ID_DEVICES = [f"dev{k}" for k in range(8)]
id_row_st = st.one_of(
    st.tuples(st.just("event"), st.sampled_from(ID_USERS + [None]), st.sampled_from(ID_DEVICES + [None])),
    st.tuples(st.just("alias"), st.sampled_from(ID_USERS), st.sampled_from(ID_USERS + ID_DEVICES)),
)
id_batches_st = st.lists(
    st.lists(
        st.tuples(id_row_st, st.sampled_from(["A", "B", "C"]), st.integers(1, 30 * DAY), st.integers(0, 5)),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=6,
)
ID_DEFINITIONS = [
    'did("A") >= 2',
    'did("B" where x > 2) in last 20d',
    'sequence("A", "B") within 10d',
    'first did("C") in last 15d',
    "active_days(any) >= 3",
    'user.plan == "pro"',
    'user.plan == "free" or did("C")',
    "top 30% by count(any)",
]


def _id_rows(batch) -> list[dict]:
    rows = []
    for (kind, user, other), event, ago, x in batch:
        if kind == "alias":
            rows.append({"user_id": user, "previous_id": other, "event_type": event, "time": T - ago, "x": x})
        elif user is None and other is None:
            rows.append({"user_id": ID_USERS[x], "event_type": event, "time": T - ago, "x": x})
        else:
            ids = {"user_id": user, "anonymous_id": other}
            rows.append(ids | {"event_type": event, "time": T - ago, "x": x})
    return rows


def _id_answers(p) -> dict:
    ids = ID_USERS + [f"$anon:{d}" for d in ID_DEVICES]
    return {
        "members": {d: p.members(definition=d, as_of=T) for d in ID_DEFINITIONS},
        "saved": p.members("linked", as_of=T),
        "membership": p.check_membership(ids, ["linked"], as_of=T),
    }


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
@given(batches=id_batches_st, plans=st.lists(st.tuples(st.sampled_from(ID_USERS), st.booleans(),
       st.sampled_from(["free", "pro"])), max_size=6))  # fmt: skip
def test_identity_links_equal_one_process(clusters, batches, plans) -> None:
    """Random links (anonymous ids, aliases) between ids on different shards: after every batch the
    cluster's members, membership of every id and ingest reports are the single-process ones
    (people moved to their canonical id's shard with their events and user properties)."""
    single, made = clusters
    name = f"id{next(_projects)}"
    reference = single.project(name)
    sides = {0: reference} | {n: made[n].project(name) for n in SHARD_COUNTS}
    props = [{"user_id": u, "plan": v} | ({"time": T - 3 * DAY} if dated else {}) for u, dated, v in plans]
    for p in sides.values():
        p.create_cohort("linked", 'did("A") and did("B")')
    for k, batch in enumerate(batches):
        rows = _id_rows(batch)
        want_report = None
        for n, p in sides.items():
            report = p.ingest(rows)
            got = (report.accepted, [(r.row, r.field) for r in report.rejected])
            want_report = want_report or got
            assert got == want_report, (n, k)
            if k == 0 and props:
                p.upsert_user_properties(props)
        want = _id_answers(reference)
        for n in SHARD_COUNTS:
            assert _id_answers(sides[n]) == want, (n, k)
    doomed = [ID_USERS[0], f"$anon:{ID_DEVICES[0]}", ID_DEVICES[1]]  # a person goes whole, by any id
    want_deleted = reference.delete_users(doomed)
    want = _id_answers(reference)
    for n in SHARD_COUNTS:
        deleted = sides[n].delete_users(doomed)
        assert (deleted.found, deleted.not_found) == (want_deleted.found, want_deleted.not_found), n
        assert _id_answers(sides[n]) == want, n


@pytest.mark.parametrize("step", ["move_in", "tombstone"])
def test_a_kill_mid_move_loses_nothing(clusters, step) -> None:
    """The shard a move is writing to (its copy on the target, or its tombstone on the source) is
    killed, so the linking batch fails UNAVAILABLE; the router is reopened too. The reopened
    router finishes the move from its intent record once the shard is back, the retried batch is
    stored once, and the answers (events, user properties, membership of both ids) are one process's."""
    import time

    from cohortd.errors import ShardUnavailableError

    single, made = clusters
    cluster = made[2]
    name = f"mv{next(_projects)}"
    device = next(f"m{k}" for k in range(200) if shard_of(f"$anon:m{k}", 2) == 0)
    user = next(f"mu{k}" for k in range(200) if shard_of(f"mu{k}", 2) == 1)
    before = [{"anonymous_id": device, "event_type": "A", "time": T - k * DAY, "x": k} for k in (1, 2, 3)]
    props = [{"user_id": user, "plan": "pro", "time": T - 5 * DAY}]
    link = [{"user_id": user, "anonymous_id": device, "event_type": "B", "time": T - DAY, "x": 9}]
    checks = ['did("A") == 3', 'did("B") == 1', 'user.plan == "pro"', 'sequence("A", "B") within 9d']
    reference = single.project(name)
    for p in (reference, cluster.project(name)):
        p.ingest(before)
        p.upsert_user_properties(props)
    reference.ingest(link)
    project = cluster.project(name)
    victim = 1 if step == "move_in" else 0  # the target holds the user, the source the device
    real_call = cluster.shards.call

    def kill_first(method, work, *args, **kwargs):
        if method == step:
            ray.kill(cluster.shards.actors[victim], no_restart=False)
            cluster.shards._mark_down(victim)  # what the monitor's next ping finds (not left to a race)
        return real_call(method, work, *args, **kwargs)

    cluster.shards.call = kill_first
    try:
        with pytest.raises(ShardUnavailableError, match=f"shard {victim}"):
            project.ingest(link)
    finally:
        cluster.shards.call = real_call
    assert project.identity.pending(), "the move's intent is recorded"
    project.close()  # the router goes too
    del cluster._projects[name]
    deadline = time.monotonic() + 90
    while not cluster.shards.ping(victim):
        assert time.monotonic() < deadline, "the shard did not come back"
        time.sleep(0.2)
    reopened = cluster.project(name)
    assert not reopened.identity.pending()  # finished at open
    reopened.ingest(link)  # the client retries the unacknowledged batch
    for text in checks:
        assert reopened.members(definition=text, as_of=T) == reference.members(definition=text, as_of=T)
    ids = [user, f"$anon:{device}"]
    assert reopened.check_membership(ids, [], as_of=T) == reference.check_membership(ids, [], as_of=T)
    assert reopened.members(definition="did(any)", as_of=T) == [user]
