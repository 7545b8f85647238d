"""The parser against the language spec: every construct, the seed cohorts, every rejection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cohortd.errors import ParseError
from cohortd.lang import ast as A
from cohortd.lang import parse, to_text
from hypothesis import given, settings
from hypothesis import strategies as st


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def E(name: str | None = None, f: A.Filter | None = None) -> A.EventRef:
    return A.EventRef(name, f)


ANY = E()
D30 = A.Last(A.Duration(30, "d"))


# ------------------------------------------------------------ seed examples
SEEDS = {
    "new users L7": (
        """# New users L7: first seen in the last 7 days, fewer than 3 sessions
        first did(any) in last 7d and did("Session Start") < 3 in last 7d""",
        A.And(
            A.FirstDid(ANY, A.Last(A.Duration(7, "d"))),
            A.Did(E("Session Start"), A.Compare("<", 3), A.Last(A.Duration(7, "d"))),
        ),
    ),
    "power users": (
        "# Power users: top 20% by event count in the last 30 days\ntop 20% by count(any) in last 30d",
        A.Top(20.0, A.MetricCount(ANY), D30),
    ),
    "churning": (
        "did(any) between 90d ago and 60d ago and not did(any) in last 30d",
        A.And(
            A.Did(ANY, None, A.Ago(A.Duration(90, "d"), A.Duration(60, "d"))),
            A.Not(A.Did(ANY, None, D30)),
        ),
    ),
    "upgrade-ready": (
        """did("paywall_modal_viewed") >= 3 in last 14d
        and user.plan == "free" and user.projects_created > 4""",
        A.And(
            A.And(
                A.Did(E("paywall_modal_viewed"), A.Compare(">=", 3), A.Last(A.Duration(14, "d"))),
                A.UserProp(A.PropCmp("plan", "==", "free")),
            ),
            A.UserProp(A.PropCmp("projects_created", ">", 4)),
        ),
    ),
    "activation": (
        """sequence("Signup Submitted", "First Feature Used") within 7d in last 30d
        and not did("Subscription Started") in last 30d""",
        A.And(
            A.Sequence((E("Signup Submitted"), E("First Feature Used")), A.Duration(7, "d"), D30),
            A.Not(A.Did(E("Subscription Started"), None, D30)),
        ),
    ),
    "spec boolean example": (
        """did("Feature Used" where feature_area == "dashboard") >= 5 in last 30d
        and not did("Subscription Cancelled") in last 90d""",
        A.And(
            A.Did(E("Feature Used", A.PropCmp("feature_area", "==", "dashboard")), A.Compare(">=", 5), D30),
            A.Not(A.Did(E("Subscription Cancelled"), None, A.Last(A.Duration(90, "d")))),
        ),
    ),
}


@pytest.mark.parametrize("name", SEEDS)
def test_seed_cohorts(name: str) -> None:
    text, tree = SEEDS[name]
    assert parse(text) == tree
    assert parse(to_text(tree)) == tree


# --------------------------------------------------------------- conditions
@pytest.mark.parametrize(
    "text,tree",
    [
        ('did("E")', A.Did(E("E"))),
        ("did(any)", A.Did(ANY)),
        ('did("E") ever', A.Did(E("E"))),
        ('did("E") == 0', A.Did(E("E"), A.Compare("==", 0))),
        ('did("E") != 2 in last 1h', A.Did(E("E"), A.Compare("!=", 2), A.Last(A.Duration(1, "h")))),
        ('did("E") between 2 and 5', A.Did(E("E"), A.Range(2, 5))),
        (
            'did("E") between 2 and 5 between 90d ago and 60d ago',
            A.Did(E("E"), A.Range(2, 5), A.Ago(A.Duration(90, "d"), A.Duration(60, "d"))),
        ),
        ('sum(amount, "Purchase") > 100', A.Aggregate("sum", "amount", E("Purchase"), A.Compare(">", 100))),
        ("avg(amount, any) <= -2.5e3", A.Aggregate("avg", "amount", ANY, A.Compare("<=", -2500.0))),
        ('min(amount, "P") between -1 and 1.5', A.Aggregate("min", "amount", E("P"), A.Range(-1, 1.5))),
        (
            'max("the amount", "P") < 3 in last 2w',
            A.Aggregate("max", "the amount", E("P"), A.Compare("<", 3), A.Last(A.Duration(2, "w"))),
        ),
        ('distinct(page, "View") >= 3', A.Aggregate("distinct", "page", E("View"), A.Compare(">=", 3))),
        ("active_days(any) >= 3 in last 30d", A.ActiveDays(ANY, A.Compare(">=", 3), D30)),
        ('active_periods("E", 1w) >= 3', A.ActivePeriods(E("E"), A.Duration(1, "w"), A.Compare(">=", 3))),
        ('sequence("A", "B", "C")', A.Sequence((E("A"), E("B"), E("C")))),
        ('sequence("A", any) within 90m', A.Sequence((E("A"), ANY), A.Duration(90, "m"))),
        ("first did(any)", A.FirstDid(ANY)),
        ('first did("E") since 2026-01-01', A.FirstDid(E("E"), A.Since(ms(2026, 1, 1)))),
        ("top 12.5% by sum(amount, any)", A.Top(12.5, A.MetricSum("amount", ANY))),
        ("top 100% by active_days(any) in last 30d", A.Top(100.0, A.MetricActiveDays(ANY), D30)),
        ("top 1e-3% by count(any)", A.Top(0.001, A.MetricCount(ANY))),
        ('in_cohort("saved \\"name\\"")', A.InCohort('saved "name"')),
        ('user."plan type" != "free"', A.UserProp(A.PropCmp("plan type", "!=", "free"))),
    ],
)
def test_conditions(text: str, tree: A.Expr) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(
    "tail,pred",
    [
        ('== "x"', A.PropCmp("p", "==", "x")),
        ("!= 3", A.PropCmp("p", "!=", 3)),
        ("< 1.5", A.PropCmp("p", "<", 1.5)),
        ("<= -2", A.PropCmp("p", "<=", -2)),
        ("> 1E2", A.PropCmp("p", ">", 100.0)),
        (">= true", A.PropCmp("p", ">=", True)),
        ('in ("a", 1, false)', A.PropIn("p", ("a", 1, False))),
        ('not in ("a")', A.PropIn("p", ("a",), negated=True)),
        ("exists", A.PropExists("p")),
        ("not exists", A.PropExists("p", negated=True)),
        ('contains "ab\\\\c"', A.PropContains("p", "ab\\c")),
    ],
)
def test_every_filter_operator_on_events_and_users(tail: str, pred: A.Predicate) -> None:
    assert parse(f'did("E" where p {tail})') == A.Did(E("E", pred))
    assert parse(f"did(any where p {tail})") == A.Did(E(None, pred))
    assert parse(f"user.p {tail}") == A.UserProp(pred)


def test_bool_and_int_values_keep_their_type() -> None:
    tree = parse('did("E" where a == true and b == 1 and c == 1.0)')
    leaves = [
        tree.event.filter.left.left.value,
        tree.event.filter.left.right.value,
        tree.event.filter.right.value,
    ]
    assert [type(v) for v in leaves] == [bool, int, float]


# ------------------------------------------------------------------ windows
@pytest.mark.parametrize(
    "window,tree",
    [
        ("", A.Ever()),
        ("ever", A.Ever()),
        ("in last 30d", D30),
        ("in last 500ms", A.Last(A.Duration(500, "ms"))),
        ("in last 45s", A.Last(A.Duration(45, "s"))),
        ("between 2w ago and 1w ago", A.Ago(A.Duration(2, "w"), A.Duration(1, "w"))),
        ("between 1w ago and 6d ago", A.Ago(A.Duration(1, "w"), A.Duration(6, "d"))),
        ("between 2026-01-01 and 2026-02-01", A.Dates(ms(2026, 1, 1), ms(2026, 2, 1))),
        ("since 2024-02-29", A.Since(ms(2024, 2, 29))),
        ("since 2026-01-01T12:30:00Z", A.Since(ms(2026, 1, 1, 12, 30))),
        ("since 2026-01-01T12:30Z", A.Since(ms(2026, 1, 1, 12, 30))),
        ("since 2026-01-01T12:30:00.123Z", A.Since(ms(2026, 1, 1, 12, 30) + 123)),
        ("since 2026-01-01T12:30:00.5Z", A.Since(ms(2026, 1, 1, 12, 30) + 500)),
        ("since 2026-01-01T12:30:00+02:00", A.Since(ms(2026, 1, 1, 10, 30))),
        ("since 2026-01-01T01:00:00-05:30", A.Since(ms(2026, 1, 1, 6, 30))),
        ("since 2026-01-01t00:00:00z", A.Since(ms(2026, 1, 1))),
        (
            "between 2026-01-01T00:00:00.001Z and 2026-01-01T00:00:00.002Z",
            A.Dates(ms(2026, 1, 1) + 1, ms(2026, 1, 1) + 2),
        ),
    ],
)
def test_windows(window: str, tree: A.Window) -> None:
    assert parse(f"did(any) {window}") == A.Did(ANY, None, tree)
    assert parse(f"sequence(any, any) within 1d {window}").window == tree


def test_midnight_instant_is_the_date() -> None:
    assert parse("did(any) since 2026-03-01T00:00:00.000Z") == parse("did(any) since 2026-03-01")
    assert to_text(parse("did(any) since 2026-03-01T00:00:00Z")) == "did(any) since 2026-03-01"
    assert to_text(parse("did(any) since 2026-03-01T02:00:00+02:00")) == "did(any) since 2026-03-01"
    assert (
        to_text(parse("did(any) since 2026-03-01T02:00:01+02:00"))
        == "did(any) since 2026-03-01T00:00:01.000Z"
    )


# ------------------------------------------------------------------ algebra
A1, B1, C1 = (A.Did(E(n)) for n in "ABC")


@pytest.mark.parametrize(
    "text,tree",
    [
        ('did("A") or did("B") and did("C")', A.Or(A1, A.And(B1, C1))),
        ('did("A") and did("B") or did("C")', A.Or(A.And(A1, B1), C1)),
        ('not did("A") and did("B")', A.And(A.Not(A1), B1)),
        ('not (did("A") and did("B"))', A.Not(A.And(A1, B1))),
        ('not not did("A")', A.Not(A.Not(A1))),
        ('did("A") and did("B") and did("C")', A.And(A.And(A1, B1), C1)),
        ('did("A") and (did("B") and did("C"))', A.And(A1, A.And(B1, C1))),
        ('(did("A") or did("B")) and did("C")', A.And(A.Or(A1, B1), C1)),
        ('((did("A")))', A1),
    ],
)
def test_precedence_and_grouping(text: str, tree: A.Expr) -> None:
    assert parse(text) == tree
    assert parse(to_text(tree)) == tree


def test_filter_algebra_is_scoped_by_the_condition_parentheses() -> None:
    a, b, c = (A.PropCmp(n, "==", 1) for n in "abc")
    tree = parse('did("E" where a == 1 or b == 1 and not c == 1) and did("F")')
    assert tree == A.And(A.Did(E("E", A.FOr(a, A.FAnd(b, A.FNot(c))))), A.Did(E("F")))
    grouped = parse('did("E" where (a == 1 or b == 1) and c == 1)')
    assert grouped == A.Did(E("E", A.FAnd(A.FOr(a, b), c)))
    steps = parse('sequence("A" where a == 1 and b == 1, "B" where c == 1)')
    assert steps == A.Sequence((E("A", A.FAnd(a, b)), E("B", c)))


def test_keywords_are_case_insensitive_names_are_not() -> None:
    lower = parse('first did("E" where Plan == "Free") in last 7d and not user.Tier in ("A")')
    upper = parse('FIRST Did("E" WHERE Plan == "Free") IN LAST 7d AND NOT USER.Tier IN ("A")')
    assert lower == upper
    assert lower.left.event.filter.prop == "Plan"
    assert lower.right.item.predicate.prop == "Tier"
    assert parse("TOP 5% BY COUNT(ANY) BETWEEN 3d AGO AND 1d AGO") == A.Top(
        5.0, A.MetricCount(ANY), A.Ago(A.Duration(3, "d"), A.Duration(1, "d"))
    )


def test_duration_units_are_lowercase() -> None:
    """``M`` could mean months or minutes; units are case-sensitive so it means neither."""
    with pytest.raises(ParseError) as info:
        parse("did(any) in last 3D")
    assert (info.value.line, info.value.column) == (1, 19)


def test_comments_and_whitespace() -> None:
    text = 'did("A") # first line\n\t# whole-line comment\n  or did("B#not a comment")  # end'
    assert parse(text) == A.Or(A1, A.Did(E("B#not a comment")))


def test_string_escapes() -> None:
    assert parse(r'did("a \"b\" \\ c\n\t\r")') == A.Did(E('a "b" \\ c\n\t\r'))


def test_keyword_spelled_property_names() -> None:
    tree = parse('did("E" where count > 1 and "not" == 2) and sum("sum", any) > 0 and user.not exists')
    assert tree.left.left.event.filter == A.FAnd(A.PropCmp("count", ">", 1), A.PropCmp("not", "==", 2))
    assert tree.left.right.prop == "sum"
    assert tree.right == A.UserProp(A.PropExists("not"))
    assert to_text(tree) == (
        'did("E" where "count" > 1 and "not" == 2) and sum("sum", any) > 0 and user."not" exists'
    )


def test_event_named_any_is_not_any() -> None:
    assert parse('did("any")') == A.Did(E("any"))


# ------------------------------------------------------------------- errors
def error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize(
    "text,line,column,message",
    [
        ('did("E") >= -1', 1, 13, "negative count"),
        ('active_days("E") > -3', 1, 20, "negative count"),
        ('distinct(p, "E") > -3', 1, 20, "negative count"),
        ('did("E") >= 1.5', 1, 13, "whole number"),
        ('did("E") between 5 and 2', 1, 24, "empty range"),
        ("top 0% by count(any)", 1, 5, "outside (0, 100]"),
        ("top 100.5% by count(any)", 1, 5, "outside (0, 100]"),
        ("top -5% by count(any)", 1, 5, "outside (0, 100]"),
        ("top 20 by count(any)", 1, 8, "unexpected 'by'"),
        ("did(any) in last 0d", 1, 18, "must be positive"),
        ("active_periods(any, 0w) >= 1", 1, 21, "must be positive"),
        ('sequence("A", "B") within 0s', 1, 27, "must be positive"),
        ("did(any) in last -3d", 1, 18, "must be positive"),
        ("did(any) between 60d ago and 90d ago", 1, 18, "empty window"),
        ("did(any) between 1w ago and 7d ago", 1, 18, "empty window"),
        ("did(any) between 2026-02-01 and 2026-01-01", 1, 18, "empty window"),
        ("did(any) between 2026-01-01 and 2026-01-01T00:00:00Z", 1, 18, "empty window"),
        ("sequence()", 1, 10, "unexpected ')'"),
        ('sequence("A")', 1, 13, "at least two steps"),
        ('did("E") foo', 1, 10, "unexpected 'foo'"),
        ('did("E") in last 30d)', 1, 21, "unexpected ')'"),
        ('did("E") and', 1, 13, "unexpected end of input"),
        ("", 1, 1, "unexpected end of input"),
        ("  # only a comment\n", 2, 1, "unexpected end of input"),
        ('did("E)', 1, 5, "unterminated string"),
        ('did(any)\n  or did("E\n)', 2, 10, "unterminated string"),
        (r'did("a\q")', 1, 7, "unknown escape"),
        ("did(any) in last 30x", 1, 20, "unknown duration unit 'x'"),
        ("did(any) in last 1.5d", 1, 18, "whole number"),
        ("did(any) since 2026-02-30", 1, 16, "invalid date"),
        ("did(any) since 2026-01-01T25:00:00Z", 1, 16, "invalid time"),
        ("did(any) since 2026-01-01T12:00:00", 1, 35, "needs a time zone"),
        ("did(any) since 2026-01-01T12:00:00.1234Z", 1, 16, "millisecond precision"),
        ("did(any) since 30d", 1, 16, "unexpected '30d'"),
        ('did("E" where p = 1)', 1, 17, "unexpected '='"),
        ('did("E" where p ~ 1)', 1, 17, "unexpected character '~'"),
        ('did("E" where p in ())', 1, 21, "unexpected ')'"),
        ('did("E" where p contains 3)', 1, 26, "unexpected '3'"),
        ('did("E" where p not == 3)', 1, 21, "unexpected '=='"),
        ('did("E" where not)', 1, 18, "unexpected ')'"),
        ('sum(amount, "E")', 1, 17, "unexpected end of input"),
        ('sum(amount, "E") in last 3d', 1, 18, "unexpected 'in'"),
        ("did(E)", 1, 5, "unexpected 'E'"),
        ("in_cohort(name)", 1, 11, "unexpected 'name'"),
        ("user plan", 1, 6, "unexpected 'plan'"),
        ('did("A") or (did("B")', 1, 22, "unexpected end of input"),
        ("\n\n   did(any) >= x", 3, 16, "unexpected 'x'"),
        ('sequence("A", "B") in last 30d within 7d', 1, 32, "unexpected 'within'"),
        ("did(any) since 1e999", 1, 16, "out of range"),
        ('did("E") >= ' + "9" * 400, 1, 13, "out of range"),
    ],
)
def test_errors_name_line_and_column(text: str, line: int, column: int, message: str) -> None:
    err = error(text)
    assert (err.line, err.column) == (line, column), str(err)
    assert message in err.message, str(err)
    assert str(err).startswith(f"line {line}, column {column}: ")


def test_errors_say_what_was_expected() -> None:
    assert error('did("E") foo').expected == "'and', 'or' or end of input"
    assert "non-negative integer" in error('did("E") >= -1').expected
    assert "(0, 100]" in error("top 0% by count(any)").expected
    assert "ms, s, m, h, d, w" in error("did(any) in last 3y").expected
    assert "(expected " in str(error("sequence()"))


# ---------------------------------------------------------------- robustness
_PIECES = st.sampled_from(
    ['did(', 'any', ')', '(', '"E"', '"', "\\", " where ", "x", " == ", " in ", "last", " 30d", "0d", " and ",
     " or ", "not ", ",", "%", "top ", "9" * 400, "1e999", "-", "2026-01-01", "T12:00Z", " between ", " ago",
     "sequence(", "user.", "#", "\n", ".", "1.5", "=", "sum(", "by ", "count(", "in_cohort(", "ever"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=25).map("".join))
def test_any_input_parses_or_raises_parse_error(text: str) -> None:
    """No other exception type escapes; whatever parses also round-trips."""
    try:
        tree = parse(text)
    except ParseError as err:
        assert err.line >= 1 and err.column >= 1
        return
    assert parse(to_text(tree)) == tree


def test_huge_integer_percentage_is_rejected_cleanly() -> None:
    err = error("top " + "9" * 400 + "% by count(any)")
    assert (err.line, err.column) == (1, 5)
