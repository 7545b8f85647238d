"""The cohort language: text ⇄ typed tree ⇄ Python builder (docs/cohort-language.md)."""

from cohortd.lang.builder import (
    Cohort,
    Condition,
    active_days,
    active_periods,
    as_expr,
    avg_of,
    did,
    distinct_of,
    event,
    first_did,
    in_cohort,
    max_of,
    min_of,
    nth_did,
    prop,
    sequence,
    sum_of,
    top,
    user,
)
from cohortd.lang.parser import parse
from cohortd.lang.printer import to_text

__all__ = [
    "Cohort",
    "Condition",
    "active_days",
    "active_periods",
    "as_expr",
    "avg_of",
    "did",
    "distinct_of",
    "event",
    "first_did",
    "in_cohort",
    "max_of",
    "min_of",
    "nth_did",
    "parse",
    "prop",
    "sequence",
    "sum_of",
    "to_text",
    "top",
    "user",
]
