"""Account (group) cohorts: ``accounts(type): count of users who X OP n`` and ``account.<prop>``.

Proof, two ways: random data with group keys and account properties, evaluated by
the engine against the plain-Python oracle (``tests/oracle.py``, memberships and
account properties derived from the raw rows here) and against DuckDB SQL written
over the raw rows; plus the language round trip (text, builder, protobuf), the
ingest shapes (Amplitude ``groups``, Segment ``group`` calls and ``context.groupId``),
durability, identity merges and deletion, and a real gRPC server (size, members,
membership, overlap, Watch).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cohortd import Engine
from cohortd.errors import DefinitionError, InvalidArgumentError, ParseError
from cohortd.lang import account, accounts, count_of_users, did, parse, to_text, user
from cohortd.lang import ast as A
from cohortd.wire.tree import expr_from_proto, expr_to_proto
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.oracle import Oracle, current_user_properties
from support.strategies import account_exprs

DAY = 86_400_000
T0 = int(dt.datetime(2026, 3, 10, 13, 0, tzinfo=dt.UTC).timestamp() * 1000)
CLOCK = T0 + 2 * DAY
EVENT_TYPES = ["view", "buy"]
PROPS = {"s1": "string", "i1": "int"}
STRING_VALUES = ["free", "pro"]
USER_PROPS = {"plan": "string"}
ACCOUNT_PROPS = {"tier": "string", "seats": "int"}
GROUP_TYPES = ["company", "team"]
KEYS = ["acme", "globex", "initech"]
WINDOWS = st.one_of(st.just(A.Ever()), st.sampled_from([A.Last(A.Duration(n, "d")) for n in (1, 7, 30)]))
SETTINGS = settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# ------------------------------------------------------------------ language
@given(account_exprs(GROUP_TYPES, EVENT_TYPES, PROPS, STRING_VALUES, USER_PROPS, ACCOUNT_PROPS))
@settings(deadline=None, max_examples=200)
def test_account_trees_round_trip_through_text_and_protobuf(tree: A.Accounts) -> None:
    text = to_text(tree)
    assert parse(text) == tree
    assert expr_from_proto(expr_to_proto(tree)) == tree


def test_the_issue_syntax_parses_and_prints_as_written() -> None:
    text = 'accounts(company): count of users who did("Feature Used") >= 3 in last 30d >= 5'
    tree = parse(text)
    inner = A.Did(A.EventRef("Feature Used"), A.Compare(">=", 3), A.Last(A.Duration(30, "d")))
    assert tree == A.Accounts("company", A.UserCount(inner, A.Compare(">=", 5)))
    assert to_text(tree) == text
    both = parse(text + ' and account.plan == "enterprise"')
    assert both.expr.right == A.AccountProp(A.PropCmp("plan", "==", "enterprise"))  # type: ignore[attr-defined]
    # with no window, the one comparison after did(E) is the number of users (did(E) alone: at least one)
    ever = parse('accounts(company): count of users who did("A") >= 5')
    assert ever == A.Accounts("company", A.UserCount(A.Did(A.EventRef("A")), A.Compare(">=", 5)))
    assert to_text(ever) == 'accounts(company): count of users who did("A") >= 5'
    twice = parse('accounts(company): count of users who did("A") >= 2 >= 5')
    assert twice.expr.cohort.cmp == A.Compare(">=", 2)  # type: ignore[attr-defined]
    assert to_text(twice) == 'accounts(company): count of users who (did("A") >= 2) >= 5'


def test_builder_builds_the_same_tree() -> None:
    built = accounts(
        "company",
        count_of_users(did("Feature Used").at_least(3).in_last(days=30)).at_least(5)
        & ~(account.plan == "free")
        | count_of_users(user.plan == "pro").between(1, 2),
    )
    assert built.expr == parse(str(built))
    assert str(built) == (
        'accounts(company): count of users who did("Feature Used") >= 3 in last 30d >= 5 and '
        'not account.plan == "free" or count of users who user.plan == "pro" between 1 and 2'
    )
    with pytest.raises(ValueError, match="needs a comparison"):
        accounts("company", count_of_users(did("A")))


@pytest.mark.parametrize(
    "text, where",
    [
        ('accounts(company): count of users who (did("A") >= 5)', "parentheses"),
        ('accounts(company): count of users who active_days("A") >= 5', "parentheses"),
        ('accounts(company): did("A")', "account condition"),
        ('did("A") and accounts(company): account.x == 1', "unexpected"),
        ("accounts(company) account.x == 1", "':'"),
        ('accounts(company): count of users who did("A") in last 7d >= -1', "negative count"),
        ('accounts(company): account.x == 1 and did("A")', "account condition"),
    ],
)
def test_bad_account_definitions_are_parse_errors(text: str, where: str) -> None:
    with pytest.raises(ParseError, match=where):
        parse(text)


def test_trees_that_misplace_account_nodes_are_rejected() -> None:
    from cohortd.lang import as_expr

    count = A.UserCount(A.Did(A.EventRef("A")), A.Compare(">=", 1))
    for bad in (
        A.And(A.Accounts("company", count), A.Did(A.EventRef("A"))),
        A.Accounts("company", A.Did(A.EventRef("A"))),
    ):
        with pytest.raises(DefinitionError):
            as_expr(bad)


# ------------------------------------------------------------------ data sets
@st.composite
def datasets(draw: st.DrawFn) -> dict[str, Any]:
    """Rows with group keys of two types, account and user properties, in batches."""
    users = [f"u{i}" for i in range(draw(st.integers(1, 7)))]
    rows: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 28))):
        row: dict[str, Any] = {
            "user_id": draw(st.sampled_from(users)),
            "event_type": draw(st.sampled_from(EVENT_TYPES)),
            "time": T0 + draw(st.integers(-40, 1)) * DAY + draw(st.sampled_from([0, -1, 1])),
        }
        if draw(st.booleans()):
            row["s1"] = draw(st.sampled_from(STRING_VALUES))
        if draw(st.booleans()):
            row["i1"] = draw(st.integers(0, 3))
        groups = {g: draw(st.sampled_from(KEYS)) for g in GROUP_TYPES if draw(st.integers(0, 2))}
        if groups:
            row["groups"] = groups
            props = {}
            if draw(st.integers(0, 2)) == 0:
                props["tier"] = draw(st.sampled_from(STRING_VALUES))
            if draw(st.integers(0, 2)) == 0:
                props["seats"] = draw(st.integers(0, 4))
            if props:
                row["group_properties"] = props
        if draw(st.integers(0, 3)) == 0:
            row["user_properties"] = {"plan": draw(st.sampled_from(STRING_VALUES))}
        rows.append(row)
    cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=2)))
    return {"rows": rows, "cuts": cuts, "seal": draw(st.booleans())}


def load(path: Path, data: dict[str, Any]) -> Engine:
    engine = Engine.open(path, clock=lambda: CLOCK)
    bounds = [0, *data["cuts"], len(data["rows"])]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        if hi > lo:
            report = engine.ingest(data["rows"][lo:hi])
            assert not report.rejected, report.rejected
            if data["seal"]:
                engine.seal()
    return engine


def oracle_of(rows: list[dict[str, Any]]) -> Oracle:
    """The oracle's inputs derived from the raw rows, independently of the engine."""
    events = [{k: v for k, v in r.items() if k not in ("groups", "group_properties", "user_properties")}
              for r in rows]  # fmt: skip
    user_updates = [(r["user_id"], r["time"], r.get("user_properties", {})) for r in rows]
    memberships = [(r["user_id"], g, key, r["time"]) for r in rows for g, key in r.get("groups", {}).items()]
    account_updates = [
        (f"{g}\x00{key}", r["time"], r.get("group_properties", {}))
        for r in rows
        for g, key in r.get("groups", {}).items()
    ]
    props = {tuple(k.split("\x00")): v for k, v in current_user_properties(account_updates).items()}
    return Oracle(events, current_user_properties(user_updates), memberships, props)  # type: ignore[arg-type]


@given(
    datasets(),
    account_exprs(GROUP_TYPES, EVENT_TYPES, PROPS, STRING_VALUES, USER_PROPS, ACCOUNT_PROPS, windows=WINDOWS),
    st.sampled_from([T0, T0 - 5 * DAY, T0 + DAY]),
)
@SETTINGS
def test_engine_matches_the_oracle(data: dict[str, Any], tree: A.Accounts, as_of: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = load(Path(tmp), data)
        try:
            got = engine.evaluate(tree, as_of=as_of).members()
        finally:
            engine.close()
    assert got == oracle_of(data["rows"]).members(tree, as_of), to_text(tree)


# --------------------------------------------------------------- DuckDB peer
def duckdb_accounts(
    rows: list[dict[str, Any]], event: str, k: int, days: int, m: int, tier: str, T: int
) -> list[str]:
    """``accounts(company): count of users who did(event) >= k in last {days}d >= m or account.tier == tier``
    in SQL over the raw rows: membership from each (user, key)'s earliest row, the tier from
    each key's latest row carrying one (ties: the later row)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE raw(n INT, user_id TEXT, event_type TEXT, time BIGINT, company TEXT, tier TEXT)"
    )
    con.executemany(
        "INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                r["user_id"],
                r["event_type"],
                r["time"],
                r.get("groups", {}).get("company"),
                r.get("group_properties", {}).get("tier") if r.get("groups", {}).get("company") else None,
            )
            for i, r in enumerate(rows)
        ],  # fmt: skip
    )
    sql = """
    WITH known AS (SELECT user_id FROM raw WHERE time < $T GROUP BY user_id),
    members AS (
        SELECT r.company AS key, r.user_id FROM raw r JOIN known USING (user_id)
        WHERE r.company IS NOT NULL GROUP BY r.company, r.user_id HAVING min(r.time) < $T),
    active AS (  -- counts include zero: a known user without the event has did(E) == 0
        SELECT k.user_id FROM known k LEFT JOIN raw r ON r.user_id = k.user_id AND r.event_type = $event
            AND r.time >= $T - CAST($days AS BIGINT) * 86400000 AND r.time < $T
        GROUP BY k.user_id HAVING count(r.time) >= $k),
    counted AS (
        SELECT m.key, count(a.user_id) AS n FROM members m LEFT JOIN active a USING (user_id) GROUP BY m.key),
    tiers AS (
        SELECT company AS key, arg_max(tier, (time, n)) AS tier FROM raw
        WHERE company IS NOT NULL AND tier IS NOT NULL GROUP BY company)
    SELECT c.key FROM counted c LEFT JOIN tiers t USING (key) WHERE c.n >= $m OR t.tier = $tier ORDER BY c.key
    """
    params = {"T": T, "event": event, "days": days, "k": k, "m": m, "tier": tier}
    return [r[0] for r in con.execute(sql, params).fetchall()]


@given(
    datasets(),
    st.sampled_from(EVENT_TYPES),
    st.integers(0, 3),
    st.sampled_from([1, 7, 30]),
    st.integers(0, 3),
    st.sampled_from(STRING_VALUES),
    st.sampled_from([T0, T0 - 5 * DAY]),
)
@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_engine_matches_duckdb_sql(
    data: dict[str, Any], event: str, k: int, days: int, m: int, tier: str, as_of: int
) -> None:
    text = (f'accounts(company): count of users who did("{event}") >= {k} in last {days}d >= {m} '
            f'or account.tier == "{tier}"')  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        engine = load(Path(tmp), data)
        try:
            got = engine.evaluate(text, as_of=as_of).members()
        finally:
            engine.close()
    assert got == duckdb_accounts(data["rows"], event, k, days, m, tier, as_of)


# ------------------------------------------------------------- ingest shapes
def test_amplitude_and_segment_shapes_from_a_file(tmp_path: Path) -> None:
    t = "2026-03-09T12:00:00Z"
    lines = [
        {"user_id": "a1", "event_type": "view", "event_time": "2026-03-09 12:00:00",
         "groups": {"company": "acme"}, "group_properties": {"tier": "pro"}},
        {"type": "group", "userId": "s1", "groupId": "globex", "traits": {"tier": "free"}, "timestamp": t},
        {"type": "track", "userId": "s1", "event": "view", "timestamp": t, "context": {"groupId": "globex"}},
        {"type": "track", "userId": "s2", "event": "view", "timestamp": t, "context": {"groupId": "acme"}},
        {"type": "group", "userId": "s3", "groupId": "umbrella", "groupType": "team", "timestamp": t},
        {"type": "track", "userId": "s3", "event": "view", "timestamp": t},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    with Engine.open(tmp_path / "e", clock=lambda: CLOCK) as engine:
        report = engine.ingest_file(path)
        assert not report.rejected and report.accepted == len(lines)
        assert engine.evaluate("accounts(company): count of users who did(any) >= 1", as_of=T0).members() == [
            "acme",
            "globex",
        ]
        counts = "accounts(company): count of users who did(any) >= 2"
        assert engine.evaluate(counts, as_of=T0).members() == ["acme"]
        assert engine.evaluate('accounts(company): account.tier == "free"', as_of=T0).members() == ["globex"]
        assert engine.evaluate("accounts(team): account.tier not exists", as_of=T0).members() == ["umbrella"]
        # a group call is not an event: s1's membership counts, its row does not
        assert engine.evaluate('did("$identify")', as_of=T0).members() == []


@pytest.mark.parametrize(
    "row, field, reason",
    [
        ({"group_properties": {"tier": "x"}}, "group_properties", "need a group key"),
        ({"user_id": "$group:company:acme"}, "user_id", "kept for groups"),
        ({"groups": {"com:pany": "acme"}}, "$group.com:pany", "contains ':'"),
        ({"groups": {"company": 1.5}}, "$group.company", "string or integer"),
        ({"groups": "acme"}, "line", "groups must be an object"),
    ],
)
def test_bad_group_rows_are_rejected_with_a_reason(
    tmp_path: Path, row: dict, field: str, reason: str
) -> None:
    base = {"user_id": "u1", "event_type": "view", "time": T0}
    with Engine.open(tmp_path, clock=lambda: CLOCK) as engine:
        report = engine.ingest([{**base, **row}, {**base, "groups": {"company": 7}}])
        assert report.accepted == 1
        (rejection,) = report.rejected
        assert rejection.row == 0 and rejection.field == field and reason in rejection.reason
        assert engine.evaluate(
            "accounts(company): count of users who did(any) >= 1", as_of=CLOCK
        ).members() == ["7"]


def test_account_property_type_mismatch_is_rejected_at_definition(tmp_path: Path) -> None:
    with Engine.open(tmp_path, clock=lambda: CLOCK) as engine:
        engine.ingest([{"user_id": "u", "event_type": "v", "time": T0, "groups": {"company": "a"},
                        "group_properties": {"seats": 3}}])  # fmt: skip
        with pytest.raises(ParseError, match="account property 'seats' is int"):
            engine.definition('accounts(company): account.seats == "three"')


# ------------------------------------------- durability, identity, deletion
def test_memberships_survive_reopen_follow_merges_and_deletions(tmp_path: Path) -> None:
    count = "accounts(company): count of users who did(any) >= 2"
    with Engine.open(tmp_path, clock=lambda: CLOCK) as engine:
        engine.ingest([
            {"anonymous_id": "d1", "event_type": "view", "time": T0 - DAY, "groups": {"company": "acme"}},
            {"user_id": "u2", "event_type": "view", "time": T0 - DAY, "groups": {"company": "acme"}},
        ])  # fmt: skip
        assert engine.evaluate(count, as_of=T0).members() == ["acme"]
        engine.ingest([{"user_id": "u1", "anonymous_id": "d1", "event_type": "view", "time": T0 - 1}])
        assert engine.evaluate(count, as_of=T0).members() == ["acme"]  # $anon:d1 is u1 now: still two
        engine.ingest([{"user_id": "u1", "previous_id": "u2", "event_type": "view", "time": T0 - 1}])
        assert engine.evaluate(count, as_of=T0).members() == []  # u2 merged into u1: one user
        engine.ingest(
            [{"user_id": "u3", "event_type": "view", "time": T0 - 1, "groups": {"company": "acme"}}]
        )
        engine.seal()
    with Engine.open(tmp_path, clock=lambda: CLOCK) as engine:
        assert engine.evaluate(count, as_of=T0).members() == ["acme"]
        engine.delete_users(["u3"])
        assert engine.evaluate(count, as_of=T0).members() == []
        engine.compact()
        assert engine.evaluate(count, as_of=T0).members() == []
        assert 3 not in set(engine.store.groups.users.tolist()) or engine.store.users.value(3) != "u3"
    from cohortd.storage.verify import verify_store

    findings = verify_store(tmp_path)  # `cohortd verify` checks the account files like the others
    assert {f.kind for f in findings if f.status == "ok"} >= {"groups"}
    assert all(f.status == "ok" for f in findings if f.kind != "log"), findings
    with Engine.open(tmp_path, clock=lambda: CLOCK) as engine:
        one = "accounts(company): count of users who did(any) >= 1"
        assert engine.evaluate(one, as_of=T0).members() == ["acme"]
        assert "u3" not in engine.store.users.as_arrow().to_pylist()


# ------------------------------------------------------ service and server
def test_saved_account_cohort_membership_overlap_and_maintenance(tmp_path: Path) -> None:
    import cohortd

    project = cohortd.open(tmp_path / "data", "p", create=True)
    try:
        svc = project.service
        now = svc._clock()
        svc.ingest([{"user_id": f"u{i}", "event_type": "view", "time": now - 1000,
                     "groups": {"company": "acme" if i < 3 else "globex"}} for i in range(5)])  # fmt: skip
        svc.create_cohort("three", "accounts(company): count of users who did(any) in last 1d >= 3")
        svc.create_cohort("any", "accounts(company): count of users who did(any) in last 1d >= 1")
        svc.create_cohort("users", "did(any)")
        assert svc.members("three") == ["acme"]
        assert svc.is_member("acme", "three") and not svc.is_member("globex", "three")
        assert svc.check_membership(["acme", "globex", "u1"], ["three", "users"]) == [
            [True, False], [False, False], [False, True]]  # fmt: skip
        assert svc.overlap(["three", "any"]).intersections == [[1, 1], [1, 2]]
        with pytest.raises(InvalidArgumentError, match="one kind"):
            svc.overlap(["three", "users"])
        with pytest.raises(DefinitionError, match="cannot be used inside"):
            svc.create_cohort("bad", 'did(any) and in_cohort("three")')
        assert svc.maintainer.describe("three").startswith("account cohort")
        svc.ingest(
            [{"user_id": "u9", "event_type": "view", "time": now - 500, "groups": {"company": "globex"}}]
        )
        before = svc.maintainer.version
        svc.maintainer.step(svc._clock() + svc.maintainer.percentile_interval_ms + 1)  # the next full pass
        (change,) = svc.changes(["three"], before)  # Watch reads the same change log
        assert change.entered == ["globex"] and change.exited == []
    finally:
        project.close()


def test_account_cohorts_over_a_real_server(tmp_path: Path) -> None:
    import threading

    import grpc
    from cohortd import Client
    from cohortd.client.types import RemoteError
    from support.data import now_ms
    from support.server import ServerProcess

    srv = ServerProcess(tmp_path / "data")
    try:
        with Client(srv.address) as client:
            client.wait_ready()
            t = now_ms() - 1000
            report = client.ingest(
                [{"user_id": f"u{i}", "event_type": "Feature Used", "time": t,
                  "groups": {"company": "acme" if i < 3 else "globex"},
                  "group_properties": {"plan": "enterprise" if i < 3 else "free"}} for i in range(5)]
            )  # fmt: skip
            assert not report.rejected
            definition = 'accounts(company): count of users who did("Feature Used") in last 30d >= 3'
            client.create_cohort("Active accounts 30d", definition)
            client.create_cohort("Enterprise accounts", 'accounts(company): account.plan == "enterprise"')
            assert client.evaluate("Active accounts 30d").size == 1
            assert client.members("Active accounts 30d") == ["acme"]
            assert client.members(definition=definition.replace(">= 3", ">= 2")) == ["acme", "globex"]
            assert client.is_member("acme", "Active accounts 30d")
            assert not client.is_member("u1", "Active accounts 30d")
            assert client.check_membership(["acme", "globex"], ["Enterprise accounts"]) == [[True], [False]]
            overlap = client.overlap(["Active accounts 30d", "Enterprise accounts"])
            assert overlap.intersections == [[1, 1], [1, 1]]
            # Watch: globex gets its third active user; the next full pass emits its entry
            seen: list[Any] = []
            ready = threading.Event()
            stream = client.watch(["Active accounts 30d"], on_checkpoint=lambda v: ready.set())

            def read() -> None:
                for change in stream:
                    seen.append(change)
                    return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert ready.wait(30)
            client.ingest([{"user_id": "u9", "event_type": "Feature Used", "time": now_ms() - 10,
                            "groups": {"company": "globex"}}])  # fmt: skip
            reader.join(60)
            stream.close()
            assert [(c.entered, c.exited) for c in seen] == [(["globex"], [])]
            assert client.members("Active accounts 30d") == ["acme", "globex"]
            client.create_cohort("Users 30d", 'did("Feature Used") in last 30d')
            with pytest.raises(RemoteError, match="one kind") as err:
                client.overlap(["Active accounts 30d", "Users 30d"])
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        assert srv.terminate() == 0, srv.output


def test_an_audience_of_an_account_cohort_delivers_the_keys(tmp_path: Path) -> None:
    import time

    from cohortd.service import Workspace

    now = T0
    ws = Workspace(tmp_path / "data", clock=lambda: now, deliver_audiences=True)
    try:
        p = ws.project()
        p.ingest([{"user_id": f"u{i}", "event_type": "view", "time": now - 1000,
                   "groups": {"company": "acme" if i < 2 else "globex"}} for i in range(3)])  # fmt: skip
        p.create_cohort("Two users", "accounts(company): count of users who did(any) >= 2")
        p.create_destination("files", directory=str(tmp_path / "out"), fmt="jsonl")
        p.create_audience("Accounts sync", "Two users", "files")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p.maintainer.step()
            m = p.maintainer.membership("Two users")
            if m is not None and p.get_audience("Accounts sync").acknowledged_version == m.version:
                break
            time.sleep(0.01)
        delivered = b"".join(f.read_bytes() for f in (tmp_path / "out").rglob("*") if f.is_file())
        assert b'"acme"' in delivered and b"globex" not in delivered and b"$group:" not in delivered
    finally:
        ws.close()


def test_lint_names_unknown_group_types_and_account_properties(tmp_path: Path) -> None:
    import cohortd

    project = cohortd.open(tmp_path / "data", "p", create=True)
    try:
        svc = project.service
        svc.ingest([{"user_id": "u1", "event_type": "view", "time": svc._clock() - 1000,
                     "groups": {"company": "acme"}, "group_properties": {"tier": "pro"}}])  # fmt: skip
        warnings = {w.code: w.message for w in svc.lint('accounts(compnay): account.teir == "pro"')}
        assert "did you mean 'company'" in warnings["unknown-group-type"]
        assert "did you mean 'tier'" in warnings["unknown-account-property"]
        clean = {w.code for w in svc.lint('accounts(company): account.tier == "pro"')}
        assert not clean & {"unknown-group-type", "unknown-account-property"}
    finally:
        project.close()
