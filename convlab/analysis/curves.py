"""Learning curves: test accuracy against training-set size, the CNN's gain at each size, and data efficiency.

`plans.train_curves` trains them (`design` sets their sizes, seeds and folders); these functions turn its runs
(`{model: {size: [records]}}`) into tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convlab.analysis import stats
from convlab.store import records

SIZE, MODEL, SEEDS = "training images", "model", "seeds"
MEAN, LOW, HIGH = "accuracy mean (%)", "CI low (%)", "CI high (%)"
GAIN, HALF_WIDTH, RESOLVED = "gain (points)", "interval half-width (points)", "resolved"


def curve_table(curves: dict[str, dict[int, list[dict]]], confidence: float = stats.DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """One row per model and size: seeds, mean test accuracy and its Student-t interval."""
    rows = []
    for model, by_size in curves.items():
        for size, runs in sorted(by_size.items()):
            summary = stats.mean_confidence_interval(records.accuracies(runs), confidence)
            rows.append(
                {MODEL: model, SIZE: size, SEEDS: summary["n"], MEAN: summary["mean"]}
                | {LOW: summary["ci_low"], HIGH: summary["ci_high"]}
            )
    table = pd.DataFrame(rows)
    table.attrs["confidence"] = confidence
    return table


def gain_table(
    curves: dict[str, dict[int, list[dict]]], challenger: str, baseline: str, confidence: float = stats.DEFAULT_CONFIDENCE
) -> pd.DataFrame:
    """Per size: the challenger's accuracy minus the baseline's, with the half-width of its Welch interval."""
    rows = []
    for size in sorted(set(curves[challenger]) & set(curves[baseline])):
        interval = stats.welch_interval(
            records.accuracies(curves[challenger][size]), records.accuracies(curves[baseline][size]), confidence
        )
        resolved = bool(abs(interval["difference"]) > interval["half_width"])  # False when NaN: one seed
        rows.append({SIZE: size, GAIN: interval["difference"], HALF_WIDTH: interval["half_width"], RESOLVED: resolved})
    table = pd.DataFrame(rows)
    table.attrs["confidence"] = confidence
    return table


def size_to_reach(means: pd.Series, target: float) -> float | None:
    """The training-set size at which a curve (mean accuracy by size) first reaches `target`, interpolated linearly
    in log size between the two measured sizes around the crossing; None when no measured size reaches it."""
    means = means.sort_index()
    sizes, values = means.index.to_numpy(dtype=float), means.to_numpy(dtype=float)
    for index, (size, value) in enumerate(zip(sizes, values, strict=True)):
        if value >= target:
            if index == 0:
                return float(size)
            below_size, below = sizes[index - 1], values[index - 1]
            fraction = (target - below) / (value - below)
            return float(math.exp(math.log(below_size) + fraction * (math.log(size) - math.log(below_size))))
    return None


def data_efficiency(table: pd.DataFrame, challenger: str, baseline: str) -> dict:
    """How much data each model needs to match the other's full-set accuracy (from a `curve_table`).

    `challenger_needs`: the size at which the challenger reaches the baseline's full-set accuracy, and `ratio` the
    full size over it (how many times less data it needs); `baseline_needs`: the converse size, None when the
    baseline does not reach the challenger's full-set accuracy within the measured sizes.
    """
    curves = {model: rows.set_index(SIZE)[MEAN] for model, rows in table.groupby(MODEL)}
    full = int(max(curves[challenger].index.max(), curves[baseline].index.max()))
    challenger_needs = size_to_reach(curves[challenger], float(curves[baseline].loc[full]))
    baseline_needs = size_to_reach(curves[baseline], float(curves[challenger].loc[full]))
    return {
        "full_size": full,
        "challenger_needs": challenger_needs,
        "ratio": full / challenger_needs if challenger_needs else float("nan"),
        "baseline_needs": baseline_needs,
        "baseline_ratio": full / baseline_needs if baseline_needs else float("nan"),
    }


def efficiency_for_reading(efficiency: dict, challenger: str = "CNN", baseline: str = "FC") -> dict[str, str]:
    """`data_efficiency` as printed: the sizes rounded to whole images, the ratios to one decimal, and in words
    where a model does not reach the other's full-set accuracy within the measured sizes."""

    def reaches(needs: float | None, ratio: float) -> str:
        return "not within the measured sizes" if needs is None else f"{needs:,.0f} images ({ratio:.1f}× fewer)"

    return {
        "full training set": f"{efficiency['full_size']:,} images",
        f"{challenger} reaches {baseline}'s full-set accuracy with": reaches(efficiency["challenger_needs"], efficiency["ratio"]),
        f"{baseline} reaches {challenger}'s full-set accuracy with": reaches(
            efficiency["baseline_needs"], efficiency["baseline_ratio"]
        ),
    }


def mean_at(table: pd.DataFrame, model: str, size: int) -> float:
    """A curve's mean accuracy at one size."""
    rows = table[(table[MODEL] == model) & (table[SIZE] == size)]
    return float(rows[MEAN].iloc[0]) if len(rows) else float(np.nan)
