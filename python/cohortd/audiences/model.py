"""Plain values of the audiences feature, shared by the service layer, the server and the SDK.

Nothing here imports the engine, so ``cohortd.client`` can return the same types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cohortd.errors import AudienceError

__all__ = [
    "FORMATS",
    "HASHES",
    "LOG_RETENTION_MS",
    "FAILING_AFTER",
    "AudienceInfo",
    "AudienceError",
    "DestinationInfo",
    "Mode",
    "SyncAttempt",
    "UploadResult",
    "parse_duration_ms",
    "parse_mode",
]

FORMATS = ("csv", "jsonl", "parquet")
HASHES = ("none", "sha256")
LOG_RETENTION_MS = 14 * 86_400_000
"""Sync log entries older than this are deleted."""
FAILING_AFTER = 3
"""``audience list`` shows FAILING when at least this many attempts in a row failed."""

_DURATION = re.compile(r"\s*(\d+)\s*(ms|s|m|h|d|w)\s*")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,127}")


def parse_duration_ms(text: str) -> int:
    """``30s``, ``15m``, ``1h``, ``1d`` → milliseconds (the cohort language's units)."""
    m = _DURATION.fullmatch(text or "")
    if not m or int(m.group(1)) <= 0:
        raise AudienceError(
            f"duration {text!r}: expected a positive integer and a unit (ms s m h d w), e.g. 1h"
        )
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


@dataclass(frozen=True)
class Mode:
    """``once``, ``every DURATION`` or ``realtime``."""

    kind: str
    interval_ms: int = 0

    @property
    def text(self) -> str:
        if self.kind != "every":
            return self.kind
        for unit in ("w", "d", "h", "m", "s"):
            if self.interval_ms % _UNIT_MS[unit] == 0:
                return f"every {self.interval_ms // _UNIT_MS[unit]}{unit}"
        return f"every {self.interval_ms}ms"


def parse_mode(text: str) -> Mode:
    words = (text or "").split()
    if words == ["realtime"] or words == ["once"]:
        return Mode(words[0])
    if len(words) == 2 and words[0] == "every":
        return Mode("every", parse_duration_ms(words[1]))
    raise AudienceError(f"mode {text!r}: expected realtime, once or 'every DURATION' (e.g. every 1h)")


def check_name(what: str, name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or name != name.strip():
        raise AudienceError(
            f"{what} name {name!r}: 1-128 letters, digits, spaces, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class DestinationInfo:
    """A stored destination; the secret is never returned."""

    name: str
    kind: str  # webhook | file
    url: str = ""
    path: str = ""
    format: str = ""
    shape: str = "cohortd"  # the webhook payload: cohortd (the contract) or meta (platform example)
    created_ms: int = 0


@dataclass(frozen=True)
class AudienceInfo:
    """An audience with its delivery state (what ``audience list`` shows)."""

    name: str
    cohort: str
    destination: str
    identifier: str
    hashing: str
    mode: str
    batch_size: int
    status: str  # active | paused | done | FAILING | waiting (cohort not maintained)
    acknowledged_version: int = 0
    acknowledged_members: int = 0
    last_success_ms: int | None = None
    lag_ms: int = 0
    failing: int = 0
    last_error: str = ""
    created_ms: int = 0
    holdout: float = 0.0  # share of the cohort never delivered (held out to measure lift)


@dataclass(frozen=True)
class SyncAttempt:
    """One delivery attempt of one batch (a row of the sync log)."""

    audience: str
    time_ms: int
    from_version: int
    to_version: int
    full: bool
    seq: int
    of: int
    added: int
    removed: int
    skipped: int
    skip_reason: str
    status: str  # ok | failed | retrying
    http_status: int
    error: str
    latency_ms: float
    idempotency_key: str


MAX_HOLDOUT = 0.9


def parse_share(text: str | float) -> float:
    """``10%``, ``10`` or ``0.1`` (a float below 1) → 0.1; holdouts are 0 to 90 %."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip()
        try:
            value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        except ValueError:
            raise AudienceError(f"holdout {text!r}: expected a percentage such as 10%") from None
        if not raw.endswith("%") and value >= 1:
            value /= 100
    if not 0 <= value <= MAX_HOLDOUT:
        raise AudienceError(f"holdout {text!r}: expected 0% to {MAX_HOLDOUT:.0%}")
    return value


@dataclass(frozen=True)
class Arm:
    """One side of a lift measurement: users who entered, and how many did the outcome in the horizon."""

    users: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.users if self.users else None


@dataclass(frozen=True)
class LiftResult:
    """Outcome rate of delivered vs held-out users, each measured from their own entry time."""

    audience: str
    outcome: str
    horizon: str
    since_ms: int | None
    until_ms: int | None
    holdout: float
    delivered: Arm
    held_out: Arm
    lift: float | None  # delivered rate / held-out rate
    difference: float | None  # delivered rate - held-out rate
    ci95: tuple[float, float] | None
    p_value: float | None
    inside_horizon: int  # users whose horizon has not passed yet (left out)


@dataclass(frozen=True)
class UploadResult:
    """A static cohort upload: how many ids were members, how many the engine does not know."""

    cohort: str
    version: int
    ids: int
    members: int
    unknown: int
    unknown_sample: list[str] = field(default_factory=list)
