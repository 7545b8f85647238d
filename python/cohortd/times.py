"""Time in cohortd: epoch milliseconds (UTC) everywhere, converted here and nowhere else.

One parser for instants given by a caller (epoch ms, a datetime, ISO-8601
text), one formatter for the language's canonical instants, and the constants
every layer shares.  Pure standard library, so the SDK can import it without
loading the engine.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, overload

from cohortd.errors import ArgumentTypeError, InvalidArgumentError

__all__ = [
    "CALENDAR_UNITS",
    "DAY_MS",
    "EPOCH",
    "MIN_TIME",
    "Instant",
    "add_calendar",
    "calendar_start",
    "check_zone",
    "format_instant",
    "from_ms",
    "iso_ms",
    "local_day_numbers",
    "months_before",
    "parse_as_of",
    "to_ms",
    "wall_ms",
    "zone",
]

DAY_MS = 86_400_000
"""Milliseconds in a (UTC) day."""

MIN_TIME = -(2**63)
"""The smallest int64: "no lower bound" of a half-open window ``[start, end)``."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Instant = int | float | datetime | str
"""What callers may pass as a time: epoch ms, a datetime (naive means UTC) or ISO-8601 text."""

_ONE_MS = timedelta(milliseconds=1)


def wall_ms() -> int:
    """Now, in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def to_ms(t: Instant) -> int:
    """Epoch milliseconds from epoch ms (int or float), a datetime (naive = UTC) or ISO-8601 text.

    Raises :class:`InvalidArgumentError` for text that is not ISO-8601 and
    :class:`ArgumentTypeError` for anything else (a bool included).
    """
    if isinstance(t, str):
        text = t.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidArgumentError(f"time {t!r} is not ISO-8601 (e.g. 2026-01-31T12:00Z)") from None
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return (t - EPOCH) // _ONE_MS
    if isinstance(t, bool) or not isinstance(t, int | float):
        raise ArgumentTypeError(f"expected epoch milliseconds, a datetime or ISO-8601 text, got {t!r}")
    return int(t)


def parse_as_of(as_of: Instant | None) -> int | None:
    """An as-of time as epoch ms; ``None`` (meaning "now") stays ``None``."""
    return None if as_of is None else to_ms(as_of)


def from_ms(ms: int) -> datetime:
    """The UTC datetime of an epoch-ms instant (millisecond precision)."""
    return EPOCH + timedelta(milliseconds=ms)


@overload
def iso_ms(ms: int) -> str: ...
@overload
def iso_ms(ms: None) -> None: ...
@overload
def iso_ms(ms: int | None) -> str | None: ...


def iso_ms(ms: int | None) -> str | None:
    """Epoch ms → ISO-8601 UTC with milliseconds (``2026-01-31T00:00:00.000Z``): every JSON document's
    and the CLI's spelling of an instant.  None stays None."""
    if ms is None:
        return None
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_instant(ms: int) -> str:
    """``YYYY-MM-DD`` at midnight UTC, else ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the language's spelling)."""
    dt = from_ms(ms)
    if ms % DAY_MS == 0:
        return dt.strftime("%Y-%m-%d")
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------ calendar
CALENDAR_UNITS = ("day", "week", "month", "year")
"""Calendar units of ``in this <unit>`` and ``in last [N] calendar <unit>s`` (weeks start on Monday)."""

UTC_ZONE = "UTC"


def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``zoneinfo``); :class:`InvalidArgumentError` when unknown."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name in ("UTC", "Z", "Etc/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidArgumentError(
            f"unknown time zone {name!r} (an IANA name such as 'America/New_York' or 'UTC')"
        ) from None


def check_zone(name: str) -> str:
    """``name`` if it is a usable IANA zone name (raises :class:`InvalidArgumentError` otherwise)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError("a time zone is an IANA name such as 'America/New_York' or 'UTC'")
    zone(name)
    return name


def _local(ms: int, tz: tzinfo) -> datetime:
    return from_ms(ms).astimezone(tz)


def _instant(local: datetime) -> int:
    """Epoch ms of a local wall time (in a DST gap: the instant the gap ends; in an overlap: the first)."""
    return to_ms(local.replace(fold=0).astimezone(UTC))


def calendar_start(ms: int, unit: str, zone_name: str = UTC_ZONE) -> int:
    """Start (local midnight) of the calendar ``unit`` holding instant ``ms`` in the zone."""
    tz = zone(zone_name)
    d = _local(ms, tz).date()
    if unit == "week":
        d -= timedelta(days=d.weekday())
    elif unit == "month":
        d = d.replace(day=1)
    elif unit == "year":
        d = d.replace(month=1, day=1)
    elif unit != "day":
        raise ValueError(f"not a calendar unit: {unit!r}")
    return _instant(datetime(d.year, d.month, d.day, tzinfo=tz))


def add_calendar(start_ms: int, unit: str, n: int, zone_name: str = UTC_ZONE) -> int:
    """Start of the calendar ``unit`` ``n`` units after (negative: before) the one at ``start_ms``."""
    tz = zone(zone_name)
    d = _local(start_ms, tz).date()
    if unit == "day":
        d += timedelta(days=n)
    elif unit == "week":
        d += timedelta(weeks=n)
    elif unit == "month":
        k = d.year * 12 + d.month - 1 + n
        d = d.replace(year=k // 12, month=k % 12 + 1, day=1)
    elif unit == "year":
        d = d.replace(year=d.year + n, month=1, day=1)
    else:
        raise ValueError(f"not a calendar unit: {unit!r}")
    return _instant(datetime(d.year, d.month, d.day, tzinfo=tz))


def months_before(ms: int, months: int, zone_name: str = UTC_ZONE) -> int:
    """The same local wall time ``months`` calendar months earlier (the day clamped to the month's end)."""
    tz = zone(zone_name)
    local = _local(ms, tz)
    k = local.year * 12 + local.month - 1 - months
    year, month = k // 12, k % 12 + 1
    last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    moved = local.replace(tzinfo=None).replace(year=year, month=month, day=min(local.day, last_day))
    return _instant(moved.replace(tzinfo=tz))


def local_day_numbers(times_ms: Any, zone_name: str = UTC_ZONE) -> Any:
    """Per instant (a numpy int64 array), the number of its calendar day in the zone (days since 1970-01-01).

    Offsets are looked up twice per distinct UTC day (and the instant of a transition found by
    bisection), so a long range costs a few thousand zone look-ups, not one per event.
    """
    import numpy as np

    t = np.asarray(times_ms, dtype=np.int64)
    if zone_name == UTC_ZONE or len(t) == 0:
        return t // DAY_MS
    tz = zone(zone_name)
    days, inverse = np.unique(t // DAY_MS, return_inverse=True)

    def offset(ms: int) -> int:
        return int(_local(ms, tz).utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]

    first = np.array([offset(int(d) * DAY_MS) for d in days], np.int64)
    last = np.array([offset(int(d) * DAY_MS + DAY_MS - 1) for d in days], np.int64)
    offsets = first[inverse]
    for k in np.flatnonzero(first != last).tolist():  # a day with a transition: find its instant
        lo, hi = int(days[k]) * DAY_MS, int(days[k]) * DAY_MS + DAY_MS - 1
        while lo < hi:  # the first instant with the day's last offset (one transition a day)
            mid = (lo + hi) // 2
            if offset(mid) == last[k]:
                hi = mid
            else:
                lo = mid + 1
        on_day = inverse == k
        offsets[on_day] = np.where(t[on_day] >= lo, last[k], first[k])
    return (t + offsets) // DAY_MS
