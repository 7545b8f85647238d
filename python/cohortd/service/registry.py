"""Saved cohorts of one project and the reference graph between them.

The catalog (SQLite) is the record; this registry is the in-memory view the
service answers from: each saved cohort's current version, canonical text,
archived flag and parsed tree, plus the checks that keep ``in_cohort``
references sound (every reference names a saved cohort, no cycles).

A saved definition that no longer checks (an older server saved it, a limit
was lowered) does not stop the project from opening: that cohort (and any that
reference it) is *broken*, listed in ``broken`` with the reason, answers
``BrokenCohortError`` when asked about, and works again once updated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cohortd.errors import BrokenCohortError, CohortError, DefinitionError, NotFoundError
from cohortd.lang import walk
from cohortd.lang.ast import Expr

__all__ = ["MAX_IN_COHORT_DEPTH", "Registry", "Saved"]

MAX_IN_COHORT_DEPTH = 32
"""Saved cohorts referencing each other through in_cohort nest at most this deep (docs/cohort-language.md)."""


@dataclass
class Saved:
    """One saved cohort's current version; ``expr`` is parsed on first use."""

    version: int
    text: str
    archived: bool
    expr: Expr | None = field(default=None, repr=False)


class Registry:
    """Name -> :class:`Saved`, with lookups for evaluation and reference checks."""

    def __init__(self, saved: Iterable[tuple[str, Saved]] = ()) -> None:
        self.saved: dict[str, Saved] = dict(saved)
        self.broken: dict[str, str] = {}
        """Saved cohorts whose definition no longer checks -> why (they are not evaluated)."""

    def __contains__(self, name: object) -> bool:
        return name in self.saved

    def get(self, name: str) -> Saved | None:
        return self.saved.get(name)

    def set(self, name: str, saved: Saved) -> None:
        self.saved[name] = saved

    def active_names(self) -> list[str]:
        """Names (sorted) of the saved cohorts that are not archived."""
        return sorted(n for n, s in list(self.saved.items()) if not s.archived)

    def live_names(self) -> list[str]:
        """Names (sorted) of the saved cohorts that are neither archived nor broken."""
        return [n for n in self.active_names() if n not in self.broken]

    def expr(self, name: str) -> Expr:
        """The tree of a saved cohort; ``NotFoundError`` when there is none."""
        saved = self.saved.get(name)
        if saved is None:
            raise NotFoundError(f"no cohort named {name!r}")
        if name in self.broken:
            raise BrokenCohortError(f"cohort {name!r} is broken ({self.broken[name]}); update its definition")
        if saved.expr is None:
            from cohortd.lang import as_expr

            try:
                saved.expr = as_expr(saved.text)
            except CohortError as exc:
                raise BrokenCohortError(f"the saved definition of {name!r} no longer checks: {exc}") from None
        return saved.expr

    def resolve(self, name: str) -> Expr | None:
        """The tree of a saved cohort, or None (the evaluator's ``in_cohort`` resolver)."""
        try:
            return self.expr(name)
        except NotFoundError:
            return None

    def check_refs(self, expr: Expr, name: str | None) -> None:
        """Reject references to unknown cohorts and cycles through ``name``."""
        refs = walk.cohort_refs(expr)
        for ref in refs:
            if ref != name and ref not in self.saved:
                raise DefinitionError(f"in_cohort({ref!r}): no saved cohort has that name")
        depth = 1 + max((self.ref_depth(r) for r in refs if r != name), default=0)
        if depth > MAX_IN_COHORT_DEPTH:
            raise DefinitionError(
                f"in_cohort references nested {depth} deep: "
                f"the limit is {MAX_IN_COHORT_DEPTH} (MAX_IN_COHORT_DEPTH)"
            )
        if name is None:
            return
        cycle = walk.find_cycle(name, refs, lambda n: walk.cohort_refs(self.expr(n)))
        if cycle is not None:
            raise DefinitionError("in_cohort reference cycle: " + " -> ".join(cycle))

    def check_depth(self, name: str) -> None:
        """Reject a saved cohort whose in_cohort references nest past the limit."""
        depth = self.ref_depth(name)
        if depth > MAX_IN_COHORT_DEPTH:
            raise DefinitionError(
                f"in_cohort references nested {depth} deep: "
                f"the limit is {MAX_IN_COHORT_DEPTH} (MAX_IN_COHORT_DEPTH)"
            )

    def ref_depth(self, name: str) -> int:
        """Levels of in_cohort below and including ``name`` (1: it references none), without recursion."""
        depths: dict[str, int] = {}
        stack = [(name, False)]
        while stack:
            current, expanded = stack.pop()
            if current in depths:
                continue
            refs = [r for r in walk.cohort_refs(self.expr(current)) if r in self.saved]
            if expanded:
                depths[current] = 1 + max((depths.get(r, 0) for r in refs), default=0)
            else:
                stack.append((current, True))
                stack.extend((r, False) for r in refs if r not in depths)
                if len(stack) > 4 * MAX_IN_COHORT_DEPTH * max(1, len(self.saved)):
                    break  # a cycle in an old catalog: the cycle check reports it
        return depths.get(name, MAX_IN_COHORT_DEPTH + 1)

    def dependencies_first(self, names: Iterable[str]) -> list[str]:
        """``names`` ordered so every cohort comes after those it references through in_cohort.

        Tracking in this order evaluates each cohort once at open: a cohort tracked
        before one it references would be evaluated again when that one is tracked,
        which made long chains quadratic.
        """
        names = list(names)
        order: list[str] = []
        placed: set[str] = set()
        for root in names:
            stack = [(root, False)]
            while stack:
                current, expanded = stack.pop()
                if current in placed:
                    continue
                if expanded:
                    placed.add(current)
                    order.append(current)
                    continue
                stack.append((current, True))
                try:
                    refs = walk.cohort_refs(self.expr(current))
                except CohortError:  # broken: tracking reports it
                    refs = []
                stack.extend((r, False) for r in refs if r in self.saved and r not in placed)
                if len(stack) > 4 * len(self.saved) + 8:
                    break  # a cycle in an old catalog: tracking reports the cohorts concerned
        wanted = set(names)
        return [n for n in order if n in wanted] + [n for n in names if n not in placed]

    def closure(self, name: str) -> tuple[tuple[str, int], ...]:
        """(name, version) of ``name`` and every cohort it references, transitively."""
        out: dict[str, int] = {}
        stack = [name]
        while stack:
            current = stack.pop()
            if current in out:
                continue
            saved = self.saved.get(current)
            if saved is None:
                raise NotFoundError(f"no cohort named {current!r}")
            out[current] = saved.version
            stack.extend(walk.cohort_refs(self.expr(current)))
        return tuple(sorted(out.items()))
