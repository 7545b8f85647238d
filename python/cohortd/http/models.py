"""Request and response bodies of the HTTP API (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

AsOfValue = int | str | None
"""Epoch milliseconds or ISO-8601 text (``2026-01-31T12:00Z``); absent means now."""


class ErrorDetail(BaseModel):
    code: str = Field(description="the gRPC status code name, e.g. INVALID_ARGUMENT")
    message: str = Field(description="the same message the gRPC API gives")
    line: int | None = None
    column: int | None = None
    expected: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 429)
}
"""The error answers every route may give (for the OpenAPI document)."""


class SessionIn(BaseModel):
    api_key: str = Field(max_length=4096)


class SessionOut(BaseModel):
    projects: list[str] = Field(description="existing projects this key may use")
    csrf_token: str = Field(description="send back in X-CSRF-Token on requests that change anything")


class ProjectsOut(BaseModel):
    projects: list[str]


class CohortOut(BaseModel):
    name: str
    description: str
    definition: str
    version: int
    created_ms: int
    updated_ms: int
    last_evaluated_ms: int | None
    archived: bool


class CohortsOut(BaseModel):
    cohorts: list[CohortOut]


class LintWarningOut(BaseModel):
    code: str
    message: str


class SavedOut(BaseModel):
    cohort: CohortOut
    warnings: list[LintWarningOut]


class CreateCohortIn(BaseModel):
    name: str = Field(max_length=256)
    definition: str = Field(max_length=65_536)
    description: str = Field(default="", max_length=4096)
    note: str = Field(default="", max_length=4096)


class UpdateCohortIn(BaseModel):
    definition: str | None = Field(default=None, max_length=65_536)
    description: str | None = Field(default=None, max_length=4096)
    note: str = Field(default="", max_length=4096)


class VersionOut(BaseModel):
    version: int
    definition: str
    description: str
    note: str
    created_ms: int
    author: str = Field(default="", description="the API key's name (empty without keys)")


class HistoryOut(BaseModel):
    cohort: str
    versions: list[VersionOut]


class TargetIn(BaseModel):
    """Exactly one of a saved cohort's name or an inline definition."""

    cohort: str | None = Field(default=None, max_length=256)
    definition: str | None = Field(default=None, max_length=65_536)
    as_of: AsOfValue = None


class EvaluateOut(BaseModel):
    size: int
    as_of_ms: int
    version: int | None = Field(description="maintained version (saved cohorts asked about now)")


class PlanStepOut(BaseModel):
    text: str
    size: int
    millis: float
    depth: int


class ExplainOut(BaseModel):
    steps: list[PlanStepOut]


class LintIn(BaseModel):
    definition: str = Field(max_length=65_536)
    name: str | None = Field(default=None, max_length=256)


class LintOut(BaseModel):
    warnings: list[LintWarningOut]


class MembersOut(BaseModel):
    cohort: str
    total: int
    offset: int
    members: list[str] = Field(description="external user ids, in first-seen order (stable for paging)")
    as_of_ms: int
    version: int | None


class MergeSuggestion(BaseModel):
    a: str
    b: str
    jaccard: float


class OverlapOut(BaseModel):
    names: list[str]
    sizes: list[int]
    intersections: list[list[int]]
    jaccard: list[list[float]]
    as_of_ms: int
    merge_suggestions: list[MergeSuggestion] = Field(description="pairs with Jaccard >= 0.8")


class SizePoint(BaseModel):
    time_ms: int
    size: int


class SizesOut(BaseModel):
    cohort: str
    points: list[SizePoint]


class UserCohortsOut(BaseModel):
    user_id: str
    cohorts: list[str]
