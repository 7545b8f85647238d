"""What sets each cluster apart: defining behaviours, property mix and a short name.

- **Defining behaviours**: the ``DEFINING`` event types whose mean count per
  user in the cluster is furthest from the population's, measured in
  population standard deviations (``|mean_c - mean_p| / std_p``), with both
  means, both standard deviations (population form, ddof 0) and the ratio
  ``mean_c / mean_p``.  "high" means the cluster does it more.
- **Property mix**: property values whose share in the cluster differs from
  the population's by at least ``PROPERTY_GAP`` (10 points), largest gap first,
  at most ``PROPERTY_SHOWN``.
- **Name**: the two highest "high" behaviours (``"Export + Search"``), else
  ``"Low <top low behaviour>"``; a property value over-represented by the gap
  is added in parentheses (``"Export + Search (plan=pro)"``).  Names that
  collide get ``" #<cluster>"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cohortd.personas.features import Features
from cohortd.personas.report import Behaviour, PropertyShare

DEFINING = 5
PROPERTY_GAP = 0.10
PROPERTY_SHOWN = 3


def _moments(matrix: Any, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per column mean and standard deviation of a scipy sparse matrix (or of some of its rows)."""
    m = matrix if rows is None else matrix[rows]
    n = max(m.shape[0], 1)
    mean = np.asarray(m.sum(axis=0)).ravel() / n
    sq = np.asarray(m.multiply(m).sum(axis=0)).ravel() / n
    return mean, np.sqrt(np.maximum(sq - mean * mean, 0.0))


def describe(
    features: Features, labels: np.ndarray, k: int
) -> list[tuple[list[Behaviour], list[PropertyShare], str]]:
    """(behaviours, property mix, name) for clusters ``0..k-1``."""
    pop_mean, pop_std = _moments(features.counts)
    pop_share, _ = _moments(features.property_matrix)
    out = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        mean, std = _moments(features.counts, rows)
        effect = np.abs(mean - pop_mean) / np.where(pop_std > 0, pop_std, np.inf)
        order = sorted(range(len(mean)), key=lambda j: (-effect[j], features.event_types[j]))[:DEFINING]
        behaviours = [
            Behaviour(
                event_type=features.event_types[j],
                cluster_mean=float(mean[j]),
                cluster_std=float(std[j]),
                population_mean=float(pop_mean[j]),
                population_std=float(pop_std[j]),
                ratio=float(mean[j] / pop_mean[j]) if pop_mean[j] > 0 else 0.0,
                direction="high" if mean[j] >= pop_mean[j] else "low",
            )
            for j in order
            if effect[j] > 0
        ]
        share, _ = _moments(features.property_matrix, rows)
        gaps = sorted(
            (j for j in range(len(share)) if abs(share[j] - pop_share[j]) >= PROPERTY_GAP),
            key=lambda j: -abs(share[j] - pop_share[j]),
        )[:PROPERTY_SHOWN]
        props = [
            PropertyShare(
                property=features.property_columns[j].prop,
                value=features.property_columns[j].value,
                cluster_share=float(share[j]),
                population_share=float(pop_share[j]),
            )
            for j in gaps
        ]
        out.append((behaviours, props, _name(behaviours, props)))
    seen: dict[str, int] = {}
    for _, _, name in out:
        seen[name] = seen.get(name, 0) + 1
    return [(b, p, n if seen[n] == 1 else f"{n} #{c}") for c, (b, p, n) in enumerate(out)]


def _name(behaviours: list[Behaviour], props: list[PropertyShare]) -> str:
    high = [b.event_type for b in behaviours if b.direction == "high"][:2]
    low = [b.event_type for b in behaviours if b.direction == "low"][:1]
    name = " + ".join(high) if high else (f"Low {low[0]}" if low else "Typical")
    over = [p for p in props if p.cluster_share > p.population_share]
    if over:
        value = over[0].value
        text = str(value).lower() if isinstance(value, bool) else value
        name += f" ({over[0].property}={text})"
    return name
