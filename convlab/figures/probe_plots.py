"""The figures of the experiments beyond the studies: accuracy against shift (07), against cost and the efficiency
frontier (09), the gain on each dataset (10) and the learning curves (11). `plots` holds the studies' own figures
and `plots.save`, which files every figure with its caption.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from convlab.analysis import curves, stats, tables
from convlab.study import config


def accuracy_against_cost(table: pd.DataFrame) -> plt.Figure:
    """Mean accuracy against parameters and against MACs per image, with the seeds' standard deviation."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    mean, std = tables.ACCURACY_MEAN, tables.ACCURACY_STD
    for axis, cost in zip(axes, (tables.PARAMETERS, tables.MACS)):
        axis.errorbar(table[cost], table[mean], yerr=table[std].fillna(0), fmt="o", capsize=5, color="black")
        for index, (label, row) in enumerate(table.iterrows()):
            axis.annotate(label, (row[cost], row[mean]), textcoords="offset points", xytext=(6, 8 - 14 * (index % 2)), fontsize=9)
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(_minor_tick))
        axis.tick_params(axis="x", which="minor", labelsize=7)
        axis.set_xlabel(cost + " (log scale)")
    axes[0].set_ylabel("test accuracy (%), mean ± std")
    figure.suptitle("What each configuration costs, and what it buys")
    figure.tight_layout()
    return figure


def accuracy_against_shift(frame: pd.DataFrame, augmentation_shift: int | None = None) -> plt.Figure:
    """Test accuracy against shift (pixels), one panel per direction, one line per model (band: ± std over seeds)."""
    grid = sns.relplot(
        data=frame,
        x="shift",
        y="accuracy",
        hue="model",
        style="model",
        col="direction",
        kind="line",
        markers=True,
        dashes=False,
        errorbar="sd",
        height=3.4,
        aspect=1.05,
    )
    for axis in grid.axes.flat:
        if augmentation_shift:
            axis.axvspan(0, augmentation_shift, color="tab:green", alpha=0.07, lw=0)
        axis.set_xlabel("shift (pixels)")
    grid.set_ylabels("test accuracy (%)")
    grid.figure.suptitle("Accuracy on shifted test images (zero fill, no retraining)", y=1.03)
    return grid.figure


def _minor_tick(value: float, _position) -> str:
    """Labels at 2× and 5× each power of ten, so that a log axis spanning less than a decade still reads."""
    leading = value / 10 ** np.floor(np.log10(value))
    return f"{value:,.6g}" if round(leading) in (2, 5) and abs(leading - round(leading)) < 1e-6 else ""


def _compact(value: float) -> str:
    """A tick value in few characters: 220k, 4M, 0.5."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def efficiency_frontier(table: pd.DataFrame) -> plt.Figure:
    """Accuracy against four costs (log scale), with each cost's Pareto frontier drawn as a step line.

    Points carry a number, and `frontier_key` gives each number's model (the table's index, the labels the
    text uses): full labels beside a dozen close points would overlap.
    """
    costs = (tables.PARAMETERS, tables.MACS, tables.TRAIN_TIME, tables.LATENCY_P50)
    mean, std = tables.ACCURACY_MEAN, tables.ACCURACY_STD
    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharey=True)
    for axis, cost in zip(axes.ravel(), costs):
        axis.errorbar(table[cost], table[mean], yerr=table[std].fillna(0), fmt="o", capsize=4, color="black")
        front = table[tables.pareto_mask(table[cost], table[mean])].sort_values(cost)
        axis.step(front[cost], front[mean], where="post", color="tab:orange", label="frontier")
        for number, (_, row) in enumerate(table.iterrows(), start=1):
            axis.annotate(str(number), (row[cost], row[mean]), textcoords="offset points", xytext=(4, 3), fontsize=8)
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: _compact(value)))
        axis.xaxis.set_minor_formatter(
            matplotlib.ticker.FuncFormatter(lambda value, position: _compact(value) if _minor_tick(value, position) else "")
        )
        axis.tick_params(axis="x", which="minor", labelsize=8)
        axis.set_xlabel(cost + " (log scale)")
    for axis in axes[:, 0]:
        axis.set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    figure.suptitle("Accuracy against what it costs: parameters, compute, training time, latency")
    figure.tight_layout()
    return figure


def frontier_key(table: pd.DataFrame) -> str:
    """The key to `efficiency_frontier`'s numbers, as a sentence of Markdown."""
    return (
        "Points in the figure: " + "; ".join(f"**{number}** {label}" for number, label in enumerate(table.index, start=1)) + "."
    )


def dataset_gains(table: pd.DataFrame) -> plt.Figure:
    """The CNN's gain over the FC baseline per dataset (`tables.dataset_gain_table`), in points and as an error ratio."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    positions = np.arange(len(table))
    confidence = tables.confidence_of(table)
    for axis, (column, (low, high), reference, label) in zip(
        axes,
        (
            (stats.GAIN, stats.gain_columns(confidence), 0.0, "accuracy gain of the CNN (points)"),
            (stats.ERROR_RATIO, stats.error_ratio_columns(confidence), 0.5, "CNN error ÷ FC error"),
        ),
    ):
        values = table[column]
        axis.errorbar(
            positions, values, yerr=[values - table[low], table[high] - values], fmt="o", capsize=8, markersize=8, color="black"
        )
        axis.axhline(reference, color="tab:red", lw=1, ls="--", label="no gain" if reference == 0 else "half the errors")
        axis.set_xticks(positions, [config.DATASET_TITLES.get(name, name) for name in table.index])
        axis.set_xlim(-0.5, len(table) - 0.5)
        axis.set_ylabel(label)
        axis.legend(fontsize=8)
    figure.suptitle(f"What the convolutions buy on each dataset (mean, {confidence:.0%} Welch interval over seeds)")
    figure.tight_layout()
    return figure


def learning_curves(table: pd.DataFrame, gains: pd.DataFrame) -> plt.Figure:
    """Test accuracy against training-set size (log axis) per model with t intervals, and the CNN's gain with Welch intervals."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    confidence = tables.confidence_of(table)
    for model, rows in table.groupby(curves.MODEL, sort=False):
        means = rows[curves.MEAN]
        left.errorbar(
            rows[curves.SIZE],
            means,
            yerr=[means - rows[curves.LOW].fillna(means), rows[curves.HIGH].fillna(means) - means],
            fmt="o-",
            capsize=4,
            label=model,
        )
    left.set_xscale("log")
    left.set_xlabel("training images (log scale)")
    left.set_ylabel("test accuracy (%)")
    left.set_title(f"Learning curves (mean, {confidence:.0%} t interval)")
    left.legend(fontsize=8)
    right.errorbar(
        gains[curves.SIZE], gains[curves.GAIN], yerr=gains[curves.HALF_WIDTH].fillna(0), fmt="o-", capsize=4, color="black"
    )
    right.axhline(0, color="grey", lw=1)
    right.set_xscale("log")
    right.set_xlabel("training images (log scale)")
    right.set_ylabel("CNN − FC (points)")
    right.set_title(f"The CNN's gain ({confidence:.0%} Welch interval)")
    for axis in (left, right):
        axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    figure.tight_layout()
    return figure
