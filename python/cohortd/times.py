"""Time in cohortd: epoch milliseconds (UTC) everywhere, converted here and nowhere else.

One parser for instants given by a caller (epoch ms, a datetime, ISO-8601
text), one formatter for the language's canonical instants, and the constants
every layer shares.  Pure standard library, so the SDK can import it without
loading the engine.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import overload

from cohortd.errors import ArgumentTypeError, InvalidArgumentError

__all__ = [
    "DAY_MS",
    "EPOCH",
    "MIN_TIME",
    "Instant",
    "format_instant",
    "from_ms",
    "iso_ms",
    "parse_as_of",
    "to_ms",
    "wall_ms",
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
