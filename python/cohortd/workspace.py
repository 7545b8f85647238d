"""Old import path of the service layer; it lives in :mod:`cohortd.service` now."""

from __future__ import annotations

from cohortd.errors import InvalidArgumentError
from cohortd.service import PERCENTILE_INTERVAL_MS, Project, Workspace
from cohortd.service.queries import AsOf
from cohortd.service.registry import MAX_IN_COHORT_DEPTH
from cohortd.service.registry import Saved as _Saved  # noqa: F401  (governance)
from cohortd.service.workspace import PROJECT_NAME
from cohortd.times import parse_as_of
from cohortd.types import Change, Overlap

__all__ = [
    "AsOf",
    "MAX_IN_COHORT_DEPTH",
    "PERCENTILE_INTERVAL_MS",
    "PROJECT_NAME",
    "Change",
    "InvalidArgumentError",
    "Overlap",
    "Project",
    "Workspace",
    "parse_as_of",
]
