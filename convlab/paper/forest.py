"""The forest plot of the exploratory estimates: every difference between two configurations' mean accuracies over
seeds, with its 95% Welch interval, on each dataset (`paper.family`)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import numpy as np

from convlab.paper import family, figure_style

MARK = "#333333"


def _usable(result) -> bool:
    return result is not None and result.test == "Welch" and all(map(math.isfinite, (result.difference, result.low, result.high)))


def forest(runs, data):
    results = data["findings"] if isinstance(data.get("findings"), Mapping) else {}
    rows = [c for c in family.COMPARISONS if any(_usable(results.get((name, c.key))) for name in runs)]
    shown = [name for name in runs if any(_usable(results.get((name, c.key))) for c in rows)]
    if not rows:
        return None
    from matplotlib.lines import Line2D

    size = (figure_style.WIDTH, min(5.0, 1.0 + 0.235 * len(rows)))
    figure, axes = figure_style.style().subplots(1, len(shown), figsize=size, sharex=True, sharey=True)
    axes, ends = np.atleast_1d(axes), [0.0]
    for axis, name in zip(axes, shown, strict=True):
        for position, comparison in enumerate(rows):
            result = results.get((name, comparison.key))
            axis.axhline(position, color="0.92", linewidth=0.5, zorder=0)
            if not _usable(result):
                continue
            ends += [result.low, result.high]
            width, face = (0.9, "white") if result.across_zero else (1.6, MARK)  # filled: the interval excludes zero
            axis.plot([result.low, result.high], [position] * 2, color=MARK, linewidth=width, solid_capstyle="butt")
            axis.plot([result.difference], [position], marker="o", markersize=4, color=MARK, markerfacecolor=face, zorder=3)
        axis.axvline(0, color="0.5", linewidth=0.7, linestyle="--")
        axis.set_xscale("symlog", linthresh=2, linscale=0.6)
        axis.set_title(runs[name].title)
        axis.set_xlabel("difference (points of accuracy)")
    low, high = min(ends), max(ends)
    ticks = [t for t in (-40, -20, -10, -5, -2, 0, 2, 5, 10, 20, 40) if low - 1 <= t <= high + 1]
    axes[0].set_xticks(ticks, [f"{t:g}".replace("-", "−") for t in ticks])
    axes[0].set_xlim(min(low * 1.15, -0.5), max(high * 1.15, 0.5))
    axes[0].minorticks_off()
    axes[0].set_yticks(range(len(rows)), [textwrap.fill(c.label, 34) for c in rows], fontsize=7, linespacing=1.0)
    axes[0].set_ylim(len(rows) - 0.5, -0.5)
    handles = [
        Line2D([], [], marker="o", color=MARK, markersize=4, linestyle="none", label="interval excludes zero"),
        Line2D([], [], marker="o", color=MARK, markerfacecolor="white", markersize=4, linestyle="none", label="holds zero"),
        Line2D([], [], color=MARK, linewidth=0.9, label="95% Welch interval"),
    ]
    figure.legend(handles=handles, loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 0.0))
    figure.tight_layout(rect=(0, 0.25 / figure.get_figheight(), 1, 1), w_pad=1.0)
    for name in shown:
        for comparison in rows:
            if _usable(results.get((name, comparison.key))):
                for model in (comparison.changed, comparison.original):
                    figure_style.drew(figure, name, model, figure_style.seeds_of(runs[name].groups.get(model, [])), mean=True)
    return figure
