"""The studies' own figures (data, training, comparisons, filters); those of the experiments beyond them are in
`probe_plots`. Each function returns a matplotlib Figure; `save` writes it as PNG with its caption (`captions`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from convlab.analysis import tables
from convlab.datasets import data
from convlab.figures import captions
from convlab.store import records


def use_theme() -> None:
    """The figures' look (seaborn's whitegrid theme); `notebook.setup` applies it, so importing this module changes nothing."""
    sns.set_theme(context="notebook", style="whitegrid")


def save(figure: plt.Figure, images_dir: str | Path, name: str) -> Path:
    """Write a figure to `<images_dir>/<name>.png` atomically, show that image with its caption and alt text
    (`captions.CAPTIONS`, kept in the output's metadata for the report), and return the path."""
    from IPython.display import Image, display

    about = captions.caption_for(name)
    target = Path(images_dir) / f"{name}.png"
    with records.atomic_path(target) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)  # shown once, as the saved image
    metadata = {"image/png": {"alt": about.alt}, captions.FIGURE_METADATA: {"name": name} | asdict(about)}
    display(Image(data=target.read_bytes(), format="png"), metadata=metadata)
    return target


def sample_grid(dataset: data.Dataset, per_class: int = 8, seed: int = 0) -> plt.Figure:
    """A few random training images of every class, one row per class (drawn as one montage: fast)."""
    rng = np.random.default_rng(seed)
    side, gap = dataset.x_train.shape[1], 2
    step = side + gap
    montage = np.zeros((dataset.num_classes * step - gap, per_class * step - gap), dtype=np.uint8)
    for label in range(dataset.num_classes):
        chosen = rng.choice(np.flatnonzero(dataset.y_train == label), per_class, replace=False)
        for column, index in enumerate(chosen):
            montage[label * step : label * step + side, column * step : column * step + side] = dataset.x_train[index]
    figure, axis = plt.subplots(figsize=(per_class * 0.9, dataset.num_classes * 0.95))
    axis.imshow(montage, cmap="gray_r", vmin=0, vmax=255)
    axis.grid(False)
    axis.set_xticks([])
    axis.set_yticks(np.arange(dataset.num_classes) * step + side / 2, dataset.class_names, fontsize=9)
    axis.set_title("Random training images per class")
    return figure


def mean_images(means: np.ndarray, class_names: tuple[str, ...]) -> plt.Figure:
    """The average image of each class."""
    figure, axes = plt.subplots(1, len(class_names), figsize=(len(class_names) * 1.3, 1.8))
    for axis, image, name in zip(axes, means, class_names):
        axis.imshow(image, cmap="magma", vmin=0, vmax=1)
        axis.set_title(name, fontsize=8)
        axis.axis("off")
    figure.suptitle("Mean image per class (pixel values in [0, 1])", y=1.05)
    return figure


def intensity_histogram(images: np.ndarray) -> plt.Figure:
    """Distribution of raw pixel values (log scale: most pixels are background)."""
    figure, axis = plt.subplots(figsize=(7, 3.2))
    counts = np.bincount(images.ravel(), minlength=256)
    axis.bar(np.arange(256), counts, width=1.0, color="steelblue")
    axis.set_yscale("log")
    axis.set_xlabel("pixel value (0–255)")
    axis.set_ylabel("pixels (log scale)")
    axis.set_title("Pixel-intensity histogram of the training images")
    return figure


def neighbour_correlation(frame: pd.DataFrame) -> plt.Figure:
    """Correlation of pixel pairs against their distance."""
    figure, axis = plt.subplots(figsize=(6.5, 3.2))
    sns.lineplot(data=frame, x="distance", y="correlation", hue="direction", marker="o", ax=axis)
    axis.set_xlabel("distance between the two pixels (pixels)")
    axis.set_ylabel("Pearson correlation")
    axis.set_title("Correlation of a pixel with its neighbour, by distance")
    return figure


def training_curves(groups: dict[str, dict]) -> plt.Figure:
    """Loss and accuracy per epoch, training (dashed) and validation (solid), one colour per model."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 3.8))
    palette = sns.color_palette(n_colors=len(groups))
    for colour, (label, record) in zip(palette, groups.items()):
        history = tables.history_frame(record)
        for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
            axis.plot(history.index, history[metric], "--", color=colour, label=f"{label} train")
            axis.plot(history.index, history[f"val_{metric}"], "-", color=colour, label=f"{label} validation")
        best = record["best_epoch"]
        loss_axis.axvline(best, color=colour, alpha=0.3, linewidth=3)
    loss_axis.set_title("Loss (shaded line: restored epoch)")
    accuracy_axis.set_title("Accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.set_xlabel("epoch")
        axis.legend(fontsize=8)
    return figure


def confusion_matrix(matrix: np.ndarray, class_names: tuple[str, ...], title: str) -> plt.Figure:
    """A heat map of test-set counts, rows true class, columns predicted class."""
    figure, axis = plt.subplots(figsize=(7.5, 6))
    sns.heatmap(
        matrix,
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar=False,
        xticklabels=class_names,
        yticklabels=class_names,
        ax=axis,
        annot_kws={"fontsize": 8},
    )
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    return figure


def per_class_accuracy(frame: pd.DataFrame) -> plt.Figure:
    """Test accuracy per class, one bar per model (columns of `frame`)."""
    long = frame.reset_index().melt(id_vars="class", var_name="model", value_name="accuracy")
    figure, axis = plt.subplots(figsize=(10, 3.6))
    sns.barplot(data=long, x="class", y="accuracy", hue="model", ax=axis)
    axis.set_ylim(max(0.0, long["accuracy"].min() - 0.1), 1.0)
    axis.set_xlabel("")
    axis.set_ylabel("test accuracy")
    axis.tick_params(axis="x", rotation=30)
    axis.set_title("Per-class test accuracy")
    return figure


def dense_weights_as_images(kernel: np.ndarray, count: int = 32, side: int = 28) -> plt.Figure:
    """The first dense layer's weights, one 28×28 image per hidden unit (diverging colours, common scale)."""
    columns = 8
    rows = int(np.ceil(count / columns))
    limit = float(np.abs(kernel[:, :count]).max())
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.2))
    for unit, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if unit < count:
            image = axis.imshow(kernel[:, unit].reshape(side, side), cmap="RdBu_r", vmin=-limit, vmax=limit)
    figure.colorbar(image, ax=axes, shrink=0.6, label="weight")
    figure.suptitle(f"Input weights of the first {count} hidden units, each shown as a 28×28 image")
    return figure


def comparison_bars(table: pd.DataFrame, columns: tuple[str, ...]) -> plt.Figure:
    """One small chart per column of a comparison table (models on the x axis). Accuracy is drawn as points with
    the seeds' standard deviation on an axis zoomed to the values (a bar would need the axis from zero)."""
    figure, axes = plt.subplots(1, len(columns), figsize=(3.3 * len(columns), 3.2))
    for axis, column in zip(np.atleast_1d(axes), columns):
        values = table[column]
        if column == tables.TEST_ACCURACY and tables.ACCURACY_STD in table:
            spread = table[tables.ACCURACY_STD].fillna(0)
            axis.errorbar(values.index, values.values, yerr=spread.values, fmt="o", capsize=6, color="black")
            axis.set_xlim(-0.6, len(values) - 0.4)
            axis.set_title(f"{column}\n(mean ± std over seeds; axis zoomed)", fontsize=9)
        else:
            axis.bar(values.index, values.values, color=sns.color_palette(n_colors=len(values)))
            axis.set_title(column, fontsize=10)
        axis.tick_params(axis="x", rotation=20)
    figure.tight_layout()
    return figure


def class_balance(frame: pd.DataFrame) -> plt.Figure:
    """Images per class, training and test side by side."""
    long = frame.reset_index().melt(id_vars="class", var_name="split", value_name="images")
    figure, axis = plt.subplots(figsize=(9, 3.2))
    sns.barplot(data=long, x="class", y="images", hue="split", ax=axis)
    axis.tick_params(axis="x", rotation=30)
    axis.set_xlabel("")
    axis.set_title("Images per class")
    return figure


def pixel_map(image: np.ndarray, title: str, colour_label: str) -> plt.Figure:
    """One 28×28 map of a per-pixel statistic."""
    figure, axis = plt.subplots(figsize=(3.8, 3.3))
    shown = axis.imshow(image, cmap="viridis")
    figure.colorbar(shown, ax=axis, label=colour_label)
    axis.set_title(title, fontsize=10)
    axis.axis("off")
    return figure


def accuracy_with_intervals(table: pd.DataFrame, groups: records.RecordGroups, title: str) -> plt.Figure:
    """Mean test accuracy per configuration (a `tables.sweep_table`) with its t interval, and every seed as a dot."""
    figure, axis = plt.subplots(figsize=(6.5, 3.6))
    positions = np.arange(len(table))
    confidence = tables.confidence_of(table)
    low, high = (table[column] for column in tables.ci_columns(confidence))
    means = table[tables.ACCURACY_MEAN]
    axis.errorbar(
        positions,
        means,
        yerr=[means - low.fillna(means), high.fillna(means) - means],
        fmt="o",
        capsize=6,
        markersize=8,
        color="black",
        label=f"mean, {confidence:.0%} CI",
    )
    for position, label in zip(positions, table.index):
        seeds = records.accuracies(groups[label])
        axis.scatter(
            np.full(len(seeds), position + 0.12),
            seeds,
            s=18,
            alpha=0.7,
            color="tab:orange",
            label="single seeds" if position == 0 else None,
        )
    axis.set_xticks(positions, table.index)
    axis.set_ylabel("test accuracy (%)")
    axis.set_title(title)
    axis.legend(fontsize=8)
    return figure


def filter_grid(kernels: np.ndarray, title: str) -> plt.Figure:
    """Kernels (filters × h × w) as small images, each on its own diverging colour scale centred on zero (one
    shared scale lets the strongest filter wash out the others)."""
    columns = 8
    rows = int(np.ceil(len(kernels) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.25), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(kernels):
            limit = float(np.abs(kernels[index]).max()) or 1.0
            axis.imshow(kernels[index], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axis.set_title(str(index), fontsize=9)
    figure.suptitle(title, y=1.0)
    figure.tight_layout()
    return figure


def activation_maps(images: np.ndarray, maps: np.ndarray, labels: list[str], filters: list[int], title: str) -> plt.Figure:
    """Rows: images (first column) and the activation maps of the chosen filters."""
    figure, axes = plt.subplots(len(images), len(filters) + 1, figsize=((len(filters) + 1) * 1.15, len(images) * 1.2))
    for row, (image, image_maps, label) in enumerate(zip(images, maps, labels)):
        axes[row, 0].imshow(image, cmap="gray_r")
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        for column, index in enumerate(filters, start=1):
            axes[row, column].imshow(image_maps[:, :, index], cmap="magma")
            if row == 0:
                axes[row, column].set_title(f"filter {index}", fontsize=8)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title)
    return figure


def orientation_tuning(tuning: pd.DataFrame, summary: pd.DataFrame) -> plt.Figure:
    """Each filter's response to gratings by orientation (rows normalised, sorted by preferred orientation)."""
    order = summary.sort_values("preferred orientation (°)").index
    normalised = tuning.loc[order].div(tuning.loc[order].max(axis=1).replace(0, 1), axis=0)
    figure, (heat_axis, hist_axis) = plt.subplots(1, 2, figsize=(12, 6), gridspec_kw={"width_ratios": [1.4, 1]})
    sns.heatmap(normalised, cmap="viridis", ax=heat_axis, yticklabels=True, cbar_kws={"label": "response / filter maximum"})
    heat_axis.tick_params(axis="y", labelsize=7)
    heat_axis.set_ylabel("filter (sorted by preferred orientation)")
    heat_axis.set_title("Responses to oriented gratings")
    hist_axis.scatter(summary["preferred orientation (°)"], summary["selectivity"], s=30)
    for index, row in summary.iterrows():
        hist_axis.annotate(
            str(index),
            (row["preferred orientation (°)"], row["selectivity"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    hist_axis.set_xlim(0, 180)
    hist_axis.set_xticks([0, 45, 90, 135, 180])
    hist_axis.set_xlabel("preferred stripe orientation (°; 0 horizontal, 90 vertical)")
    hist_axis.set_ylabel("orientation selectivity (0–1)")
    hist_axis.set_title("Preferred orientation and selectivity per filter")
    figure.tight_layout()
    return figure


def class_filter_heatmap(frame: pd.DataFrame, title: str) -> plt.Figure:
    """Relative mean activation of each filter (rows) per class (columns)."""
    figure, axis = plt.subplots(figsize=(8, max(4.0, len(frame) * 0.22)))
    sns.heatmap(frame, cmap="RdBu_r", center=1.0, ax=axis, cbar_kws={"label": "class mean / overall mean"})
    axis.set_title(title)
    return figure


def image_gallery(images: np.ndarray, titles: list[str], title: str, columns: int = 8) -> plt.Figure:
    """Images in a grid with a short caption each."""
    rows = max(1, int(np.ceil(len(images) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.5, rows * 2.0), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index], cmap="gray_r", vmin=0, vmax=255)
            axis.set_title(titles[index], fontsize=10)
    figure.suptitle(title, y=1.0)
    figure.tight_layout()
    return figure


def architecture(networks: dict[str, object]) -> plt.Figure:
    """Each Keras model as a row of boxes, one per layer, labelled with its kind, output shape and parameters."""
    colours = {"Conv2D": "#7fb3d5", "MaxPooling2D": "#d2b4de", "AveragePooling2D": "#d2b4de", "Dense": "#f5b041"}
    longest = max(len(model.layers) for model in networks.values()) + 1
    figure, axes = plt.subplots(len(networks), 1, figsize=(1.45 * longest, 1.55 * len(networks)), squeeze=False)
    for axis, (name, model) in zip(axes[:, 0], networks.items()):
        boxes = [("Input", "×".join(str(d) for d in model.inputs[0].shape[1:]), 0)]
        boxes += [
            (layer.__class__.__name__, "×".join(str(d) for d in layer.output.shape[1:]), int(layer.count_params()))
            for layer in model.layers
        ]
        for index, (kind, shape, parameters) in enumerate(boxes):
            axis.add_patch(plt.Rectangle((index * 1.3, 0), 1.1, 1, facecolor=colours.get(kind, "#d5dbdb"), edgecolor="#555"))
            label = f"{kind}\n{shape}" + (f"\n{parameters:,} p." if parameters else "")
            axis.text(index * 1.3 + 0.55, 0.5, label, ha="center", va="center", fontsize=8)
            if index:
                axis.annotate("", (index * 1.3, 0.5), (index * 1.3 - 0.2, 0.5), arrowprops={"arrowstyle": "->"})
        axis.set_xlim(-0.1, longest * 1.3)
        axis.set_ylim(-0.1, 1.1)
        axis.axis("off")
        axis.set_title(f"{name}: {model.count_params():,} parameters", loc="left", fontsize=10)
    figure.tight_layout()
    return figure


def probability_bars(
    images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], probabilities: dict[str, np.ndarray], titles: list[str]
) -> plt.Figure:
    """One row per test image: the image, then each model's predicted class probabilities (true class in green)."""
    rows, models_ = len(images), list(probabilities)
    figure, axes = plt.subplots(rows, 1 + len(models_), figsize=(2.2 + 3.0 * len(models_), 1.9 * rows), squeeze=False)
    positions = np.arange(len(class_names))
    for row in range(rows):
        axes[row, 0].imshow(images[row], cmap="gray_r", vmin=0, vmax=255)
        axes[row, 0].axis("off")
        axes[row, 0].set_title(titles[row], fontsize=9)
        for column, model in enumerate(models_, start=1):
            axis = axes[row, column]
            colours = ["#2e8b57" if k == labels[row] else "#8c8c8c" for k in positions]
            axis.barh(positions, probabilities[model][row], color=colours)
            axis.set_xlim(0, 1)
            axis.set_yticks(positions, class_names if column == 1 else [], fontsize=7)
            axis.invert_yaxis()
            axis.tick_params(axis="x", labelsize=7)
            if row == 0:
                axis.set_title(f"{model}: probability per class", fontsize=9)
    figure.tight_layout()
    return figure
