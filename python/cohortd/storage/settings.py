"""Per-project settings kept beside the event store: today, the project's time zone.

``settings.json`` in the engine directory, written atomically (temp name,
fsync, rename); a directory without one has the defaults.  The time zone (an
IANA name, checked with the standard library's ``zoneinfo``) fixes calendar
days, weeks, months and years for calendar windows (``in this month``) and
``active_days``; UTC unless set (docs/cohort-language.md, "Calendar windows").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cohortd import times
from cohortd.errors import CorruptionError
from cohortd.storage.files import atomic_write_json

__all__ = ["SETTINGS_FILE", "ProjectSettings"]

SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class ProjectSettings:
    time_zone: str = times.UTC_ZONE

    @classmethod
    def load(cls, directory: Path) -> ProjectSettings:
        path = Path(directory) / SETTINGS_FILE
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            return cls(time_zone=times.check_zone(str(data.get("time_zone", times.UTC_ZONE))))
        except (ValueError, AttributeError) as exc:
            raise CorruptionError(f"{path}: unreadable project settings ({exc})") from exc

    def save(self, directory: Path) -> None:
        atomic_write_json(Path(directory) / SETTINGS_FILE, {"time_zone": self.time_zone}, commit=True)
