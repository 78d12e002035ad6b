"""How the paper's figures look: as wide as the printed text (`WIDTH` inches) with 8-point type (`FONT`), one colour
per model, legends below the axes, seeds as dots with their mean as a line, and the PNG that the HTML embeds.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from convlab.paper.runs import DatasetRun

WIDTH = 6.3  # inches: the printed text's width
FONT = 8  # points
COLOURS = {"FC": "#1b6ca8", "CNN": "#d95f02", "GAP": "#7570b3", "avg": "#1b9e77", "CNN aug": "#e7298a", "FC aug": "#66a61e"}


def style():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": FONT,
            "axes.titlesize": FONT,
            "axes.labelsize": FONT,
            "xtick.labelsize": FONT,
            "ytick.labelsize": FONT,
            "legend.fontsize": FONT,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.dpi": 150,
        }
    )
    return plt


def panels(runs: Mapping[str, DatasetRun], height: float = 2.5, sharey: bool = False):
    plt = style()
    figure, axes = plt.subplots(1, len(runs), figsize=(WIDTH, height), sharey=sharey, squeeze=False)
    for axis, run in zip(axes[0], runs.values(), strict=True):
        axis.set_title(run.title)
    return figure, list(axes[0])


def count_formatter():
    """Log-axis ticks as 100k, 1M, 10M rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter

    def text(value, _):
        for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if value >= size:
                return f"{value / size:g}{suffix}"
        return f"{value:g}"

    return FuncFormatter(text)


def seeds_and_mean(axis, position: float, values, dots: str, line: str) -> None:
    """One column of a dot plot: each seed's value as a dot, their mean as a short line (labelled once per axis)."""
    first = position == 0
    axis.plot([position] * len(values), values, linestyle="none", marker="o", markersize=3, color=dots, alpha=0.8,
              label="one seed" if first else None)  # fmt: skip
    if len(values) > 1:  # one seed has no mean to draw
        axis.plot([position - 0.25, position + 0.25], [values.mean()] * 2, color=line, linewidth=1.5,
                  label="mean over seeds" if first else None)  # fmt: skip


def drew(figure, dataset: str, model: str, seeds, *, mean: bool = False, each_seed: bool = False) -> None:
    """Note on the figure what one of its marks is drawn from: a model's seeds on one dataset, whether the mark is their
    mean, whether each seed is drawn too. The caption test reads it (`figure.convlab_drawn`)."""
    if not hasattr(figure, "convlab_drawn"):
        figure.convlab_drawn = []
    figure.convlab_drawn.append(
        {"dataset": dataset, "model": model, "seeds": sorted(int(s) for s in seeds), "mean": mean, "each_seed": each_seed}
    )


def seeds_of(records) -> list[int]:
    return [record["seed"] for record in records]


def legend_below(figure, axis, columns: int) -> None:
    handles, labels = axis.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=columns, frameon=False, bbox_to_anchor=(0.5, 0.0))


def png_data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=200, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
