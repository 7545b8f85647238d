"""The service layer: projects, catalog rules, cached queries, overlap maths and lint."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cohortd.engine.lint import JACCARD_THRESHOLD, lint, name_problems
from cohortd.errors import (
    AlreadyExistsError,
    DefinitionError,
    InvalidArgumentError,
    NotFoundError,
    ParseError,
)
from cohortd.lang import parse
from cohortd.service import Project, Workspace
from cohortd.times import parse_as_of

DAY = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z


class Clock:
    """A settable clock so 'now' and cache ages are under the test's control."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock(T0 + 30 * DAY)


@pytest.fixture()
def ws(tmp_path: Path, clock: Clock) -> Iterator[Workspace]:
    w = Workspace(tmp_path / "data", clock=clock)
    yield w
    w.close()


def events(rows: list[tuple[str, str, int]], **props: Any) -> list[dict[str, Any]]:
    return [{"user_id": u, "event_type": e, "time": t, **props} for u, e, t in rows]


@pytest.fixture()
def proj(ws: Workspace) -> Project:
    """u0..u9: even users did Purchase on day 1, everyone did Session Start on day i (i = 0..9)."""
    p = ws.project()
    rows = [(f"u{i}", "Session Start", T0 + i * DAY) for i in range(10)]
    rows += [(f"u{i}", "Purchase", T0 + DAY) for i in range(0, 10, 2)]
    rep = p.ingest(events(rows))
    assert rep.accepted == 15 and not rep.rejected
    return p


def codes(warnings: list[Any]) -> list[str]:
    return [w.code for w in warnings]


# ------------------------------------------------------------------ projects
def test_projects_are_isolated(ws: Workspace) -> None:
    a, b = ws.project("alpha"), ws.project("beta")
    a.ingest(events([("ua", "Session Start", T0)]))
    b.ingest(events([("ub", "Session Start", T0), ("ub2", "Session Start", T0)]))
    a.create_cohort("Sessions ever", 'did("Session Start")')
    b.create_cohort("Sessions ever", 'did("Session Start")')  # same name, other project
    assert a.members("Sessions ever") == ["ua"]
    assert b.members("Sessions ever") == ["ub", "ub2"]
    a.create_cohort("Only alpha", 'did("Session Start")')
    assert [r.name for r in b.list_cohorts()] == ["Sessions ever"]
    with pytest.raises(NotFoundError):
        b.get_cohort("Only alpha")
    assert ws.project("alpha") is a
    assert ws.project_names() == ["alpha", "beta"]
    assert (ws.data_dir / "projects" / "alpha" / "catalog.sqlite").is_file()


@pytest.mark.parametrize("bad", ["", "a/b", "..", "x" * 65, "spa ce", "é"])
def test_bad_project_names_rejected(ws: Workspace, bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        ws.project(bad)


def test_reopen_keeps_cohorts_and_data(tmp_path: Path, clock: Clock) -> None:
    with Workspace(tmp_path / "d", clock=clock) as w:
        p = w.project("p1")
        p.ingest(events([("a", "Session Start", T0), ("b", "Purchase", T0)]))
        p.create_cohort("Buyers ever", 'did("Purchase")', description="d", note="n")
        p.update_cohort("Buyers ever", 'did("Purchase") or did("Session Start")', note="widen")
    with Workspace(tmp_path / "d", clock=clock) as w:
        p = w.project("p1")
        assert p.get_cohort("Buyers ever").version == 2
        assert p.members("Buyers ever") == ["a", "b"]
        assert [v.note for v in p.cohort_history("Buyers ever")] == ["n", "widen"]


# ------------------------------------------------------------------- catalog
def test_create_stores_canonical_text_and_history(proj: Project) -> None:
    rec, _ = proj.create_cohort(
        "Buyers 30d", '# buyers\nDID( "Purchase" )   IN LAST 30d', description="people who paid", note="v1"
    )
    assert rec.definition == 'did("Purchase") in last 30d'
    assert parse(rec.definition) == parse('did("Purchase") in last 30d')
    rec2, _ = proj.update_cohort("Buyers 30d", 'did("Purchase") >= 1 in last 7d', note="narrower")
    rec3, _ = proj.update_cohort("Buyers 30d", description="changed words only", note="words")
    assert (rec2.version, rec3.version) == (2, 3)
    hist = proj.cohort_history("Buyers 30d")
    assert [(h.version, h.note) for h in hist] == [(1, "v1"), (2, "narrower"), (3, "words")]
    assert hist[1].definition == hist[2].definition == rec2.definition
    assert hist[2].description == "changed words only"
    with pytest.raises(AlreadyExistsError):
        proj.create_cohort("Buyers 30d", "did(any)")


def test_parse_error_propagates_and_saves_nothing(proj: Project) -> None:
    with pytest.raises(ParseError) as info:
        proj.create_cohort("Broken", 'did("Purchase") and\n  did("Purchase" >= 3')
    assert info.value.line == 2
    assert info.value.column > 1
    with pytest.raises(NotFoundError):
        proj.get_cohort("Broken")
    proj.create_cohort("Fine", 'did("Purchase")')
    with pytest.raises(ParseError):
        proj.update_cohort("Fine", "did(")
    assert proj.get_cohort("Fine").version == 1


def test_type_mismatch_is_rejected_with_line_and_column(proj: Project) -> None:
    proj.ingest(events([("u1", "Feature Used", T0)], feature_area="dashboard"))
    with pytest.raises(ParseError) as err:
        proj.create_cohort("Sum of text", 'sum(feature_area, "Feature Used") > 3 in last 30d')
    assert (err.value.line, err.value.column) == (1, 5)
    with pytest.raises(NotFoundError):
        proj.get_cohort("Sum of text")
    # a tree has no source positions: the same check, without them
    with pytest.raises(DefinitionError):
        proj.create_cohort("Sum of text", parse('sum(feature_area, "Feature Used") > 3 in last 30d'))


def test_unknown_in_cohort_is_rejected(proj: Project) -> None:
    with pytest.raises(DefinitionError, match="Nobody"):
        proj.create_cohort("Refers", 'in_cohort("Nobody")')
    with pytest.raises(DefinitionError):
        proj.evaluate(definition='in_cohort("Nobody")')


def test_cycles_are_rejected_naming_the_cycle(proj: Project) -> None:
    with pytest.raises(DefinitionError, match=r"Self -> Self"):
        proj.create_cohort("Self", 'in_cohort("Self")')
    proj.create_cohort("A", 'did("Purchase")')
    proj.create_cohort("B", 'in_cohort("A") and did(any)')
    proj.create_cohort("C", 'in_cohort("B")')
    with pytest.raises(DefinitionError, match=r"A -> C -> B -> A"):
        proj.update_cohort("A", 'in_cohort("C")')
    with pytest.raises(DefinitionError, match=r"A -> A"):
        proj.update_cohort("A", 'did(any) or in_cohort("A")')
    assert proj.get_cohort("A").version == 1  # nothing saved
    assert proj.members("C") == proj.members("A")


def test_in_cohort_resolves_at_the_same_as_of(proj: Project) -> None:
    proj.create_cohort("Recent sessions 2d", 'did("Session Start") in last 2d')
    proj.create_cohort("Recent via ref", 'in_cohort("Recent sessions 2d")')
    for day in (3, 5, 9):
        as_of = T0 + day * DAY
        direct = proj.engine.evaluate('did("Session Start") in last 2d', as_of=as_of).members()
        assert proj.members("Recent via ref", as_of=as_of) == direct
        assert direct == sorted([f"u{day - 2}", f"u{day - 1}"])


def test_update_of_a_referenced_cohort_changes_dependents(proj: Project) -> None:
    proj.create_cohort("Base", 'did("Purchase")')
    proj.create_cohort("Dependent", 'in_cohort("Base")')
    assert proj.evaluate("Dependent").size == 5
    proj.update_cohort("Base", 'did("Session Start")')
    assert proj.evaluate("Dependent").size == 10


def test_archive_hides_but_still_resolves(proj: Project) -> None:
    proj.create_cohort("Buyers ever", 'did("Purchase")')
    proj.create_cohort("Buyers again", 'in_cohort("Buyers ever")')
    assert proj.user_cohorts("u0") == ["Buyers again", "Buyers ever"]
    rec = proj.archive_cohort("Buyers ever")
    assert rec.archived
    assert [r.name for r in proj.list_cohorts()] == ["Buyers again"]
    assert [r.name for r in proj.list_cohorts(include_archived=True)] == ["Buyers again", "Buyers ever"]
    assert proj.user_cohorts("u0") == ["Buyers again"]
    assert proj.evaluate("Buyers again").size == 5


# ------------------------------------------------------------------- queries
def test_membership_answers_agree_with_members(proj: Project) -> None:
    proj.create_cohort("Buyers ever", 'did("Purchase")')
    proj.create_cohort("Late sessions", 'did("Session Start") in last 25d')
    buyers, late = set(proj.members("Buyers ever")), set(proj.members("Late sessions"))
    assert buyers == {f"u{i}" for i in range(0, 10, 2)}
    users = [f"u{i}" for i in range(10)] + ["stranger"]
    matrix = proj.check_membership(users, ["Buyers ever", "Late sessions"])
    assert matrix == [[u in buyers, u in late] for u in users]
    for u in users:
        assert proj.is_member(u, "Buyers ever") == (u in buyers)
        expected = sorted(n for n, s in (("Buyers ever", buyers), ("Late sessions", late)) if u in s)
        assert proj.user_cohorts(u) == expected
    with pytest.raises(NotFoundError):
        proj.is_member("u0", "No such cohort")


def test_evaluate_needs_exactly_one_target(proj: Project) -> None:
    with pytest.raises(InvalidArgumentError):
        proj.evaluate()
    with pytest.raises(InvalidArgumentError):
        proj.evaluate("x", 'did("Purchase")')


def test_point_in_time(proj: Project) -> None:
    proj.create_cohort("Sessions ever", 'did("Session Start")')
    assert proj.evaluate("Sessions ever", as_of=T0 + 3 * DAY).size == 3
    assert proj.evaluate("Sessions ever", as_of="2026-01-04T00:00:00Z").size == 3
    assert proj.evaluate("Sessions ever", as_of=T0 + 3 * DAY + 1).size == 4
    assert proj.evaluate("Sessions ever").size == 10


def test_overlap_matches_direct_bitmap_maths(ws: Workspace) -> None:
    rng = random.Random(7)
    p = ws.project("ov")
    types = ["A", "B", "C"]
    rows = [(f"user{rng.randrange(60)}", rng.choice(types), T0 + rng.randrange(25 * DAY)) for _ in range(400)]
    p.ingest(events(rows))
    defs = {
        "A twice 30d": 'did("A") >= 2 in last 30d',
        "B 10d": 'did("B") in last 10d',
        "Not C 15d": 'not did("C") in last 15d',
        "Empty Z": 'did("Z")',
    }
    for name, d in defs.items():
        p.create_cohort(name, d)
    names = list(defs)
    ov = p.overlap(names, as_of=T0 + 20 * DAY)
    sets = {n: set(p.engine.evaluate(defs[n], as_of=T0 + 20 * DAY).members()) for n in names}
    assert ov.names == names
    assert ov.as_of_ms == T0 + 20 * DAY
    assert ov.sizes == [len(sets[n]) for n in names]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            inter, union = len(sets[a] & sets[b]), len(sets[a] | sets[b])
            assert ov.intersections[i][j] == inter
            assert ov.jaccard[i][j] == pytest.approx(inter / union if union else 0.0)
    assert 0 < ov.sizes[0] < 60 and ov.sizes[3] == 0


def test_explain_and_lint_endpoints(proj: Project) -> None:
    proj.create_cohort("Buyers ever", 'did("Purchase")')
    steps = proj.explain(definition='in_cohort("Buyers ever") and did(any)')
    assert steps[0].size == 5 and steps[0].depth == 0
    assert [s.size for s in proj.explain("Buyers ever")] == [5]
    assert "unknown-event-type" in codes(proj.lint('did("Nope") in last 7d', name="Nope 7d"))


# --------------------------------------------------------------------- cache
class CountingEngine:
    """Wraps an Engine and counts evaluate() calls (everything else passes through)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def evaluate(self, *a: Any, **k: Any) -> Any:
        self.calls += 1
        return self.inner.evaluate(*a, **k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_now_answers_come_from_maintenance_and_as_of_answers_are_cached(proj: Project, clock: Clock) -> None:
    proj.create_cohort("Buyers ever", 'did("Purchase")')
    counting = CountingEngine(proj.engine)
    proj.engine = counting  # type: ignore[assignment]
    for _ in range(50):
        assert proj.is_member("u0", "Buyers ever")
    proj.check_membership(["u0", "u1"], ["Buyers ever"])
    proj.user_cohorts("u2")
    assert counting.calls == 0  # "now" is the maintained member set, never a re-evaluation
    version = proj.evaluate("Buyers ever").version

    # new data is folded in before the next answer (read-your-writes), as a new version
    proj.ingest(events([("u1", "Purchase", T0 + 2 * DAY)]))
    assert proj.is_member("u1", "Buyers ever")
    assert proj.evaluate("Buyers ever").version > version
    assert counting.calls == 0

    # explicit as-of results are keyed by the instant
    proj.is_member("u1", "Buyers ever", as_of=T0 + 5 * DAY)
    proj.is_member("u3", "Buyers ever", as_of=T0 + 5 * DAY)
    assert counting.calls == 1
    assert not proj.is_member("u1", "Buyers ever", as_of=T0 + DAY)
    assert counting.calls == 2

    # a new version is maintained from the moment it is saved
    proj.update_cohort("Buyers ever", 'did("Purchase") or did("Session Start")')
    assert proj.is_member("u9", "Buyers ever")


def test_concurrent_queries_and_ingest(proj: Project) -> None:
    proj.create_cohort("Buyers ever", 'did("Purchase")')
    proj.create_cohort("Sessions ever", 'did("Session Start")')
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                m = proj.check_membership(["u0", "u1", "u2"], ["Buyers ever", "Sessions ever"])
                assert m[0] == [True, True] and m[2] == [True, True]
                ov = proj.overlap(["Buyers ever", "Sessions ever"])
                assert ov.intersections[0][0] == ov.sizes[0]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        proj.ingest(events([(f"new{i}", "Purchase", T0 + 3 * DAY)]))
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert proj.evaluate("Buyers ever").size == 25
    assert proj.is_member("new19", "Buyers ever")


def test_parse_as_of_forms() -> None:
    assert parse_as_of(None) is None
    assert parse_as_of(T0) == T0
    assert parse_as_of("2026-01-01") == T0
    assert parse_as_of("2026-01-01T00:00:00.000Z") == T0
    assert parse_as_of("2026-01-01T01:00:00+01:00") == T0
    with pytest.raises(InvalidArgumentError):
        parse_as_of("yesterday")


# ---------------------------------------------------------------------- lint
def test_lint_count_without_window() -> None:
    for d in (
        'did("Purchase") >= 3',
        'sum(revenue, "Purchase") > 10',
        "active_days(any) >= 2",
        "active_periods(any, 1w) >= 2",
        "top 10% by count(any)",
        'did(any) in last 7d and not did("Purchase") < 2',
    ):
        assert codes(lint(parse(d))) == ["count-without-window"], d
    for d in (
        'did("Purchase")',
        'did("Purchase") >= 3 in last 30d',
        "first did(any)",
        "top 10% by count(any) in last 7d",
    ):
        assert codes(lint(parse(d))) == [], d


def test_lint_unknown_event_type() -> None:
    ws = lint(
        parse('did("purchase") in last 7d or sequence("Purchase", "Refund") in last 7d'),
        event_types=["Purchase"],
    )
    assert codes(ws) == ["unknown-event-type", "unknown-event-type"]
    assert "'purchase'" in ws[0].message and "did you mean 'Purchase'" in ws[0].message
    assert "'Refund'" in ws[1].message
    assert lint(parse('did("Purchase") in last 7d or did(any) in last 1d'), event_types=["Purchase"]) == []


@pytest.mark.parametrize(
    ("name", "definition", "expected"),
    [
        (
            "VIP users",
            'sum(revenue, "Purchase") > 1000 in last 90d',
            ["name-missing-window", "name-missing-behaviour"],
        ),
        ("Purchasers", 'did("Purchase") in last 30d', ["name-missing-window"]),
        ("Purchasers 30d", 'did("Purchase") in last 30d', []),
        ("Weekly purchase", 'did("Purchase") in last 7d', []),
        ("Purchase L7", 'did("Purchase") in last 7d', []),
        ("Recent users 7d", 'did("Purchase") in last 7d', ["name-missing-behaviour"]),
        ("New users L7", 'first did(any) in last 7d and did("Session Start") < 3 in last 7d', []),
        ("Churning 30-90 days", "did(any) between 90d ago and 60d ago and not did(any) in last 30d", []),
        ("Power users 30d", "top 20% by count(any) in last 30d", []),
        ("Free plan", 'user.plan == "free"', []),
        ("Paid accounts", 'user.plan == "free"', ["name-missing-behaviour"]),
        ("Dashboard fans 2026", 'did("Feature Used" where feature_area == "dashboard") since 2026-01-01', []),
    ],
)
def test_lint_names(name: str, definition: str, expected: list[str]) -> None:
    assert codes(name_problems(name, parse(definition))) == expected


def test_lint_overlap_threshold(ws: Workspace) -> None:
    from pyroaring import BitMap

    five, four, three = BitMap(range(5)), BitMap(range(4)), BitMap(range(3))
    assert JACCARD_THRESHOLD == 0.8
    ws_ = lint(parse('did("A")'), members=five, others={"Four": four, "Three": three, "Empty": BitMap()})
    assert codes(ws_) == ["overlaps-cohort"]  # 4/5 = 0.8 warns, 3/5 = 0.6 does not
    assert "consider merging with 'Four'" in ws_[0].message
    assert lint(parse('did("A")'), members=BitMap(), others={"Empty": BitMap()}) == []


def test_lint_on_save_reports_each_warning(proj: Project) -> None:
    proj.create_cohort("Buyers ever", 'did("Purchase")')
    _, warnings = proj.create_cohort("VIP users", 'did("Purchase") >= 1')
    assert set(codes(warnings)) == {"count-without-window", "name-missing-behaviour", "overlaps-cohort"}
    assert any("'Buyers ever'" in w.message for w in warnings if w.code == "overlaps-cohort")
    _, warnings = proj.create_cohort("Refund 7d", 'did("Refund") in last 7d')
    assert codes(warnings) == ["unknown-event-type"]
    # an update is linted against the others, never against itself
    _, warnings = proj.update_cohort("Buyers ever", 'did("Purchase") or did("Purchase" where x == 1)')
    assert "overlaps-cohort" in codes(warnings)
    assert all("'Buyers ever'" not in w.message for w in warnings if w.code == "overlaps-cohort")
    _, warnings = proj.update_cohort("Refund 7d", description="no definition change")
    assert warnings == []
