"""Batched membership (``CheckMembership``) and ``IsMember`` over a real server, against plain-Python sets.

The server answers these from serialized bitmaps, on the event loop when nothing
needs a wait (``service/membership.py``, ``server/dispatch.py``).  Every answer
here is compared with a membership computed in plain Python from the events the
test sent: random user ids, unknown ids, repeated ids and cohorts, packed and
unpacked answers, and the waiting paths (an explicit ``as_of``, a batch just
acknowledged).  Event times sit half a day from every window edge, so the
reference does not depend on the second the test runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pytest
from cohortd import Client
from cohortd.client import RemoteLimitError, RemoteNotFoundError
from cohortd.client.membership import unpack_bits
from cohortd.engine.kernels.rust_kernel import contains_matrix
from cohortd.service import Workspace
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap
from support.data import DAY_MS, now_ms
from support.server import ServerProcess

USERS = 6_000  # more than 4,096 members in one 65,536-id chunk: bitset containers as well as arrays
MAX_CHECKS = 4_000
TYPES = ("A", "B", "C")

# user -> [(event type, whole days before now)]; each event sits at now - (days + 0.5) days
History = dict[str, list[tuple[str, int]]]

COHORTS: dict[str, tuple[str, Callable[[list[tuple[str, int]], bool], bool]]] = {
    "A in 7d": ('did("A") in last 7d', lambda ev, paid: any(e == "A" and d < 7 for e, d in ev)),
    "B twice in 30d": (
        'did("B") >= 2 in last 30d',
        lambda ev, paid: sum(e == "B" and d < 30 for e, d in ev) >= 2,
    ),
    "no A in 3d": ('not did("A") in last 3d', lambda ev, paid: not any(e == "A" and d < 3 for e, d in ev)),
    "paid": ('user.plan == "paid"', lambda ev, paid: paid),
    "active 40d": ("did(any) in last 40d", lambda ev, paid: any(d < 40 for _, d in ev)),
    "A 7d or C 2d": (
        'did("A") in last 7d or did("C") in last 2d',
        lambda ev, paid: any((e == "A" and d < 7) or (e == "C" and d < 2) for e, d in ev),
    ),
}
NAMES = list(COHORTS)


def _history(rng: random.Random) -> tuple[History, set[str]]:
    history: History = {}
    for i in range(USERS):
        n = rng.choice((1, 1, 2, 3, 5))
        history[f"u{i:05d}"] = [(rng.choice(TYPES), rng.randrange(45)) for _ in range(n)]
    paid = {u for u in history if rng.random() < 0.3}
    return history, paid


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, set[str]]]]:
    history, paid = _history(random.Random(11))
    now = now_ms()
    rows = [(u, e, now - d * DAY_MS - DAY_MS // 2) for u, evs in history.items() for e, d in evs]
    events = pa.table(
        {
            "user_id": [r[0] for r in rows],
            "event_type": [r[1] for r in rows],
            "time": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    plans = pa.table({"user_id": list(history), "plan": ["paid" if u in paid else "free" for u in history]})
    expected = {
        name: {u for u, ev in history.items() if rule(ev, u in paid)} for name, (_, rule) in COHORTS.items()
    }
    srv = ServerProcess(tmp_path_factory.mktemp("members"), "--max-checks", str(MAX_CHECKS))
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            assert c.ingest(events).accepted == len(rows)
            assert c.upsert_user_properties(plans).accepted == USERS
            for name, (definition, _) in COHORTS.items():
                c.create_cohort(name, definition)
        yield srv, expected
    finally:
        code = srv.terminate()
        assert code == 0, srv.output


@pytest.fixture(scope="module")
def client(world: tuple[ServerProcess, dict[str, set[str]]]) -> Iterator[Client]:
    with Client(world[0].address) as c:
        yield c


def test_reference_sets_are_not_trivial(world: tuple[ServerProcess, dict[str, set[str]]]) -> None:
    sizes = {name: len(s) for name, s in world[1].items()}
    assert all(0 < n < USERS for n in sizes.values()), sizes
    assert sizes["active 40d"] > 4_096  # a bitset container in the first chunk


user_ids = st.one_of(
    st.integers(0, USERS - 1).map(lambda i: f"u{i:05d}"),
    st.integers(0, 10**6).map(lambda i: f"ghost-{i}"),  # never seen
    st.sampled_from(["", "U00001", "u00001 ", "ü"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    users=st.lists(user_ids, min_size=0, max_size=300),
    cohorts=st.lists(st.sampled_from(NAMES), min_size=1, max_size=8),
)
def test_check_membership_matches_plain_sets(
    client: Client, world: tuple[ServerProcess, dict[str, set[str]]], users: list[str], cohorts: list[str]
) -> None:
    expected = world[1]
    assert client.check_membership(users, cohorts) == [[u in expected[c] for c in cohorts] for u in users]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=user_ids, cohort=st.sampled_from(NAMES))
def test_is_member_matches_plain_sets(
    client: Client, world: tuple[ServerProcess, dict[str, set[str]]], user: str, cohort: str
) -> None:
    assert client.is_member(user, cohort) == (user in world[1][cohort])


def test_packed_and_unpacked_answers_agree(world: tuple[ServerProcess, dict[str, set[str]]]) -> None:
    srv, expected = world
    rng = random.Random(5)
    users = [f"u{rng.randrange(USERS + 500):05d}" for _ in range(600)]  # some past the last user
    want = [u in expected[c] for u in users for c in NAMES]
    with grpc.insecure_channel(srv.address) as ch:
        stub = pb_grpc.CohortdStub(ch)
        plain = stub.CheckMembership(pb.CheckMembershipRequest(user_ids=users, cohorts=NAMES))
        packed = stub.CheckMembership(pb.CheckMembershipRequest(user_ids=users, cohorts=NAMES, packed=True))
    assert list(plain.member) == want and plain.member_bits == b""
    assert list(packed.member) == [] and len(packed.member_bits) == (len(want) + 7) // 8
    assert unpack_bits(packed.member_bits, len(want)) == want
    assert (plain.users, plain.cohorts) == (packed.users, packed.cohorts) == (len(users), len(NAMES))


def test_waiting_paths_give_the_same_answers(
    client: Client, world: tuple[ServerProcess, dict[str, set[str]]]
) -> None:
    expected = world[1]
    users = [f"u{i:05d}" for i in range(0, USERS, 37)] + ["ghost"]
    want = [[u in expected[c] for c in NAMES] for u in users]
    assert client.check_membership(users, NAMES, as_of=now_ms()) == want  # evaluated on the work pool
    assert [client.is_member(u, NAMES[0], as_of=now_ms()) for u in users] == [r[0] for r in want]


def test_a_batch_just_acknowledged_is_answered(client: Client) -> None:
    """Read-your-writes: the call right after Ingest returns sees the new member (never a stale answer)."""
    t = now_ms() - 60_000
    for k in range(5):
        uid = f"fresh-{k}"
        assert client.check_membership([uid], ["A in 7d", "active 40d"]) == [[False, False]]
        client.ingest([{"user_id": uid, "event_type": "A", "time": t}])
        assert client.check_membership([uid], ["A in 7d", "active 40d"]) == [[True, True]]
        assert client.is_member(uid, "A in 7d")


def test_errors_are_status_codes(client: Client) -> None:
    with pytest.raises(RemoteNotFoundError, match="Ghost"):
        client.check_membership(["u00001"], ["A in 7d", "Ghost"])
    with pytest.raises(RemoteNotFoundError, match="Ghost"):
        client.is_member("u00001", "Ghost")
    with pytest.raises(RemoteLimitError, match="CheckMembership"):
        client.check_membership([f"u{i:05d}" for i in range(MAX_CHECKS)], ["A in 7d", "paid"])
    assert client.check_membership([], ["A in 7d"]) == []
    assert client.check_membership(["u00001"], []) == [[]]


def test_embedded_fast_path_answers_and_leaves_due_stamps_for_later(tmp_path: Path) -> None:
    """The non-waiting service methods agree with the waiting ones; a read stamp due for SQLite is
    kept for ``write_read_stamps`` (the server runs it on a worker) instead of written in the call."""
    now = [now_ms()]
    with Workspace(tmp_path, clock=lambda: now[0]) as ws:
        p = ws.project("default")
        t = now[0] - DAY_MS
        p.ingest(pa.table({"user_id": ["a", "b", "c"], "event_type": ["A", "B", "A"], "time": [t, t, t]}))
        p.create_cohort("A", 'did("A") in last 7d')
        ids = ["a", "b", "zz", "c"]
        want = [[True, True], [False, False], [False, False], [True, True]]
        assert p.membership_matrix(ids, ["A", "A"]).tolist() == want  # the waiting path stamps the read
        assert ws.opened("default") is p and ws.opened("other") is None
        viewed = p.know.stats.last_viewed("A")
        assert viewed == now[0]
        now[0] += 120_000  # past the once-a-minute throttle of the view stamp
        fast = p.membership_matrix_now(ids, ["A", "A"])
        assert fast is not None and fast.tolist() == want
        assert p.reads_to_stamp == {"A"} and p.know.stats.last_viewed("A") == viewed  # not written yet
        assert p.stamps_to_queue() is True  # one worker for the due stamp...
        assert p.membership_matrix_now(ids, ["A"]) is not None and p.reads_to_stamp == {"A"}
        assert p.stamps_to_queue() is False  # ...not one more per read until it runs
        p.write_read_stamps()
        assert not p.reads_to_stamp and p.know.stats.last_viewed("A") == now[0]
        assert p.stamps_to_queue() is False  # nothing due
        assert p.is_member_now("a", "A") is True and p.is_member_now("zz", "A") is False
        assert p.membership_matrix_now(ids, ["missing"]) is None  # the waiting path gives NOT_FOUND
        p.update_cohort("A", 'did("B") in last 7d')  # the kept plan of ["A", "A"] no longer holds
        p.membership_matrix(ids, ["A"])  # folds the update in (and stamps the read)
        fast = p.membership_matrix_now(ids, ["A", "A"])
        assert fast is not None and fast.tolist() == [[False] * 2, [True] * 2, [False] * 2, [False] * 2]


@settings(max_examples=80, deadline=None)
@given(
    members=st.lists(st.integers(0, 300_000), max_size=3_000),
    runs=st.lists(st.tuples(st.integers(0, 2**32 - 70_000), st.integers(1, 70_000)), max_size=3),
    probes=st.lists(st.integers(-5, 2**32 + 5), max_size=200),
    optimize=st.booleans(),
)
def test_native_lookup_matches_pyroaring(
    members: list[int], runs: list[tuple[int, int]], probes: list[int], optimize: bool
) -> None:
    """The serialized-bitmap reader against pyroaring, over array, bitset and run containers."""
    bm = BitMap(members)
    for start, length in runs:
        bm.add_range(start, start + length)
    if optimize:
        bm.run_optimize()  # run containers, and fewer than four containers: no offset header
    other = BitMap(members[::2])
    ids = probes + members[:50] + [s + length - 1 for s, length in runs] + [s + length for s, length in runs]
    got = contains_matrix([bm.serialize(), other.serialize()], np.array(ids, dtype=np.int64))
    want = [[0 <= i < 2**32 and i in b for b in (bm, other)] for i in ids]
    assert got.reshape(len(ids), 2).tolist() == want
