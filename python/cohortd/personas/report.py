"""The result of a personas run: plain dataclasses, the same embedded and over the SDK.

``PersonaReport.to_dict()`` is the ``cohortd personas --json`` document; the
gRPC response carries the same fields (``proto/cohortd/v1/personas.proto``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Behaviour:
    """One event type's per-user count in a cluster against the whole population.

    ``ratio`` is cluster mean / population mean; ``direction`` is ``"high"`` or ``"low"``.
    """

    event_type: str
    cluster_mean: float
    cluster_std: float
    population_mean: float
    population_std: float
    ratio: float
    direction: str


@dataclass(frozen=True)
class PropertyShare:
    """Share of a cluster and of the population with ``user.<property> == value``."""

    property: str
    value: str | bool
    cluster_share: float
    population_share: float


@dataclass(frozen=True)
class Rule:
    """A cohort definition for one cluster, scored by the engine against the cluster's members."""

    definition: str
    size: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Stability:
    """Adjusted Rand index between the clustering and re-clusterings of bootstrap resamples."""

    method: str
    resamples: int
    ari: list[float]
    ari_mean: float
    ari_min: float


@dataclass(frozen=True)
class Persona:
    """One cluster: who is in it, what sets it apart, and a rule that selects it."""

    cluster: int
    name: str
    size: int
    share: float
    behaviours: list[Behaviour]
    properties: list[PropertyShare]
    rule: Rule | None


@dataclass
class PersonaReport:
    """Everything a personas run found (assignments are returned or written separately)."""

    population: str
    window: str
    as_of_ms: int
    population_size: int
    clustered_users: int
    event_types: list[str]
    properties: list[str]
    seed: int
    k: int
    k_criterion: str
    silhouette: dict[int, float]
    stability: Stability
    personas: list[Persona]
    saved_cohort: str | None = None
    #: (external user ids, cluster numbers), aligned; filled only when asked for
    assignments: tuple[list[str], list[int]] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``cohortd personas --json`` (without the assignments)."""
        from cohortd.times import iso_ms

        out = asdict(self)
        out.pop("assignments")
        out.pop("as_of_ms")
        out = {"as_of": iso_ms(self.as_of_ms), **out}
        out["silhouette"] = {str(k): v for k, v in self.silhouette.items()}
        return out
