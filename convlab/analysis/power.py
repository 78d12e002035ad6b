"""Seeds by design: the power of a comparison across seeds, and the seeds each primary hypothesis needs.

A difference of two configurations' mean accuracies over n seeds each has the standard error
se = √((s₁² + s₂²)/n) (unpaired), or s_d/√n where s_d is the standard deviation of the per-seed differences
(paired by seed). A one-sided test at level α detects a true difference δ with power
P(T > t₁₋α) for T noncentral t with noncentrality δ/se (Welch–Satterthwaite degrees of freedom, or n − 1 paired).
Two one-sided tests show equivalence within ±M when the difference lies within M − t·se of zero on both sides;
their power is computed with the same t critical value and a normal sampling distribution (a planning
approximation, stated with the table). Holm's first step tests at α/m, the hardest; planning at it is conservative.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import stats as distributions

TARGET_POWER = 0.8
MOST_SEEDS = 30


def standard_error(sd_changed: float, sd_original: float, n: int, sd_paired: float | None = None) -> tuple[float, float]:
    """The standard error of the difference of means over n seeds each, and its degrees of freedom."""
    if sd_paired is not None:
        return sd_paired / math.sqrt(n), n - 1
    a, b = sd_changed**2 / n, sd_original**2 / n
    se = math.sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (n - 1) + b**2 / (n - 1)) if a + b > 0 else n - 1
    return se, df


def superiority_power(delta: float, se: float, df: float, alpha: float) -> float:
    """The power of a one-sided t test at level α to find a true difference δ > 0."""
    critical = distributions.t.ppf(1 - alpha, df)
    return float(distributions.nct.sf(critical, df, delta / se))


def equivalence_power(delta: float, se: float, df: float, alpha: float, margin: float) -> float:
    """The power of two one-sided tests at level α to show |difference| < margin when the true difference is δ."""
    critical = distributions.t.ppf(1 - alpha, df)
    upper, lower = margin - critical * se, -margin + critical * se
    if upper <= lower:
        return 0.0
    return float(distributions.norm.cdf((upper - delta) / se) - distributions.norm.cdf((lower - delta) / se))


def seeds_needed(power_at: Callable[[int], float], target: float = TARGET_POWER, most: int = MOST_SEEDS) -> int | None:
    """The fewest seeds (≥ 2) at which `power_at(n)` reaches the target, or None within `most`."""
    for n in range(2, most + 1):
        if power_at(n) >= target:
            return n
    return None
