"""The one walker over cohort trees: children, leaves, event and cohort references, cycles.

Every layer that needs to look inside a definition (type checking, linting,
maintenance analysis, evaluation planning, the reference graph of saved
cohorts) goes through these functions, so a new node kind is taught to the
tree once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from cohortd.lang import ast as A
from cohortd.lang.shorthand import SHORTHANDS
from cohortd.lang.shorthand import expand as expand_shorthand

__all__ = [
    "Resolver",
    "children",
    "cohort_refs",
    "event_refs",
    "expand",
    "find_cycle",
    "leaves",
    "nodes",
    "predicates",
    "referenced_cohorts",
    "transform",
    "with_children",
]

Resolver = Callable[[str], A.Expr | None]
"""Looks up a saved cohort's definition by name (None when there is no such cohort)."""


def children(expr: A.Expr) -> tuple[A.Expr, ...]:
    """The direct sub-expressions of a boolean node; a leaf condition has none.

    ``accounts(g): E`` has ``E``, and ``count of users who X ...`` has ``X``: the
    user-level conditions inside an account cohort are checked and linted like any.
    """
    if isinstance(expr, A.And | A.Or):
        return (expr.left, expr.right)
    if isinstance(expr, A.Not):
        return (expr.item,)
    if isinstance(expr, A.Accounts):
        return (expr.expr,)
    if isinstance(expr, A.UserCount):
        return (expr.cohort,)
    return ()


def with_children(expr: A.Expr, kids: tuple[A.Expr, ...]) -> A.Expr:
    """``expr`` with its direct sub-expressions (as :func:`children` gives them) replaced by ``kids``."""
    if isinstance(expr, A.And | A.Or):
        return type(expr)(kids[0], kids[1])
    if isinstance(expr, A.Not):
        return A.Not(kids[0])
    if isinstance(expr, A.Accounts):
        return A.Accounts(expr.group, kids[0])
    if isinstance(expr, A.UserCount):
        return A.UserCount(kids[0], expr.cmp)
    return expr


def transform(expr: A.Expr, fn: Callable[[A.Expr], A.Expr]) -> A.Expr:
    """``expr`` rebuilt bottom-up with ``fn`` applied to every node, children before parents.

    A node whose children all come back as they were is kept as it is (not copied), so an
    unchanged tree is the same object.  A loop over an explicit stack, like :func:`leaves`.
    """
    done: list[A.Expr] = []
    stack: list[tuple[A.Expr, bool]] = [(expr, False)]
    while stack:
        node, kids_done = stack.pop()
        kids = children(node)
        if kids and not kids_done:
            stack.append((node, True))
            stack.extend((kid, False) for kid in reversed(kids))
            continue
        if kids:
            new = tuple(done[-len(kids) :])
            del done[-len(kids) :]
            if any(n is not k for n, k in zip(new, kids, strict=True)):
                node = with_children(node, new)
        done.append(fn(node))
    return done[0]


def nodes(expr: A.Expr) -> Iterator[A.Expr]:
    """Every node of the boolean tree (boolean nodes and leaves), parents before children."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def leaves(expr: A.Expr, negated: bool = False) -> Iterator[tuple[A.Expr, bool]]:
    """Every leaf condition, left to right, with whether it sits under an odd number of ``not``.

    A loop over an explicit stack, so a chain of thousands of ``and``/``or`` needs no recursion.
    """
    stack = [(expr, negated)]
    while stack:
        node, neg = stack.pop()
        if isinstance(node, A.And | A.Or):
            stack.append((node.right, neg))
            stack.append((node.left, neg))
        elif isinstance(node, A.Not):
            stack.append((node.item, not neg))
        elif isinstance(node, A.Accounts | A.UserCount):
            stack.extend((child, False) for child in children(node))  # a new (user-level) scope
        else:
            yield node, neg


def event_refs(leaf: A.Expr) -> list[A.EventRef]:
    """The event references a leaf condition reads (none for user properties and in_cohort)."""
    if isinstance(leaf, A.Did | A.Aggregate | A.ActiveDays | A.ActivePeriods | A.FirstDid | A.NthDid):
        return [leaf.event]
    if isinstance(leaf, A.Sequence):
        return list(leaf.steps)
    if isinstance(leaf, A.CountCompare):
        return [leaf.left, leaf.right]
    if isinstance(leaf, A.DidOnPeriods | A.Stopped | A.Restarted | A.Regularly):
        return [leaf.event]
    if isinstance(leaf, A.DidWithinOfFirst):
        return [leaf.event, leaf.anchor]
    if isinstance(leaf, A.Top):
        return [leaf.metric.event]
    return []


def predicates(flt: A.Filter) -> Iterator[A.Predicate]:
    """The leaf predicates of a property filter, left to right."""
    stack = [flt]
    while stack:
        node = stack.pop()
        if isinstance(node, A.FAnd | A.FOr):
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, A.FNot):
            stack.append(node.item)
        else:
            yield node


def cohort_refs(expr: A.Expr) -> list[str]:
    """Names of the saved cohorts ``expr`` references directly, in text order."""
    return [leaf.name for leaf, _ in leaves(expr) if isinstance(leaf, A.InCohort)]


def referenced_cohorts(expr: A.Expr, resolve: Resolver) -> set[str]:
    """Names of every saved cohort ``expr`` depends on, transitively (cycles are cut)."""
    out: set[str] = set()
    stack = cohort_refs(expr)
    while stack:
        name = stack.pop()
        if name in out:
            continue
        out.add(name)
        target = resolve(name)
        if target is not None:
            stack.extend(cohort_refs(target))
    return out


def expand(expr: A.Expr, resolve: Resolver | None, seen: frozenset[str] = frozenset()) -> Iterator[A.Expr]:
    """Leaf conditions and ``not`` nodes, with in_cohort replaced by the referenced definition
    and a lifecycle shorthand (``stopped``, ...) by its expansion.

    A reference that does not resolve (or with no resolver), or that points back
    into the chain being expanded, contributes nothing.
    """
    for node in nodes(expr):
        if isinstance(node, SHORTHANDS):
            yield from expand(expand_shorthand(node), resolve, seen)
        elif isinstance(node, A.InCohort):
            target = None if resolve is None or node.name in seen else resolve(node.name)
            if target is not None:
                yield from expand(target, resolve, seen | {node.name})
        elif not isinstance(node, A.And | A.Or):
            yield node


def find_cycle(name: str, refs: Iterable[str], refs_of: Callable[[str], Iterable[str]]) -> list[str] | None:
    """A reference path ``name -> ... -> name`` if a definition of ``name`` with ``refs`` closes one."""
    stack: list[tuple[str, list[str]]] = [(r, [name, r]) for r in refs]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        if current == name:
            return path
        if current in seen:
            continue
        seen.add(current)
        stack.extend((nxt, [*path, nxt]) for nxt in refs_of(current))
    return None
