"""cohortd: a behavioural cohort engine."""

__version__ = "0.1.0"
