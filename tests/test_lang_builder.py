"""The fluent builder produces exactly the trees the parser produces for the same text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from cohortd.errors import ParseError
from cohortd.lang import (
    active_days,
    active_periods,
    as_expr,
    avg_of,
    did,
    distinct_of,
    event,
    first_did,
    in_cohort,
    max_of,
    min_of,
    parse,
    prop,
    sequence,
    sum_of,
    top,
    user,
)
from cohortd.lang import ast as A

CASES = [
    (
        did("Feature Used").where(feature_area="dashboard").at_least(5).in_last(days=30)
        & ~did("Subscription Cancelled").in_last(days=90),
        'did("Feature Used" where feature_area == "dashboard") >= 5 in last 30d'
        ' and not did("Subscription Cancelled") in last 90d',
    ),
    (did() | did("A").ever(), 'did(any) or did("A")'),
    (
        did("A").where(prop("x") > 3, prop("y").isin("a", "b"), z=True),
        'did("A" where x > 3 and y in ("a", "b") and z == true)',
    ),
    (did("A").where(prop("x") > 3).where(prop("y") != 1.5), 'did("A" where x > 3 and y != 1.5)'),
    (did("A").where((prop("x") <= 1) | ~prop("y").exists()), 'did("A" where x <= 1 or not y exists)'),
    (
        did("A").where(prop("x").not_exists(), prop("s").contains("ab"), prop("n").not_in(1, 2)),
        'did("A" where x not exists and s contains "ab" and n not in (1, 2))',
    ),
    (
        did("A").where(prop("x") >= 0, prop("x") < 9, prop("x") == "q"),
        'did("A" where x >= 0 and x < 9 and x == "q")',
    ),
    (did("A").between(2, 5).ago("90d", "60d"), 'did("A") between 2 and 5 between 90d ago and 60d ago'),
    (did("A").between("2026-01-01", date(2026, 2, 1)), 'did("A") between 2026-01-01 and 2026-02-01'),
    (
        did("A").since(datetime(2026, 1, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))),
        'did("A") since 2026-01-01T10:30:00.000Z',
    ),
    (did("A").since("2026-01-01T00:00:00.250Z"), 'did("A") since 2026-01-01T00:00:00.250Z'),
    (did("A").at_most(3).in_last("12h"), 'did("A") <= 3 in last 12h'),
    (did("A").more_than(3).in_last(weeks=2), 'did("A") > 3 in last 2w'),
    (did("A").fewer_than(3).in_last(minutes=5), 'did("A") < 3 in last 5m'),
    (did("A").exactly(0).in_last(seconds=5), 'did("A") == 0 in last 5s'),
    (did("A").not_exactly(1).in_last(milliseconds=5), 'did("A") != 1 in last 5ms'),
    (
        sum_of("amount", "Purchase").more_than(100).in_last(hours=1),
        'sum(amount, "Purchase") > 100 in last 1h',
    ),
    (avg_of("amount").between(1.5, 2), "avg(amount, any) between 1.5 and 2"),
    (min_of("amount", "P").at_least(-3), 'min(amount, "P") >= -3'),
    (max_of("amount", "P").where(plan="pro").less_than(9.25), 'max(amount, "P" where plan == "pro") < 9.25'),
    (distinct_of("page", "View").at_least(3), 'distinct(page, "View") >= 3'),
    (active_days().at_least(3).in_last(days=30), "active_days(any) >= 3 in last 30d"),
    (active_periods("E", weeks=1).at_least(3), 'active_periods("E", 1w) >= 3'),
    (active_periods("E", "1w").where(a=1).at_least(3), 'active_periods("E" where a == 1, 1w) >= 3'),
    (
        sequence("Signup Submitted", event("First Feature Used").where(area="x"))
        .within(days=7)
        .in_last(days=30),
        'sequence("Signup Submitted", "First Feature Used" where area == "x") within 7d in last 30d',
    ),
    (first_did().in_last(days=7), "first did(any) in last 7d"),
    (first_did(event("E").where(prop("v") > 1)), 'first did("E" where v > 1)'),
    (top(20).by_count().in_last(days=30), "top 20% by count(any) in last 30d"),
    (top(2.5).by_sum("amount", "Purchase"), 'top 2.5% by sum(amount, "Purchase")'),
    (top(50).by_active_days("E").where(a=1), 'top 50% by active_days("E" where a == 1)'),
    (user("plan") == "free", 'user.plan == "free"'),
    (user.plan != "free", 'user.plan != "free"'),
    (user("my prop").isin("a"), 'user."my prop" in ("a")'),
    (user.seats > 4, "user.seats > 4"),
    (user.seats.not_exists(), "user.seats not exists"),
    (in_cohort("power users"), 'in_cohort("power users")'),
    ((did("A") | did("B")) & did("C"), '(did("A") or did("B")) and did("C")'),
    (did("A") & (did("B") & did("C")), 'did("A") and (did("B") and did("C"))'),
    (~(did("A") & did("B")), 'not (did("A") and did("B"))'),
]


@pytest.mark.parametrize("built,text", CASES, ids=[t for _, t in CASES])
def test_builder_matches_parser(built, text: str) -> None:
    assert built.expr == parse(text)
    assert str(built) == text


def test_mixing_text_trees_and_builders() -> None:
    tree = parse('did("B")')
    assert (did("A") & 'did("B")').expr == A.And(A.Did(A.EventRef("A")), tree)
    assert ('did("B")' | did("A")).expr == A.Or(tree, A.Did(A.EventRef("A")))
    assert (did("A") & tree).expr == A.And(A.Did(A.EventRef("A")), tree)


def test_as_expr_accepts_text_tree_and_builder() -> None:
    tree = parse("did(any) in last 7d")
    assert as_expr("did(any) in last 7d") == tree
    assert as_expr(tree) is tree
    assert as_expr(did().in_last(days=7)) == tree
    with pytest.raises(TypeError):
        as_expr(42)  # type: ignore[arg-type]


def test_builders_are_immutable() -> None:
    base = did("A")
    base.at_least(3)
    base.where(x=1)
    assert base.expr == A.Did(A.EventRef("A"))


@pytest.mark.parametrize(
    "make,error",
    [
        (lambda: did("A").at_least(-1).expr, ValueError),
        (lambda: did("A").at_least(1.5).expr, ValueError),
        (lambda: did("A").in_last(days=0).expr, ValueError),
        (lambda: did("A").ago("60d", "90d").expr, ValueError),
        (lambda: did("A").between("2026-02-01", "2026-01-01").expr, ValueError),
        (lambda: did("A").between(5, 2).expr, ValueError),
        (lambda: top(0).by_count().expr, ValueError),
        (lambda: top(20).expr, ValueError),
        (lambda: sum_of("x", "A").expr, ValueError),
        (lambda: sequence("A").expr, ValueError),
        (lambda: did("A").since(datetime(2026, 1, 1)).expr, ValueError),
        (lambda: first_did("A").at_least(2), TypeError),
        (lambda: did("A").within(days=1), TypeError),
        (lambda: did("A").by_count(), TypeError),
        (lambda: sequence("A", "B").where(x=1), TypeError),
        (lambda: did("A").in_last(days=1, hours=2), TypeError),
        (lambda: did("A").in_last(years=1), TypeError),
        (lambda: did("A").in_last("1y"), ParseError),
    ],
)
def test_invalid_builders_are_rejected(make, error) -> None:
    with pytest.raises(error):
        make()


def test_instants_from_python_values() -> None:
    assert did().since(date(2026, 1, 1)).expr == parse("did(any) since 2026-01-01")
    aware = datetime(2026, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)
    assert did().since(aware).expr == parse("did(any) since 2026-01-01T00:00:00.001Z")
