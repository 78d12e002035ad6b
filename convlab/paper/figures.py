"""The paper's figures, drawn from the run's records at print size.

Each figure is as wide as the printed text with 8-point type (`figure_style`), so no label prints below 7 points;
legends sit below the axes, never over data. `FIGURES` lists them in the order the paper shows them, with
their captions: a caption says what is plotted, and the build checks that every figure the text places is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from convlab.analysis import curves
from convlab.experiments import protocol
from convlab.paper import family, figure_style
from convlab.paper import runs as paper_runs
from convlab.study import identities


@dataclass(frozen=True)
class Figure:
    key: str
    caption: str | Callable  # the caption, or a function of the paper's context that words it for the run
    draw: Callable  # (runs: Mapping[str, DatasetRun], data: Mapping[str, object]) -> matplotlib figure, or None

    def caption_for(self, c) -> str:
        return self.caption(c) if callable(self.caption) else self.caption


def trajectories(runs, data):
    shown = {name: run for name, run in runs.items() if run.reference}
    if not shown:
        return None
    monitor, patience = paper_runs.trained_rule(runs)
    figure, axes = figure_style.panels(shown, 2.6)
    for axis, run in zip(axes, shown.values(), strict=True):
        for family_name, colour in (("FC", figure_style.COLOURS["FC"]), ("CNN", figure_style.COLOURS["CNN"])):
            drawn = run.reference.get(family_name, [])
            figure_style.drew(figure, run.name, f"reference {family_name}", figure_style.seeds_of(drawn), each_seed=True)
            for index, record in enumerate(drawn):
                loss = record["history"]["val_loss"]
                label = f"{family_name} (one line per seed)" if index == 0 else None
                axis.plot(range(1, len(loss) + 1), loss, color=colour, linewidth=1, label=label)
                stop = protocol.simulate(record["history"][monitor], patience, higher_is_better=monitor != "val_loss")
                axis.plot(stop.epochs, loss[stop.epochs - 1], marker="o", color=colour, markersize=3, linestyle="none")
        axis.axvline(protocol.STUDIES_EPOCHS, color="0.5", linewidth=0.8, linestyle="--")
        axis.set_xlim(left=0.5)
        axis.set_xlabel("epoch")
        axis.set_ylabel("validation loss")
    axes[0].plot(
        [],
        [],
        marker="o",
        color="0.3",
        linestyle="none",
        markersize=3,
        label=f"where the rule stops ({protocol.rule_words(monitor, patience)})",
    )
    axes[0].plot(
        [], [], color="0.5", linestyle="--", linewidth=0.8, label=f"epoch {protocol.STUDIES_EPOCHS}, the studies' protocol"
    )
    figure_style.legend_below(figure, axes[0], 2)
    figure.tight_layout(rect=(0, 0.16, 1, 1))
    return figure


def per_class(runs, data):
    shown = {name: run for name, run in runs.items() if run.has("cnn", identities.FC) and name in data}
    if not shown:
        return None
    figure, axes = figure_style.panels(shown, 2.9)
    width = 0.38
    for axis, (name, run) in zip(axes, shown.items(), strict=True):
        labels = data[name].test_labels
        classes = data[name].class_names
        for offset, (model, colour, label) in enumerate(
            ((identities.FC, figure_style.COLOURS["FC"], "FC"), ("cnn", figure_style.COLOURS["CNN"], "CNN"))
        ):
            per_seed = np.array(
                [
                    [100 * np.mean(np.asarray(r["test"]["predictions"])[labels == c] == c) for c in range(10)]
                    for r in run.groups[model]
                ]
            )
            positions = np.arange(10) + (offset - 0.5) * width
            several = len(per_seed) > 1
            seeds = figure_style.seeds_of(run.groups[model])
            figure_style.drew(figure, name, model, seeds, mean=several, each_seed=several)
            axis.bar(
                positions,
                100 - per_seed.mean(axis=0),
                width,
                color=colour,
                label=f"{label}, mean over seeds" if several else label,
            )
            for seed_row in per_seed if several else ():
                axis.plot(positions, 100 - seed_row, linestyle="none", marker=".", color="0.15", markersize=2.5)
        long_names = max(len(name) for name in classes) > 2
        axis.set_xticks(range(10), classes, rotation=60 if long_names else 0, ha="right" if long_names else "center")
        axis.set_ylabel("test error per class (%)")
    if any(len(run.groups["cnn"]) > 1 for run in shown.values()):
        axes[0].plot([], [], linestyle="none", marker=".", color="0.15", markersize=2.5, label="one seed")
    figure_style.legend_below(figure, axes[0], 3)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return figure


KERNEL_MODELS = (("cnn", "3×3"), ("cnn_k5", "5×5"), ("cnn_k7", "7×7"), ("cnn_k5-5", "5×5,\n5×5"), ("cnn_k7-7", "7×7,\n7×7"))


def kernels(runs, data):
    shown = {name: run for name, run in runs.items() if run.has("cnn", "cnn_k5")}
    if not shown:
        return None
    figure, axes = figure_style.panels(shown, 2.4)
    for axis, run in zip(axes, shown.values(), strict=True):
        present = [(name, label) for name, label in KERNEL_MODELS if run.groups.get(name)]
        for position, (name, _) in enumerate(present):
            figure_style.seeds_and_mean(axis, position, run.accuracies(name), "0.45", figure_style.COLOURS["CNN"])
            several = len(run.groups[name]) > 1
            figure_style.drew(figure, run.name, name, figure_style.seeds_of(run.groups[name]), mean=several, each_seed=several)
        axis.set_xticks(range(len(present)), [label for _, label in present])
        axis.set_xlim(-0.6, len(present) - 0.4)
        axis.set_xlabel("kernel: first layer, or first and second")
        axis.set_ylabel("test accuracy (%)")
    figure_style.legend_below(figure, axes[0], 2)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return figure


SHIFT_MODELS = (
    (identities.FC, "FC", "FC"),
    ("cnn", "CNN", "CNN"),
    ("cnn_gap", "CNN, GAP head", "GAP"),
    ("cnn_avgpool", "CNN, average pooling", "avg"),
    ("fc_baseline_shift4", "FC, shift-augmented", "FC aug"),
    ("cnn_shift4", "CNN, shift-augmented", "CNN aug"),
)


def shifts(runs, data):
    shown = {name: run for name, run in runs.items() if run.translation}
    if not shown:
        return None
    figure, axes = figure_style.panels(shown, 2.7, sharey=True)
    for axis, run in zip(axes, shown.values(), strict=True):
        for name, label, colour in SHIFT_MODELS:
            if name not in run.translation:
                continue
            sizes = sorted({row["shift"] for row in run.translation[name][0]["result"]["rows"]})
            means = [family.shifted_accuracies(run, name, size).mean() for size in sizes]
            probes = run.translation[name]
            figure_style.drew(figure, run.name, name, [p["seed"] for p in probes], mean=len(probes) > 1)
            style = "--" if "aug" in colour else "-"
            axis.plot(
                sizes, means, style, color=figure_style.COLOURS[colour], marker="o", markersize=2.5, linewidth=1.2, label=label
            )
        axis.axvline(family.SHIFT, color="0.6", linewidth=0.7, linestyle=":")
        axis.set_xlabel("shift (pixels)")
        axis.set_ylim(0, 100)
    axes[0].set_ylabel("accuracy on shifted test images (%)")
    figure_style.legend_below(figure, axes[0], 3)
    figure.tight_layout(rect=(0, 0.14, 1, 1))
    return figure


def permutation(runs, data):
    shown = {name: run for name, run in runs.items() if run.has("cnn_perm0", "fc_baseline_perm0")}
    if not shown:
        return None
    figure, axes = figure_style.panels(shown, 2.3)
    pairs = ((identities.FC, "FC_orig"), ("fc_baseline_perm0", "FC_perm"), ("cnn", "CNN_orig"), ("cnn_perm0", "CNN_perm"))
    ticks = ["FC,\noriginal", "FC,\npermuted", "CNN,\noriginal", "CNN,\npermuted"]
    for axis, run in zip(axes, shown.values(), strict=True):
        for position, (name, key) in enumerate(pairs):
            colour = figure_style.COLOURS["FC"] if key.startswith("FC") else figure_style.COLOURS["CNN"]
            figure_style.seeds_and_mean(axis, position, run.accuracies(name), colour, "0.2")
            several = len(run.groups[name]) > 1
            figure_style.drew(figure, run.name, name, figure_style.seeds_of(run.groups[name]), mean=several, each_seed=several)
        axis.set_xticks(range(4), ticks)
        axis.set_xlim(-0.6, 3.6)
        axis.set_ylabel("test accuracy (%)")
    figure_style.legend_below(figure, axes[0], 2)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure


def learning_curves(runs, data):
    shown = {name: run for name, run in runs.items() if run.curves}
    if not shown:
        return None
    figure, axes = figure_style.panels(shown, 2.5)
    for axis, run in zip(axes, shown.values(), strict=True):
        table = curves.curve_table(run.curves)
        for model, by_size in run.curves.items():
            for size, group in by_size.items():
                seeds = figure_style.seeds_of(group)
                figure_style.drew(figure, run.name, f"{model} at {size}", seeds, mean=len(seeds) > 1)
        for model in ("FC", "CNN"):
            rows = table[table[curves.MODEL] == model].sort_values(curves.SIZE)
            axis.plot(
                rows[curves.SIZE],
                rows[curves.MEAN],
                marker="o",
                markersize=2.5,
                color=figure_style.COLOURS[model],
                label=f"{model}, mean",
            )
            axis.fill_between(
                rows[curves.SIZE],
                rows[curves.LOW],
                rows[curves.HIGH],
                color=figure_style.COLOURS[model],
                alpha=0.2,
                linewidth=0,
                label=f"{model}, 95% interval of the mean",
            )
        axis.set_xscale("log")
        sizes = sorted(table[curves.SIZE].unique())
        axis.set_xticks(sizes, [f"{int(size) // 1000:,}k" if size >= 1000 else f"{int(size)}" for size in sizes])
        axis.minorticks_off()
        axis.set_xlabel("training images (k: thousands)")
        axis.set_ylabel("test accuracy (%)")
    figure_style.legend_below(figure, axes[0], 2)
    figure.tight_layout(rect=(0, 0.15, 1, 1))
    return figure


COST_MODELS = (
    (identities.FC, "FC", "o"),
    ("cnn", "CNN, 3×3", "s"),
    ("cnn_k5", "CNN, 5×5 first", "^"),
    ("cnn_k7", "CNN, 7×7 first", "v"),
    ("cnn_k5-5", "CNN, 5×5 both", "<"),
    ("cnn_k7-7", "CNN, 7×7 both", ">"),
    ("cnn_gap", "CNN, GAP head", "D"),
    ("cnn_avgpool", "CNN, average pooling", "P"),
)


def cost(runs, data):
    shown = {name: run for name, run in runs.items() if run.has("cnn", identities.FC)}
    if not shown:
        return None
    figure, axes = figure_style.panels(shown, 2.9)
    palette = ("#1b6ca8", "#d95f02", "#7570b3", "#1b9e77", "#e7298a", "#66a61e", "#a6761d", "#444444")
    for axis, run in zip(axes, shown.values(), strict=True):
        for (name, label, marker), colour in zip(COST_MODELS, palette, strict=True):
            if not run.groups.get(name):
                continue
            values = run.accuracies(name)
            figure_style.drew(figure, run.name, name, figure_style.seeds_of(run.groups[name]), mean=len(values) > 1)
            macs = run.groups[name][0]["macs_per_image"]
            spread = [[values.mean() - values.min()], [values.max() - values.mean()]]
            axis.errorbar(
                [macs],
                [values.mean()],
                yerr=spread,
                marker=marker,
                markersize=4,
                color=colour,
                capsize=2,
                linewidth=0.8,
                label=label,
                linestyle="none",
            )
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(figure_style.count_formatter())
        axis.set_xlabel("multiply-accumulates per image")
        axis.set_ylabel("test accuracy (%)")
    figure_style.legend_below(figure, axes[0], 4)
    figure.tight_layout(rect=(0, 0.17, 1, 1))
    return figure


FIGURES = (
    Figure(
        "trajectories",
        lambda c: (
            f"Validation loss after each epoch of the reference runs (patience {protocol.REFERENCE_PATIENCE}, at least "
            f"{protocol.STUDIES_EPOCHS} epochs), one line per seed; a dot marks where the run's rule "
            f"({c.p.monitor}, patience {c.p.patience}) "
            f"would stop, the dashed line epoch {protocol.STUDIES_EPOCHS}, at which the studies read their models."
        ),
        trajectories,
    ),
    Figure(
        "per_class",
        lambda c: (
            "Test error per class of the FC network and the CNN: "
            + (
                f"bars are means over the {c.has.seeds} seeds, dots single seeds."
                if c.has.several_seeds
                else f"seed {c.p.seeds}."
            )
        ),
        per_class,
    ),
    Figure(
        "kernels",
        lambda c: (
            "Test accuracy by kernel size, in the first layer only (3×3, 5×5, 7×7)"
            + (" and in both layers (5×5, 5×5 and 7×7, 7×7)" if c.has.kernels_both_7 else "")
            + (" and in both layers (5×5, 5×5)" if c.has.kernels_both and not c.has.kernels_both_7 else "")
            + (": dots are single seeds, short horizontal lines their means." if c.has.several_seeds else f": seed {c.p.seeds}.")
        ),
        kernels,
    ),
    Figure(
        "shifts",
        "Accuracy on test images shifted by 0 to 8 pixels, mean over the seeds and over three directions (right, down, "
        "and diagonal, where a shift of n moves the image n pixels right and n down), on a fixed set of test images; "
        "the dotted line marks the 3-pixel shift the comparisons use. "
        "Dashed lines: models trained with random shifts of up to 4 pixels.",
        shifts,
    ),
    Figure(
        "permutation",
        "Test accuracy of the FC network and the CNN trained and tested on the original images and on images whose pixels "
        "are shuffled by one fixed permutation; dots are single seeds, short horizontal lines their means.",
        permutation,
    ),
    Figure(
        "learning_curves",
        "Test accuracy against the number of training images (log scale): the mean over the seeds at each size and the "
        "95% t interval of that mean.",
        learning_curves,
    ),
    Figure(
        "cost",
        lambda c: (
            "Test accuracy against multiply-accumulates per image (log scale; k thousands, M millions) for the models "
            "trained on original, unshifted images: "
            + ("the mean over the seeds, with the range of the seeds as a bar." if c.has.several_seeds else f"seed {c.p.seeds}.")
        ),
        cost,
    ),
)
BY_KEY = {figure.key: figure for figure in FIGURES}
