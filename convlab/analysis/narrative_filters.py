"""The prose of what the CNN's filters respond to: orientation tuning, the census of kinds, class preferences."""

from __future__ import annotations

import pandas as pd

from convlab.analysis import claims
from convlab.experiments import census, filters


def describe_tuning(summary: pd.DataFrame, threshold: float = 0.25, tolerance: float = 22.5) -> str:
    """A sentence on how many filters are orientation-selective and whether weights and responses agree.

    `summary` is `filters.tuning_summary` with the notebook's "disagreement (°)" column (weights against gratings).
    """
    selective = summary[summary["selectivity"] >= threshold]
    silent = int((summary["mean response"] <= 1e-6).sum())
    agree = int((selective["disagreement (°)"] <= tolerance).sum()) if len(selective) else 0
    bins = pd.cut(
        selective["preferred orientation (°)"] % 180,
        [0, 22.5, 67.5, 112.5, 157.5, 180],
        right=False,
        labels=["horizontal", "rising diagonal", "vertical", "falling diagonal", "horizontal "],
    )
    counts = bins.astype(str).str.strip().value_counts()
    spread = ", ".join(f"{count} {name}" for name, count in counts.items())
    return (
        f"{len(selective)} of the {len(summary)} first-layer filters are orientation-selective (selectivity ≥ {threshold})"
        + (f": {spread}" if len(selective) else "")
        + f". For {agree} of these the orientation read from the weights lies within {tolerance}° of the one measured "
        f"with gratings. {silent} filter(s) never respond to any grating."
    )


def describe_census(counts: pd.DataFrame) -> str:
    """The census's counts per kind over seeds, and whether the study's claim about the first layer holds (`census.counts`)."""
    filters_per_seed = int(counts.sum(axis=1).iloc[0])
    spread = "; ".join(
        f"{kind} {counts[kind].min()}" + (f"–{counts[kind].max()}" if counts[kind].max() != counts[kind].min() else "")
        for kind in census.KINDS
    )
    holding = [seed for seed, row in counts.iterrows() if census.claim_holds(row)]
    seeds = len(counts)
    verdict = claims.check(
        f"The measurements support it in all {seeds} seeds.",
        "every seed has at least one oriented, one checkerboard and one centre–surround filter",
        len(holding) == seeds,
        {"seeds": seeds, "seeds with all three kinds": len(holding)},
        f"The measurements support it in {len(holding)} of {seeds} seeds only (seeds {', '.join(map(str, holding))})."
        if holding
        else f"The measurements do not support it: no seed of {seeds} has all three kinds.",
    )
    return (
        f"Of the {filters_per_seed} first-layer filters per seed ({seeds} seeds; a range is the lowest to the highest count): "
        f"{spread}. The Fashion-MNIST study claims that, besides oriented edges, the first layer holds texture "
        f"(checkerboard) and contrast (centre–surround) detectors. {verdict}"
    )


def describe_class_preferences(layers: dict[str, pd.DataFrame], count: int = 3) -> str:
    """Which class drives the most filters, and how class-specific each layer is (`layers`: `filters.class_filter_means`)."""
    parts = []
    for name, by_class in layers.items():
        favourite = by_class.idxmax(axis=1).value_counts()
        top = ", ".join(f"{label} ({number})" for label, number in favourite.head(count).items())
        parts.append(f"{name}: class spread {filters.class_spread(by_class):.2f}; classes that drive the most filters: {top}")
    return "Per layer — " + "; ".join(parts) + ". A larger spread means filters that respond more selectively to some classes."
