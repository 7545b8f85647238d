"""Lint for cohort definitions: warnings on save, never errors.

A definition that lints badly is still valid; these are the mistakes analysts
make that give a technically correct but misleading cohort.  Each warning has
a stable ``code`` so callers can filter or silence it:

``count-without-window``
    A count, aggregate, active-days/periods or percentile condition with no
    time window (``ever``): it grows forever and mixes old and new behaviour.
``unknown-event-type``
    An event type the project has never received (it matches nothing; usually
    a typo or a different capitalisation).
``name-missing-window`` / ``name-missing-behaviour``
    The cohort's name does not say the window or the behaviour (see
    :func:`name_problems` for the exact, deliberately simple rules).
``overlaps-cohort``
    The members overlap an existing saved cohort's by Jaccard >= 0.8:
    consider merging.

With the project's vocabulary (:class:`cohortd.engine.schema.Vocabulary`),
definitions that would silently match nothing are reported too, each with a
"did you mean" suggestion (a case-insensitive match, else the closest names by
``difflib``):

``unknown-event-property`` / ``property-not-on-event-type``
    An event property no event has ever carried, or one never seen on the
    event type it filters (or aggregates).
``unknown-user-property``
    A user property never set for any user.
``unknown-value``
    A string value never seen for that property (``plan == "fre"``), on that
    event type for event properties; only ``==``, ``!=``, ``in`` and
    ``not in`` are checked (``contains`` tests substrings).
``stale-event-type``
    A known event type whose last event is more than ``stale_days`` (default
    30) older than the project's newest event: deprecated or renamed.
    Measured against the newest event rather than the wall clock, so a
    historical data set is not "stale" as a whole.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap

from cohortd.lang import walk
from cohortd.lang.ast import (
    AccountProp,
    Accounts,
    ActiveDays,
    ActivePeriods,
    Aggregate,
    CountCompare,
    Did,
    DidOnPeriods,
    DidWithinOfFirst,
    EventRef,
    Ever,
    Expr,
    Filter,
    FirstDid,
    HadUserProp,
    InCohort,
    MetricActiveDays,
    MetricCount,
    MetricSum,
    NthDid,
    PropCmp,
    PropContains,
    PropExists,
    PropIn,
    Regularly,
    Restarted,
    Sequence,
    Stopped,
    Top,
    UserProp,
)
from cohortd.lang.shorthand import SHORTHANDS
from cohortd.times import DAY_MS
from cohortd.types import LintWarning

if TYPE_CHECKING:
    from cohortd.engine.schema import Vocabulary

__all__ = [
    "JACCARD_THRESHOLD",
    "STALE_DAYS",
    "LintWarning",
    "data_problems",
    "jaccard",
    "lint",
    "name_problems",
    "overlap_warnings",
    "stale_event_types",
    "suggest",
]

JACCARD_THRESHOLD = 0.8
STALE_DAYS = 30
SUGGEST_FROM = 2_000  # value suggestions come from this many most frequent values


def _filter_words(f: Filter) -> Iterator[str]:
    for pred in walk.predicates(f):
        yield pred.prop
        if isinstance(pred, PropCmp) and isinstance(pred.value, str):
            yield pred.value
        elif isinstance(pred, PropIn):
            yield from (v for v in pred.values if isinstance(v, str))
        elif isinstance(pred, PropContains):
            yield pred.substr


def _label(ref: EventRef) -> str:
    return "any" if ref.event_type is None else f'"{ref.event_type}"'


def jaccard(a: BitMap, b: BitMap) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when both are empty (no evidence of similarity)."""
    union = a.union_cardinality(b)
    return a.intersection_cardinality(b) / union if union else 0.0


# ---------------------------------------------------------------- the rules
def _has_window(cond: Expr) -> bool:
    if isinstance(cond, SHORTHANDS):  # stopped(E, 30d) ... carry their windows in the period
        return True
    return not isinstance(getattr(cond, "window", Ever()), Ever)


def _count_without_window(expr: Expr) -> list[LintWarning]:
    out = []
    for cond, _ in walk.leaves(expr):
        kind = None
        if isinstance(cond, Did) and cond.cmp is not None:
            kind = "count"
        elif isinstance(cond, Aggregate):
            kind = f"{cond.func} aggregate"
        elif isinstance(cond, ActiveDays):
            kind = "active_days count"
        elif isinstance(cond, ActivePeriods):
            kind = "active_periods count"
        elif isinstance(cond, CountCompare):
            kind = "relative count"
        elif isinstance(cond, DidOnPeriods):
            kind = "per-period count"
        elif isinstance(cond, Top):
            kind = "percentile metric"
        if kind is not None and not _has_window(cond):
            what = ", ".join(_label(r) for r in walk.event_refs(cond))
            out.append(
                LintWarning(
                    "count-without-window",
                    f"{kind} over {what} has no time window, so it counts all history "
                    "(add e.g. 'in last 30d')",
                )
            )
    return out


def suggest(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` for the closest candidates (case-insensitive match first), or ``""``."""
    pool = list(dict.fromkeys(candidates))
    by_lower = {c.lower(): c for c in pool}
    best = [by_lower[word.lower()]] if word.lower() in by_lower else difflib.get_close_matches(word, pool, 3)
    if not best:
        return ""
    return "; did you mean " + " or ".join(repr(b) for b in best) + "?"


def _unknown_event_types(expr: Expr, known: Collection[str]) -> list[LintWarning]:
    known_set = set(known)
    seen: list[str] = []
    for cond, _ in walk.leaves(expr):
        for ref in walk.event_refs(cond):
            et = ref.event_type
            if et is not None and et not in known_set and et not in seen:
                seen.append(et)
    return [
        LintWarning(
            "unknown-event-type",
            f"event type {et!r} has never been received (matches nothing){suggest(et, sorted(known_set))}",
        )
        for et in seen
    ]


def stale_event_types(vocab: Vocabulary, stale_days: int = STALE_DAYS) -> dict[str, int]:
    """Event types silent for more than ``stale_days`` before the newest event: name → last seen (ms)."""
    if vocab.latest_event_ms is None:
        return {}
    edge = vocab.latest_event_ms - stale_days * DAY_MS
    return {name: st.last_seen for name, st in vocab.types.items() if st.last_seen < edge}


def _predicates(f: Filter | None) -> Iterator[PropCmp | PropIn | PropExists | PropContains]:
    if f is not None:
        yield from walk.predicates(f)


def _string_literals(pred: object) -> list[str]:
    if isinstance(pred, PropCmp) and pred.op in ("==", "!=") and isinstance(pred.value, str):
        return [pred.value]
    if isinstance(pred, PropIn):
        return [v for v in pred.values if isinstance(v, str)]
    return []


class _DataRules:
    """The vocabulary rules over one definition (see the module docstring)."""

    def __init__(self, vocab: Vocabulary, stale_days: int) -> None:
        self.vocab = vocab
        self.stale = stale_event_types(vocab, stale_days)
        self.stale_days = stale_days
        self.out: list[LintWarning] = []

    def add(self, code: str, message: str) -> None:
        w = LintWarning(code, message)
        if w not in self.out:
            self.out.append(w)

    def event_ref(self, ref: EventRef, extra_props: Iterable[str] = ()) -> None:
        from cohortd.times import iso_ms

        et = ref.event_type
        if et is not None and et not in self.vocab.types:
            return  # reported by the unknown-event-type rule
        if et is not None and et in self.stale:
            self.add(
                "stale-event-type",
                f"event type {et!r} has not arrived for over {self.stale_days} days (last seen "
                f"{iso_ms(self.stale[et])}): deprecated or renamed?",
            )
        props = [p.prop for p in _predicates(ref.filter)] + list(extra_props)
        for prop in props:
            self.event_prop(et, prop)
        for pred in _predicates(ref.filter):
            literals = _string_literals(pred)
            if literals and self.vocab.event_props.get(pred.prop) == "string":
                self.event_values(et, pred.prop, literals)

    def _types_with(self, et: str | None) -> list[Any]:
        return list(self.vocab.types.values()) if et is None else [self.vocab.types[et]]

    def event_prop(self, et: str | None, prop: str) -> None:
        if prop not in self.vocab.event_props:
            hint = suggest(prop, sorted(self.vocab.event_props))
            self.add(
                "unknown-event-property", f"event property {prop!r} is on no event (matches nothing){hint}"
            )
            return
        if et is None:
            return
        on_type = self.vocab.types[et].props
        if prop not in on_type:
            self.add(
                "property-not-on-event-type",
                f"event property {prop!r} has never been seen on {et!r} (matches nothing)"
                f"{suggest(prop, sorted(on_type))}",
            )

    def event_values(self, et: str | None, prop: str, literals: list[str]) -> None:
        stats = [st.props[prop] for st in self._types_with(et) if prop in st.props]
        if not stats:
            return  # the property rule already spoke
        where = "" if et is None else f" on {et!r}"
        for lit in literals:
            code = self.vocab.values.get(lit)
            if any(_seen(p.values, code) for p in stats):
                continue
            pool = _frequent(self.vocab, [(p.values, p.counts) for p in stats])
            self.add(
                "unknown-value",
                f"event property {prop!r} has never had the value {lit!r}{where} (matches nothing)"
                f"{suggest(lit, pool)}",
            )

    def user_prop(self, pred: object) -> None:
        prop = pred.prop  # type: ignore[attr-defined]
        if prop not in self.vocab.user_props:
            self.add(
                "unknown-user-property",
                f"user property {prop!r} has never been set (matches nothing)"
                f"{suggest(prop, sorted(self.vocab.user_props))}",
            )
            return
        literals = _string_literals(pred)
        seen = self.vocab.user_values(prop) if literals else None
        if seen is None:
            return
        for lit in literals:
            if _seen(seen, self.vocab.values.get(lit)):
                continue
            pool = _frequent(self.vocab, [(seen, None)])
            self.add(
                "unknown-value",
                f"user property {prop!r} has never had the value {lit!r}{suggest(lit, pool)}",
            )


def _seen(codes: Any, code: int | None) -> bool:
    """Whether ``code`` is in the sorted array ``codes`` (binary search)."""
    import numpy as np

    if code is None:
        return False
    i = int(np.searchsorted(codes, code))
    return i < len(codes) and int(codes[i]) == code


def _frequent(vocab: Vocabulary, parts: list[tuple[Any, Any]]) -> list[str]:
    """Up to SUGGEST_FROM decoded values, most frequent first (the pool for value suggestions)."""
    import numpy as np

    values = np.concatenate([v for v, _ in parts])
    counts = np.concatenate([c if c is not None else np.ones(len(v), np.int64) for v, c in parts])
    order = np.argsort(-counts, kind="stable")[:SUGGEST_FROM]
    return [vocab.decode(int(c)) for c in values[order]]


def _unknown_account_names(expr: Expr, vocab: Vocabulary) -> list[LintWarning]:
    """An account cohort naming a group type or account property the project never received."""
    store = getattr(vocab.index, "store", None)
    if not isinstance(expr, Accounts) or store is None:
        return []
    out = []
    types = store.groups.type_names
    if expr.group not in types:
        out.append(LintWarning("unknown-group-type", f"group type {expr.group!r} has never been received "
                               f"(matches no account){suggest(expr.group, types)}"))  # fmt: skip
    for cond, _ in walk.leaves(expr):
        if isinstance(cond, AccountProp) and cond.predicate.prop not in store.group_schema:
            name = cond.predicate.prop
            hint = suggest(name, store.group_schema)
            out.append(
                LintWarning("unknown-account-property", f"account property {name!r} has never been set{hint}")
            )
    return out


def data_problems(expr: Expr, vocab: Vocabulary, stale_days: int = STALE_DAYS) -> list[LintWarning]:
    """Unknown event types, properties and values, and stale event types (see the module docstring)."""
    out = _unknown_event_types(expr, vocab.types) + _unknown_account_names(expr, vocab)
    rules = _DataRules(vocab, stale_days)
    for cond, _ in walk.leaves(expr):
        if isinstance(cond, UserProp | HadUserProp):
            rules.user_prop(cond.predicate)
            continue
        extra: list[str] = []
        if isinstance(cond, Aggregate):
            extra = [cond.prop]
        elif isinstance(cond, Top) and isinstance(cond.metric, MetricSum):
            extra = [cond.metric.prop]
        for ref in walk.event_refs(cond):
            rules.event_ref(ref, extra)
    return out + rules.out


# Name rules.  A name "says the window" when it contains one of: a number
# with a unit ("7d", "30 days", "2w", "90-day"), an "L<n>"/"D<n>" token
# ("L7"), a 4-digit year, or a period word below.  It "says the behaviour"
# when one of its words matches a word of the definition: the event types,
# property names and string values it mentions, in_cohort names, and a few
# verbs implied by the condition kinds (e.g. "new" for ``first did``,
# "churn"/"inactive" for ``not did``, "top"/"power" for percentiles, "active"
# only for ``any`` events, active days/periods and count percentiles).  Two
# words match when their first five letters agree, case-insensitively
# ("Churning" matches "churn", "Purchasers" matches "Purchase").  Generic words
# ("users", "cohort", ...) never count.  The window rule applies only when the
# definition has a window.
_PERIOD_WORDS = {
    "hour", "hours", "hourly", "day", "days", "daily", "week", "weeks", "weekly", "month", "months",
    "monthly", "quarter", "quarterly", "year", "years", "yearly", "today", "yesterday", "since",
}  # fmt: skip
_UNITS = r"(?:ms|s|m|h|d|w|mo|y|min|mins|hr|hrs|hours?|days?|wk|wks|weeks?|months?|years?)"
_WINDOW_RE = re.compile(rf"(?<![a-z0-9])(?:\d+\s*-?\s*{_UNITS}|[ld]\d+|(?:19|20)\d\d)(?![a-z0-9])")
_GENERIC = {
    "users", "user", "people", "accounts", "account", "customers", "cohort", "cohorts", "segment",
    "group", "the", "and", "with", "who", "that", "for", "all", "any", "not", "of", "in", "last",
}  # fmt: skip
_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "first": ("new", "first", "signup", "signups", "joined", "onboarding", "fresh"),
    "negated": ("churn", "churning", "churned", "inactive", "lapsed", "dormant", "never", "without", "no",
                "stopped", "lost", "risk", "quiet"),
    "top": ("top", "power", "most", "heavy", "best", "percentile", "leading"),
    "count": ("frequent", "repeat", "repeated", "regular", "engaged", "heavy", "light", "active"),
    "active": ("active", "activity", "engaged", "engagement", "returning", "retained", "regular"),
    "sequence": ("funnel", "sequence", "then", "converted", "conversion", "activated", "activation",
                 "journey"),
    "restarted": ("restarted", "resurrected", "reactivated", "returning", "returned", "back", "won"),
    "aggregate": ("spend", "spenders", "spent", "high", "low", "value", "big", "revenue", "paying"),
}  # fmt: skip


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-z]+", text.lower()) if w]


def _key(word: str) -> str:
    return word[:5]


def _definition_words(expr: Expr) -> set[str]:
    words: set[str] = set()
    for cond, negated in walk.leaves(expr):
        texts: list[str] = []
        for ref in walk.event_refs(cond):
            if ref.event_type is not None:
                texts.append(ref.event_type)
            else:
                words.update(_KIND_WORDS["active"])
            if ref.filter is not None:
                texts.extend(_filter_words(ref.filter))
        if isinstance(cond, Aggregate):
            texts.append(cond.prop)
            words.update(_KIND_WORDS["aggregate"])
        if isinstance(cond, Top) and isinstance(cond.metric, MetricSum):
            texts.append(cond.metric.prop)
        if isinstance(cond, UserProp | HadUserProp):
            texts.extend(_filter_words(cond.predicate))
        if isinstance(cond, InCohort):
            texts.append(cond.name)
        if isinstance(cond, FirstDid):
            words.update(_KIND_WORDS["first"])
        if isinstance(cond, NthDid | CountCompare):
            words.update(_KIND_WORDS["count"])
        if isinstance(cond, DidOnPeriods | Regularly):
            words.update(_KIND_WORDS["count"] + _KIND_WORDS["active"])
        if isinstance(cond, DidWithinOfFirst):
            words.update(_KIND_WORDS["count"] + _KIND_WORDS["first"])
        if isinstance(cond, Stopped):
            words.update(_KIND_WORDS["negated"])
        if isinstance(cond, Restarted):
            words.update(_KIND_WORDS["restarted"])
        if isinstance(cond, Top):
            words.update(_KIND_WORDS["top"])
            if isinstance(cond.metric, (MetricCount, MetricActiveDays)):
                words.update(_KIND_WORDS["active"])
        if isinstance(cond, (ActiveDays, ActivePeriods)):
            words.update(_KIND_WORDS["active"])
        if isinstance(cond, Did) and cond.cmp is not None:
            words.update(_KIND_WORDS["count"])
        if isinstance(cond, Sequence):
            words.update(_KIND_WORDS["sequence"])
        if negated:
            words.update(_KIND_WORDS["negated"])
        for t in texts:
            words.update(_words(t))
    return {w for w in words if len(w) >= 2 and w not in _GENERIC}


def name_problems(name: str, expr: Expr) -> list[LintWarning]:
    """Check that ``name`` says the window and the behaviour (rules in the comment above)."""
    out = []
    lowered = name.lower()
    needs_window = any(_has_window(c) for c, _ in walk.leaves(expr))
    if needs_window and not (_WINDOW_RE.search(lowered) or any(w in _PERIOD_WORDS for w in _words(lowered))):
        out.append(
            LintWarning(
                "name-missing-window",
                f"name {name!r} does not say the time window (e.g. add '30d', 'L7' or 'weekly')",
            )
        )
    vocabulary = {_key(w) for w in _definition_words(expr)}
    name_words = [
        w
        for w in _words(lowered)
        if w not in _GENERIC and w not in _PERIOD_WORDS and not w.isdigit() and not _WINDOW_RE.fullmatch(w)
    ]
    if not any(_key(w) in vocabulary for w in name_words):
        out.append(
            LintWarning(
                "name-missing-behaviour",
                f"name {name!r} does not say the behaviour: use a word from the definition "
                "(an event type, property or value it tests)",
            )
        )
    return out


def _overlaps(members: BitMap, others: Mapping[str, BitMap]) -> list[LintWarning]:
    return overlap_warnings({other: jaccard(members, bm) for other, bm in others.items()})


def overlap_warnings(scores: Mapping[str, float]) -> list[LintWarning]:
    """``overlaps-cohort`` for each saved cohort whose Jaccard with the members is >= the threshold
    (a cluster computes the scores from its shards' summed counts)."""
    scored = sorted(((score, other) for other, score in scores.items()), key=lambda t: (-t[0], t[1]))
    return [
        LintWarning(
            "overlaps-cohort",
            f"members overlap saved cohort {other!r} by Jaccard {score:.2f}: consider merging with {other!r}",
        )
        for score, other in scored
        if score >= JACCARD_THRESHOLD
    ]


def lint(
    expr: Expr,
    name: str | None = None,
    *,
    event_types: Collection[str] | None = None,
    members: BitMap | None = None,
    others: Mapping[str, BitMap] | None = None,
    vocabulary: Vocabulary | None = None,
    stale_days: int = STALE_DAYS,
) -> list[LintWarning]:
    """All warnings for ``expr`` (saved as ``name``).

    ``event_types``: the project's known event types (None skips that rule).
    ``vocabulary``: the project's names and values (replaces ``event_types``;
    enables the property, value and stale-event rules).
    ``members`` and ``others`` (saved cohort name → members at the same as-of
    time, excluding the cohort itself) enable the overlap rule.
    """
    out = _count_without_window(expr)
    if vocabulary is not None:
        out += data_problems(expr, vocabulary, stale_days)
    elif event_types is not None:
        out += _unknown_event_types(expr, event_types)
    if name is not None:
        out += name_problems(name, expr)
    if members is not None and others:
        out += _overlaps(members, others)
    return out
