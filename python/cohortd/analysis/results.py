"""The answers of the analyses as plain values, shared by the embedded API, the SDK and the CLI.

Importable without the engine (the SDK rebuilds them from wire messages);
``to_json()`` gives the JSON shapes of issue 12, which ``--json`` prints.
Rates and shares are ``None`` when their denominator is zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cohortd.times import iso_ms

TWO_PROPORTION_TEST = (
    "two-sided two-proportion z-test (pooled variance); 95% CI of the difference: Wald (unpooled variance)"
)

USER_PROPERTY_NOTE = (
    "user properties are current values unless their changes are dated (ingest-users rows with a time, "
    "$user. properties on events), which are read as of the backtest date; a definition with user. "
    "conditions is only exact when the properties it reads have dated history"
)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# ------------------------------------------------------------------ backtest


@dataclass(frozen=True)
class Group:
    size: int
    converted: int

    @property
    def rate(self) -> float | None:
        return rate(self.converted, self.size)

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "converted": self.converted, "rate": self.rate}


@dataclass(frozen=True)
class BacktestRun:
    """One backtest at one date A: the cohort at A against a baseline, outcome by A + horizon."""

    as_of_ms: int
    horizon: str
    cohort: Group
    baseline: Group
    lift: float | None
    difference: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    baseline_kind: str = "rest"
    test: str = TWO_PROPORTION_TEST
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": iso_ms(self.as_of_ms),
            "horizon": self.horizon,
            "cohort": self.cohort.to_json(),
            "baseline": self.baseline.to_json(),
            "lift": self.lift,
            "difference": self.difference,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "p_value": self.p_value,
            "baseline_kind": self.baseline_kind,
            "test": self.test,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Backtest:
    """One run per date (one date unless repeated with ``every``)."""

    runs: list[BacktestRun]

    def to_json(self) -> dict[str, Any]:
        """The run itself for one date; ``{"runs": [...]}`` for a repeated backtest."""
        if len(self.runs) == 1:
            return self.runs[0].to_json()
        return {"runs": [r.to_json() for r in self.runs]}


# ----------------------------------------------------------------- retention


@dataclass(frozen=True)
class RetentionPoint:
    period: int
    users: int
    retained: int

    @property
    def rate(self) -> float | None:
        return rate(self.retained, self.users)

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period, "users": self.users, "retained": self.retained, "rate": self.rate}


@dataclass(frozen=True)
class RetentionCurve:
    users: int  # users with a start in the range
    curve: list[RetentionPoint]

    def to_json(self) -> dict[str, Any]:
        return {"users": self.users, "curve": [p.to_json() for p in self.curve]}


@dataclass(frozen=True)
class Retention:
    period: str
    mode: str  # "on" (a return in period k) or "unbounded" (in period k or later)
    population: RetentionCurve
    baseline: RetentionCurve | None
    as_of_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "mode": self.mode,
            "as_of": iso_ms(self.as_of_ms),
            "population": self.population.to_json(),
            "baseline": self.baseline.to_json() if self.baseline is not None else None,
        }


# -------------------------------------------------------------------- funnel


@dataclass(frozen=True)
class FunnelStep:
    event: str
    users: int
    from_previous: float | None
    from_entry: float | None
    median_ms: int | None  # time from entry to this step (None for the first step)
    p90_ms: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "users": self.users,
            "from_previous": self.from_previous,
            "from_entry": self.from_entry,
            "median_ms": self.median_ms,
            "p90_ms": self.p90_ms,
        }


@dataclass(frozen=True)
class FunnelGroup:
    group: str
    steps: list[FunnelStep]

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "steps": [s.to_json() for s in self.steps]}


@dataclass(frozen=True)
class FunnelSplit:
    by: str  # "cohort" or "user.<property>"
    groups: list[FunnelGroup]

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "groups": [g.to_json() for g in self.groups]}


@dataclass(frozen=True)
class Funnel:
    steps: list[FunnelStep]
    split: FunnelSplit | None
    as_of_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": iso_ms(self.as_of_ms),
            "steps": [s.to_json() for s in self.steps],
            "split": self.split.to_json() if self.split is not None else None,
        }


# ------------------------------------------------------------------ journeys

END = "(end)"
"""Marks where a user's events run out before ``depth``: last in an after-path, first in a before-path."""


@dataclass(frozen=True)
class JourneyPath:
    path: list[str]
    users: int
    share: float

    def to_json(self) -> dict[str, Any]:
        return {"path": list(self.path), "users": self.users, "share": self.share}


@dataclass(frozen=True)
class JourneyShare:
    what: str  # the event (did) or the duration (returned within)
    users: int
    share: float | None

    def to_json(self, key: str) -> dict[str, Any]:
        return {key: self.what, "users": self.users, "share": self.share}


@dataclass(frozen=True)
class Journeys:
    anchor: str
    users: int
    after: list[JourneyPath]
    before: list[JourneyPath]
    as_of_ms: int
    returned: JourneyShare | None = None
    did: list[JourneyShare] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "anchor": self.anchor,
            "as_of": iso_ms(self.as_of_ms),
            "users": self.users,
            "after": [p.to_json() for p in self.after],
            "before": [p.to_json() for p in self.before],
        }
        if self.returned is not None:
            out["returned"] = self.returned.to_json("within")
        if self.did:
            out["did"] = [d.to_json("event") for d in self.did]
        return out
