"""The embedded API of the analyses: methods of the service-layer ``Project``.

``Project`` inherits :class:`AnalysisMethods`; each method parses its
arguments (event references, durations, instants), evaluates cohorts through
the project (saved names, inline definitions, ``in_cohort`` references, the
result cache) and hands masks and event parts to the analysis modules.
Times are epoch ms, datetimes or ISO-8601 text; durations are text (``30d``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pyroaring import BitMap

from cohortd.analysis import backtest as bt
from cohortd.analysis import funnel as fn
from cohortd.analysis import journeys as jn
from cohortd.analysis import retention as rt
from cohortd.analysis.results import Backtest, Funnel, Journeys, Retention
from cohortd.analysis.scope import mask
from cohortd.errors import DefinitionError
from cohortd.lang import ast

Definition = str | ast.Expr | Any
MAX_SPLIT_GROUPS = fn.MAX_SPLIT_GROUPS


class AnalysisMethods:
    """Backtest, retention, funnel and journeys over one project's data (mixed into ``Project``)."""

    # from Project
    engine: Any
    _clock: Callable[[], int]
    evaluate: Callable[..., Any]  # (name, definition, as_of=) -> EvaluationResult
    _resolve: Callable[[str], ast.Expr | None]
    _saved_expr: Callable[[str], ast.Expr]

    # ----------------------------------------------------------- plumbing
    def _instant(self, value: Any, what: str, default_now: bool = False) -> int:
        from cohortd.errors import InvalidArgumentError
        from cohortd.times import parse_as_of

        ms = parse_as_of(value)
        if ms is None:
            if not default_now:
                raise InvalidArgumentError(f"{what} is required (an ISO-8601 instant)")
            ms = self._clock()
        return ms

    @staticmethod
    def _duration(text: str | ast.Duration, what: str) -> ast.Duration:
        from cohortd.lang.parser import parse_duration

        if isinstance(text, ast.Duration):
            return text
        if not text:
            raise DefinitionError(f"{what}: give a duration such as 30d")
        return parse_duration(str(text).strip())

    def _event(self, text: str | ast.EventRef) -> ast.EventRef:
        from cohortd.lang.parser import parse_event

        event = text if isinstance(text, ast.EventRef) else parse_event(str(text))
        self.engine.check(ast.Did(event, None, ast.Ever()))  # property types against the schema
        return event

    def _members(self, name: str | None, definition: Definition | None, as_of: int) -> BitMap:
        return self.evaluate(name, definition, as_of=as_of).bitmap

    def _tree(self, name: str | None, definition: Definition | None) -> ast.Expr:
        return self._saved_expr(name) if name is not None else self.engine.definition(definition)

    def _group_masks(
        self,
        ev: Any,
        cohort: str | None,
        definition: Definition | None,
        baseline: str | None,
        baseline_cohort: str | None,
        baseline_definition: Definition | None,
    ) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
        """(population mask, baseline mask, has baseline) for retention."""
        population = None
        if cohort is not None or definition is not None:
            population = mask(ev, self._members(cohort, definition, ev.as_of))
        kind = baseline or ("all" if population is not None else "none")
        if kind == "none":
            return population, None, False
        if kind == "all":
            return population, None, True
        if kind == "rest":
            if population is None:
                raise DefinitionError("baseline 'rest' needs a population cohort")
            return population, ~population, True
        if kind == "cohort":
            if baseline_cohort is None and baseline_definition is None:
                raise DefinitionError("baseline 'cohort' needs a baseline cohort or definition")
            return population, mask(ev, self._members(baseline_cohort, baseline_definition, ev.as_of)), True
        raise DefinitionError(f"baseline must be all, rest, none or cohort, not {kind!r}")

    # ------------------------------------------------------------ analyses
    def backtest(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        outcome: Definition,
        horizon: str | ast.Duration,
        as_of: Any = None,
        baseline: str = "rest",
        baseline_cohort: str | None = None,
        baseline_definition: Definition | None = None,
        every: str | ast.Duration | None = None,
        start: Any = None,
        end: Any = None,
    ) -> Backtest:
        """The cohort at ``as_of`` (or every ``every`` from ``start`` to ``end``) against a baseline."""
        if outcome is None or outcome == "":
            raise DefinitionError("backtest needs an outcome definition")
        span = self._duration(horizon, "horizon")
        if every:
            dates = bt.run_dates(self._instant(start, "from"), self._instant(end, "to"),
                                 self._duration(every, "every").ms)  # fmt: skip
        else:
            dates = [self._instant(as_of, "as-of (the backtest date A)")]
        trees = [self._tree(cohort, definition), self.engine.definition(outcome)]
        if baseline == "cohort":
            if baseline_cohort is None and baseline_definition is None:
                raise DefinitionError("baseline 'cohort' needs a baseline cohort or definition")
            trees.append(self._tree(baseline_cohort, baseline_definition))
        user_props = any(bt.uses_user_properties(t, self._resolve) for t in trees)
        now = self._clock()
        runs = [
            bt.backtest_run(
                cohort=lambda ms: self._members(cohort, definition, ms),
                outcome=lambda ms: self._members(None, outcome, ms),
                known=lambda ms: self.engine.evaluation(ms).known,  # cached with the cohort's evaluation
                as_of=a,
                horizon=span,
                baseline_kind=baseline,
                baseline=lambda ms: self._members(baseline_cohort, baseline_definition, ms),
                now=now,
                user_properties=user_props,
            )
            for a in dates
        ]
        return Backtest(runs)

    def retention(
        self,
        start_event: str | ast.EventRef,
        return_event: str | ast.EventRef,
        start: Any,
        end: Any,
        *,
        period: str | ast.Duration = "1w",
        periods: int = 8,
        as_of: Any = None,
        cohort: str | None = None,
        definition: Definition | None = None,
        unbounded: bool = False,
        baseline: str | None = None,
        baseline_cohort: str | None = None,
        baseline_definition: Definition | None = None,
        kernel: str | None = None,
    ) -> Retention:
        """Retention curve of a population (default all known users) and of a baseline."""
        p = self._duration(period, "period")
        first, back = self._event(start_event), self._event(return_event)
        lo, hi = self._instant(start, "from"), self._instant(end, "to")
        ev = self.engine.evaluation(self._instant(as_of, "as-of", default_now=True), kernel)
        population, base, has_base = self._group_masks(
            ev, cohort, definition, baseline, baseline_cohort, baseline_definition
        )
        groups = [population, base] if has_base else [population]
        curves = rt.curves(ev, first, back, lo, hi, p, int(periods), groups, unbounded)
        return Retention(
            period=f"{p.value}{p.unit}",
            mode="unbounded" if unbounded else "on",
            population=curves[0],
            baseline=curves[1] if has_base else None,
            as_of_ms=ev.as_of,
        )

    def funnel(
        self,
        steps: Sequence[str | ast.EventRef],
        start: Any,
        end: Any,
        *,
        window: str | ast.Duration | None = "7d",
        as_of: Any = None,
        cohort: str | None = None,
        definition: Definition | None = None,
        split_cohort: str | None = None,
        split_definition: Definition | None = None,
        split_property: str | None = None,
        kernel: str | None = None,
    ) -> Funnel:
        """Users reaching each step, optionally split by a cohort or a current user property."""
        return self.funnel_parts(
            steps, start, end, window=window, as_of=as_of, cohort=cohort, definition=definition,
            split_cohort=split_cohort, split_definition=split_definition, split_property=split_property,
            kernel=kernel,
        ).summary()  # fmt: skip

    def funnel_parts(
        self,
        steps: Sequence[str | ast.EventRef],
        start: Any,
        end: Any,
        *,
        window: str | ast.Duration | None = "7d",
        as_of: Any = None,
        cohort: str | None = None,
        definition: Definition | None = None,
        split_cohort: str | None = None,
        split_definition: Definition | None = None,
        split_property: str | None = None,
        kernel: str | None = None,
    ) -> fn.FunnelParts:
        """The funnel's per-entrant step times before they are summarised (a cluster merges them)."""
        from cohortd.lang.printer import event_to_text

        events = [self._event(s) for s in steps]
        window_ms = self._duration(window, "window").ms if window else -1
        lo, hi = self._instant(start, "from"), self._instant(end, "to")
        ev = self.engine.evaluation(self._instant(as_of, "as-of", default_now=True), kernel)
        users, times = fn.entrant_times(ev, events, lo, hi, window_ms)
        if cohort is not None or definition is not None:
            inside = mask(ev, self._members(cohort, definition, ev.as_of))[users]
            users, times = users[inside], times[inside]
        labels = [event_to_text(e) for e in events]
        parts = fn.FunnelParts(labels, times, ev.as_of)
        if split_cohort is not None or split_definition is not None:
            if split_property:
                raise DefinitionError("split by a cohort or by a user property, not both")
            member = mask(ev, self._members(split_cohort, split_definition, ev.as_of))[users]
            parts.split_by = "cohort"
            parts.groups = [("members", times[member]), ("non-members", times[~member])]
        elif split_property:
            parts.split_by = f"user.{split_property}"
            parts.groups = [(g, times[rows]) for g, rows in self._by_property(split_property, users)]
        return parts

    def _by_property(self, prop: str, users: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Row masks of ``users`` grouped by a current user property (every group; see FunnelParts)."""
        store = self.engine.store
        kind = store.user_schema.get(prop)
        if kind is None:
            raise DefinitionError(f"no user property named {prop!r}")
        values, valid = store.user_props.get(prop, len(store.users))
        ids = users.astype(np.int64)
        present = valid[ids]
        codes = values[ids]
        groups: list[tuple[str, np.ndarray]] = []
        if np.any(present):
            distinct, inverse = np.unique(codes[present], return_inverse=True)
            where = np.flatnonzero(present)
            for i, v in enumerate(distinct):
                label = store.values.value(int(v)) if kind == "string" else _label(v.item())
                rows = np.zeros(len(users), bool)
                rows[where[inverse == i]] = True
                groups.append((label, rows))
        if not np.all(present):
            groups.append(("(none)", ~present))
        return groups

    def journeys(
        self,
        anchor: str | ast.EventRef,
        start: Any,
        end: Any,
        *,
        after: str | ast.Duration = "30m",
        before: str | ast.Duration = "30m",
        depth: int = 3,
        top: int = 10,
        keep_repeats: bool = False,
        as_of: Any = None,
        cohort: str | None = None,
        definition: Definition | None = None,
        returned_within: str | ast.Duration | None = None,
        did: Sequence[str | ast.EventRef] = (),
        kernel: str | None = None,
    ) -> Journeys:
        """Top paths after and before each user's first anchor event in the range."""
        from cohortd.lang.printer import event_to_text

        anchor_event = self._event(anchor)
        after_ms, before_ms = self._duration(after, "after").ms, self._duration(before, "before").ms
        lo, hi = self._instant(start, "from"), self._instant(end, "to")
        ev = self.engine.evaluation(self._instant(as_of, "as-of", default_now=True), kernel)
        keep = None
        if cohort is not None or definition is not None:
            keep = mask(ev, self._members(cohort, definition, ev.as_of))
        first = jn.anchors(ev, anchor_event, lo, hi, keep)
        users, after_rows, before_rows = jn.path_rows(
            ev, first, before_ms, after_ms, int(depth), keep_repeats
        )
        returned = None
        if returned_within:
            within = self._duration(returned_within, "returned within")
            hit = jn.shares_after(ev, first, [anchor_event], lo, within.ms)[0]
            returned = jn.share(f"{within.value}{within.unit}", hit)
        did_events = [self._event(d) for d in did]
        did_shares = [
            jn.share(event_to_text(e), hit)
            for e, hit in zip(did_events, jn.shares_after(ev, first, did_events, lo, after_ms), strict=True)
        ]
        return Journeys(
            anchor=event_to_text(anchor_event),
            users=len(users),
            after=jn.top_paths(ev, after_rows, int(depth), int(top), before=False),
            before=jn.top_paths(ev, before_rows, int(depth), int(top), before=True),
            as_of_ms=ev.as_of,
            returned=returned,
            did=did_shares,
        )


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
