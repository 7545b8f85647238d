"""Two-proportion statistics for backtests: lift, difference, 95% CI and p-value.

The test is the two-sided two-proportion z-test with the pooled variance
(the textbook test of "same rate in both groups"); the confidence interval of
the difference is the Wald interval with the unpooled variance.  The normal
distribution comes from ``math.erfc``: no statistics package needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054
"""The 97.5% quantile of the standard normal distribution."""


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class Comparison:
    lift: float | None  # rate ratio p1 / p2
    difference: float | None  # p1 - p2
    ci95: tuple[float, float] | None
    p_value: float | None


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> Comparison:
    """Compare x1/n1 (the cohort) with x2/n2 (the baseline); None where a group is empty."""
    if n1 <= 0 or n2 <= 0:
        return Comparison(None, None, None, None)
    p1, p2 = x1 / n1, x2 / n2
    diff = p1 - p2
    lift = p1 / p2 if p2 > 0 else None
    se_wald = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    ci = (diff - Z95 * se_wald, diff + Z95 * se_wald)
    pooled = (x1 + x2) / (n1 + n2)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se_pooled == 0:  # both rates 0 or both 1: no evidence of a difference
        p_value = 1.0
    else:
        p_value = min(1.0, 2 * normal_sf(abs(diff) / se_pooled))
    return Comparison(lift, diff, ci, p_value)
