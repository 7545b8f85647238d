"""lang/walk.py's transform: checked against a plain recursive rebuild on random trees."""

from __future__ import annotations

from cohortd import governance
from cohortd.lang import ast as A
from cohortd.lang import parse, to_text
from cohortd.lang.walk import cohort_refs, transform
from hypothesis import given, settings
from hypothesis import strategies as st
from support import strategies as S

NAMES = ["Alpha", "Beta", "Gamma"]


def _rebuilt(expr: A.Expr, fn) -> A.Expr:  # type: ignore[no-untyped-def]
    """The obvious recursive rebuild, node kind by node kind."""
    if isinstance(expr, A.And):
        return fn(A.And(_rebuilt(expr.left, fn), _rebuilt(expr.right, fn)))
    if isinstance(expr, A.Or):
        return fn(A.Or(_rebuilt(expr.left, fn), _rebuilt(expr.right, fn)))
    if isinstance(expr, A.Not):
        return fn(A.Not(_rebuilt(expr.item, fn)))
    if isinstance(expr, A.Accounts):
        return fn(A.Accounts(expr.group, _rebuilt(expr.expr, fn)))
    if isinstance(expr, A.UserCount):
        return fn(A.UserCount(_rebuilt(expr.cohort, fn), expr.cmp))
    return fn(expr)


def _rename(node: A.Expr) -> A.Expr:
    return A.InCohort("Renamed") if isinstance(node, A.InCohort) and node.name == "Alpha" else node


def _users_with_refs() -> st.SearchStrategy[A.Expr]:
    return S.exprs(cohort_names=NAMES, max_depth=2)


_trees = st.one_of(
    S.exprs(cohort_names=NAMES, max_depth=3),
    st.builds(
        A.Accounts,
        st.just("company"),
        st.builds(A.UserCount, _users_with_refs(), st.just(A.Compare(">=", 2))),
    ),
)


@settings(max_examples=150, deadline=None)
@given(_trees)
def test_transform_matches_the_recursive_rebuild(tree: A.Expr) -> None:
    assert transform(tree, _rename) == _rebuilt(tree, _rename)
    assert transform(tree, lambda n: n) is tree  # nothing changed: the same object back
    order: list[A.Expr] = []
    transform(tree, lambda n: order.append(n) or n)
    expected: list[A.Expr] = []
    _rebuilt(tree, lambda n: expected.append(n) or n)
    assert order == expected  # children before parents, left to right


@settings(max_examples=100, deadline=None)
@given(_trees)
def test_renamed_rewrites_every_reference_the_walker_sees(tree: A.Expr) -> None:
    out = governance.renamed(tree, "Alpha", "Renamed")
    refs = cohort_refs(tree)
    assert cohort_refs(out) == ["Renamed" if r == "Alpha" else r for r in refs]


def test_renamed_reaches_into_an_account_cohort() -> None:
    tree = parse('accounts(company): count of users who (in_cohort("Alpha") and did("A")) >= 2')
    out = governance.renamed(tree, "Alpha", "Renamed")
    assert to_text(out) == 'accounts(company): count of users who (in_cohort("Renamed") and did("A")) >= 2'


def test_transform_of_a_long_chain_needs_no_recursion() -> None:
    tree: A.Expr = A.InCohort("Alpha")
    for _ in range(20_000):
        tree = A.And(tree, A.InCohort("Alpha"))
    out = transform(tree, _rename)
    assert cohort_refs(out) == ["Renamed"] * 20_001
