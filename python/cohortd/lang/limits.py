"""Size limits of one cohort definition, and the check that a tree obeys the language.

Why limits: every stage that handles a definition (parser, printer, protobuf
on the wire, evaluation) walks it, and a definition without bounds can make
any of them recurse past Python's stack or do unbounded work.  The numbers
are documented in docs/cohort-language.md ("Limits"):

* ``MAX_CONDITIONS``: conditions (did, sequence, top, user.x, in_cohort, ...)
  in one definition;
* ``MAX_PREDICATES``: property predicates in all the definition's filters;
* ``MAX_DEPTH``: nesting depth, counted as on the wire: a chain of one
  operator (``a or b or c``) is one level, ``not`` is one level, a filter's
  levels add to its condition's;
* ``MAX_SEQUENCE_STEPS``: steps of one ``sequence``;
* ``MAX_IN_VALUES``: values of one ``in (...)`` list;
* ``MAX_TEXT_CHARS``: characters of a definition's text.

The parser enforces them while it reads, with the line and column where the
limit was crossed; :func:`check_tree` enforces them for trees that arrive
built (SDK, protobuf) and then puts the tree through exactly the parser's
checks by printing it and parsing the text back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from cohortd.errors import DefinitionError, ParseError
from cohortd.lang import ast as A
from cohortd.lang.ast import chain

__all__ = [
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_IN_VALUES",
    "MAX_PREDICATES",
    "MAX_SEQUENCE_STEPS",
    "MAX_TEXT_CHARS",
    "check_shape",
    "check_tree",
    "limit_message",
]

MAX_CONDITIONS = 500
MAX_PREDICATES = 500
MAX_DEPTH = 32
MAX_SEQUENCE_STEPS = 16
MAX_IN_VALUES = 10_000
MAX_TEXT_CHARS = 256 * 1024

_CONDITIONS = (
    A.Did, A.Aggregate, A.ActiveDays, A.ActivePeriods, A.Sequence, A.FirstDid, A.NthDid,
    A.CountCompare, A.DidOnPeriods, A.DidWithinOfFirst, A.Stopped, A.Restarted, A.Regularly, A.Top,
    A.UserProp, A.HadUserProp, A.InCohort, A.UserCount, A.AccountProp,
)  # fmt: skip
_PREDICATES = (A.PropCmp, A.PropIn, A.PropExists, A.PropContains)


def limit_message(what: str, limit: int, name: str) -> str:
    """One wording for every limit, naming it (``MAX_...``) so a reader finds it in the docs."""
    return f"{what}: the limit is {limit:,} ({name})"


def _children(node: object) -> Iterator[object]:
    """Direct children of a node (a chain's operands for and/or)."""
    if isinstance(node, A.And | A.Or | A.FAnd | A.FOr):
        yield from chain(node)
    elif isinstance(node, A.Not | A.FNot):
        yield node.item
    elif isinstance(node, A.Sequence):
        yield from node.steps
    elif isinstance(node, A.Top):
        if node.metric is not None:
            yield node.metric.event
    elif isinstance(node, A.UserProp | A.HadUserProp | A.AccountProp):
        yield node.predicate
    elif isinstance(node, A.Accounts):
        yield node.expr
    elif isinstance(node, A.UserCount):
        yield node.cohort
    elif isinstance(node, A.DidWithinOfFirst):
        yield from (node.event, node.anchor)
    elif isinstance(node, A.EventRef):
        if node.filter is not None:
            yield node.filter
    elif hasattr(node, "event"):
        yield node.event  # type: ignore[attr-defined]


def check_shape(expr: A.Expr, positions: Mapping[object, tuple[int, int]] | None = None) -> None:
    """Count conditions, predicates, depth... without recursion; raise past a limit.

    With ``positions`` (node → line, column, from the parser) the error is a
    :class:`ParseError` pointing at the offending node, else a :class:`DefinitionError`.
    """

    def fail(node: object, what: str, limit: int, name: str) -> None:
        message = limit_message(what, limit, name)
        where = None
        while positions and where is None:  # chains have no position: use their first operand's
            where = positions.get(node)
            if isinstance(node, A.And | A.Or | A.FAnd | A.FOr):
                node = chain(node)[0]
            elif isinstance(node, A.Not | A.FNot):
                node = node.item
            else:
                break
        if where is not None:
            raise ParseError(message, where[0], where[1])
        raise DefinitionError(message)

    conditions = predicates = 0
    stack: list[tuple[object, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            fail(node, f"nested deeper than {MAX_DEPTH} levels", MAX_DEPTH, "MAX_DEPTH")
        if isinstance(node, _CONDITIONS):
            conditions += 1
            if conditions > MAX_CONDITIONS:
                fail(node, f"more than {MAX_CONDITIONS:,} conditions", MAX_CONDITIONS, "MAX_CONDITIONS")
        if isinstance(node, A.Sequence) and len(node.steps) > MAX_SEQUENCE_STEPS:
            what = f"a sequence of {len(node.steps):,} steps"
            fail(node, what, MAX_SEQUENCE_STEPS, "MAX_SEQUENCE_STEPS")
        if isinstance(node, _PREDICATES):
            predicates += 1
            if predicates > MAX_PREDICATES:
                what = f"more than {MAX_PREDICATES:,} property predicates"
                fail(node, what, MAX_PREDICATES, "MAX_PREDICATES")
            if isinstance(node, A.PropIn) and len(node.values) > MAX_IN_VALUES:
                fail(node, f"an 'in' list of {len(node.values):,} values", MAX_IN_VALUES, "MAX_IN_VALUES")
            continue
        nested = isinstance(node, A.And | A.Or | A.Not | A.FAnd | A.FOr | A.FNot | A.Accounts | A.UserCount)
        stack.extend((child, depth + 1 if nested else depth) for child in _children(node))


def check_tree(expr: A.Expr) -> A.Expr:
    """``expr`` (unchanged) once it passed the same checks as text: limits, then print and parse back.

    A tree that prints to text the parser rejects (a one-step sequence, a zero
    duration, ``top 150%``...) or that does not come back equal (a bool where
    a number belongs) raises :class:`DefinitionError` quoting the parser's
    reason; nothing built from a tree skips a rule that text must obey.
    """
    from cohortd.lang.parser import parse
    from cohortd.lang.printer import to_text

    check_shape(expr)
    try:
        text = to_text(expr)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise DefinitionError(f"definition tree is malformed: {exc}") from None
    try:
        parsed = parse(text)
    except ParseError as exc:
        shown = text if len(text) <= 200 else text[:200] + "..."
        raise DefinitionError(
            f"definition tree is invalid: {exc.message}"
            + (f" (expected {exc.expected})" if exc.expected else "")
            + f", at column {exc.column} of its text {shown!r}"
        ) from None
    if parsed != expr:
        raise DefinitionError(f"definition tree does not round-trip through its text {text[:200]!r}")
    return expr
