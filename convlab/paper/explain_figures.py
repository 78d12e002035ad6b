"""Figures that explain the findings: the exploratory estimates as a forest plot (`forest`), the networks layer by
layer, a shifted image's feature maps, test images one network gets wrong, and what the first-layer kernels respond to.

Each takes `(runs, data)` like those of `figures` and returns a figure at print size, or None where the run lacks
what it needs. Besides the test data (`data[name]`) they read `data["findings"]` (`family.findings`) and
`data[f"{name}:cnn_model"]` (the path of the seed-0 CNN's `.keras` file).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from convlab.datasets import transforms
from convlab.paper import figure_style, figures, values
from convlab.paper.forest import forest
from convlab.study import identities

SHIFT = 3  # pixels to the right: the shift the feature-map figure applies
SHIFT_CLASS = {"fashion_mnist": "Trouser", "mnist": "7"}  # its image: the first test image of this class
SHOWN_MAPS = 4  # first-layer maps in the shift figure: the most active on the original image
SHOWN_KERNELS = 8  # kernels in the response figure: those with the largest weight norm
ERRORS_SHOWN = 6  # test images per row of the error figure
MARK = "#333333"


def _model_file(data, name: str) -> Path | None:
    path = data.get(f"{name}:cnn_model")
    return Path(path) if path is not None and Path(path).is_file() else None


def _drew_seed0(figure, shown, models) -> None:
    for name in shown:
        for model in models:
            figure_style.drew(figure, name, model, [0])  # the seed-0 model of each dataset


def _seed0(run, model: str) -> dict | None:
    return next((record for record in run.groups.get(model, []) if record["seed"] == 0), None)


def _bare(axis, picture=None, cmap: str = "gray_r", low: float = 0.0, high: float | None = None):
    """An axis with no ticks or frame (its label kept), showing `picture` if given."""
    if picture is not None:
        axis.imshow(picture, cmap=cmap, vmin=low, vmax=high if high is not None else (float(np.max(picture)) or 1.0))
    axis.set_xticks([]), axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)
    return axis


def _scaled(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255 if images.dtype == np.uint8 else images.astype(np.float32)


def _load(path: Path):
    import keras

    from convlab.training import models  # noqa: F401  (registers the custom layers a stored model may hold)

    return keras.models.load_model(path, compile=False)


# 1. The networks layer by layer


def layer_boxes(model: dict) -> list[tuple[str, str, int]]:
    """A record's model as (layer, output shape, parameters) from input to output, computed from its configuration."""
    config = values.model_config(model)
    side, channels = config.image_side, 1
    if config.kind == "fc":
        boxes, width, hidden = [(f"input {side}×{side}", f"{side * side:,}", 0)], side * side, config.hidden_units
    else:
        boxes, hidden = [("input", f"{side}×{side}×1", 0)], (config.dense_units,)
        for filters, kernel in zip(config.filters, config.kernel_sizes, strict=True):
            side = side if config.padding == "same" else side - kernel + 1
            boxes.append((f"conv {kernel}×{kernel}", f"{side}×{side}×{filters}", kernel * kernel * channels * filters + filters))
            side, channels = side // 2, filters
            boxes.append(("max pool" if config.pooling == "max" else "avg pool", f"{side}×{side}×{filters}", 0))
        width = channels if config.head == "gap" else side * side * channels
        boxes.append(("global avg" if config.head == "gap" else "flatten", f"{width:,}", 0))
    for index, units in enumerate((*hidden, config.num_classes)):
        boxes.append(("output" if index == len(hidden) else "dense", f"{units:,}", width * units + units))
        width = units
    return boxes


BOX_COLOURS = {"input": "white", "conv": "#fbd9bf", "dense": "#c9dcec", "output": "#c9dcec"}  # else light grey


def architecture(runs, data):
    rows = []
    for run in runs.values():
        for model, label in (("cnn", "CNN"), (identities.FC, "FC")):
            if run.groups.get(model):
                entry = run.groups[model][0]["model"]
                padding = f", '{entry['padding']}' padding" if entry["kind"] == "cnn" else ""
                rows.append((f"{run.title}, {label}{padding}", layer_boxes(entry)))
    if not rows:
        return None
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    plt = figure_style.style()
    row_height, box_width, box_height, gap = 0.86, 0.66, 0.5, 0.12
    height = row_height * len(rows) + 0.02
    figure = plt.figure(figsize=(figure_style.WIDTH, height))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, figure_style.WIDTH), axis.set_ylim(0, height)
    axis.axis("off")
    for row, (title, boxes) in enumerate(rows):
        top = height - 0.1 - row * row_height
        total = sum(parameters for _, _, parameters in boxes)
        axis.text(0.05, top, f"{title}: {total:,} parameters", fontsize=figure_style.FONT, va="top", weight="bold")
        bottom = top - 0.2 - box_height
        for index, (layer, shape, parameters) in enumerate(boxes):
            left = 0.05 + index * (box_width + gap)
            colour, rounded = BOX_COLOURS.get(layer.split()[0], "#e6e6e6"), "round,pad=0,rounding_size=0.04"
            axis.add_patch(FancyBboxPatch((left, bottom), box_width, box_height, rounded, fc=colour, ec="0.3", lw=0.6))
            lines = [layer, shape, f"{parameters:,}" if parameters else ""]
            for offset, (text, weight) in enumerate(zip(lines, ("normal", "bold", "normal"), strict=True)):
                colour = "0.35" if offset == 2 else "black"
                y = bottom + box_height * (0.8 - 0.3 * offset)
                axis.text(left + box_width / 2, y, text, ha="center", va="center", fontsize=7, weight=weight, color=colour)
            if index:
                start, end = (left - gap + 0.01, bottom + box_height / 2), (left - 0.01, bottom + box_height / 2)
                axis.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, lw=0.6, color="0.3"))
    return figure


# 2. Equivariance is not invariance


def shift_measures(maps, shifted_maps, flat, shifted_flat, shift: int) -> dict:
    """How the first layer's maps and the head's input (the vector the dense layer reads) change when the image
    moves `shift` pixels right: the fraction of the shifted image's map positions that have a counterpart and
    hold exactly the original's value moved `shift` columns; the relative L2 change ‖Δ‖/‖v‖ and the correlation
    of the head's input."""
    maps, shifted_maps = np.asarray(maps), np.asarray(shifted_maps)
    flat, shifted_flat = np.ravel(flat).astype(np.float64), np.ravel(shifted_flat).astype(np.float64)
    columns = maps.shape[1]
    copied = float(np.mean(shifted_maps[:, shift:] == maps[:, : columns - shift]))
    norm = float(np.linalg.norm(flat))
    change = float(np.linalg.norm(shifted_flat - flat)) / norm if norm else math.nan
    spread = flat.std() * shifted_flat.std()
    correlation = float(np.corrcoef(flat, shifted_flat)[0, 1]) if spread else math.nan
    return {"copied": copied, "change": change, "correlation": correlation}


def _first_conv(model):
    import keras

    return next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


def _probe(model, names: tuple[str, ...] = ("conv", "head")):
    """A model that gives the first convolution's maps and the head's input (the layer before the first dense one)."""
    import keras

    conv = _first_conv(model)
    dense = next(index for index, layer in enumerate(model.layers) if isinstance(layer, keras.layers.Dense))
    outputs = {"conv": conv.output, "head": model.layers[dense - 1].output}
    return keras.Model(model.inputs[0], [outputs[name] for name in names])


def shift_responses(model, image: np.ndarray, shift: int = SHIFT) -> tuple[np.ndarray, ...]:
    """First-layer maps and head inputs of a 28×28 image in [0, 1] and of it moved `shift` px right (zero fill)."""
    batch = np.stack([image, transforms.shift_images(image[np.newaxis], 0, shift)[0]])[..., np.newaxis]
    maps, flat = _probe(model).predict(batch.astype(np.float32), verbose=0)
    return maps[0], maps[1], flat[0], flat[1]


def shift_image_index(test, dataset: str) -> int:
    names = list(test.class_names)
    label = names.index(SHIFT_CLASS[dataset]) if SHIFT_CLASS.get(dataset) in names else 0
    found = np.flatnonzero(np.asarray(test.y_test) == label)
    return int(found[0]) if len(found) else 0


def feature_maps_shift(runs, data):
    shown = [name for name in runs if name in data and _model_file(data, name) is not None]
    if not shown:
        return None
    plt = figure_style.style()
    height, side, gap = 3.55, 0.48, 0.06  # inches: the figure, a map tile, the space between tiles

    def place(left, bottom, width, tall):
        return figure.add_axes((left / figure_style.WIDTH, bottom / height, width / figure_style.WIDTH, tall / height))

    figure = plt.figure(figsize=(figure_style.WIDTH, height))
    for column, name in enumerate(shown):
        test, model = data[name], _load(_model_file(data, name))
        index = shift_image_index(test, name)
        image = _scaled(np.asarray(test.x_test[index]))
        maps, shifted_maps, flat, shifted_flat = shift_responses(model, image, SHIFT)
        measured = shift_measures(maps, shifted_maps, flat, shifted_flat, SHIFT)
        channels = sorted(np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[:SHOWN_MAPS])
        left = 0.45 + column * figure_style.WIDTH / 2
        figure.text(left / figure_style.WIDTH, 1 - 0.03 / height, runs[name].title, va="top", weight="bold")
        images = (image, transforms.shift_images(image[np.newaxis], 0, SHIFT)[0])
        for row, (picture, responses) in enumerate(zip(images, (maps, shifted_maps), strict=True)):
            bottom = height - 0.38 - side - row * (side + gap)
            axis = _bare(place(left, bottom, side, side), picture, high=1.0)
            axis.set_ylabel("original" if row == 0 else f"{SHIFT} px right", fontsize=7)
            if row == 0:
                axis.set_title(f"image {index}", fontsize=7, pad=2)
            for slot, channel in enumerate(channels, start=1):
                top = float(max(maps[..., channel].max(), shifted_maps[..., channel].max())) or 1.0
                axis = _bare(place(left + slot * (side + gap), bottom, side, side), responses[..., channel], "magma", 0, top)
                if row == 0:
                    axis.set_title(f"map {channel}", fontsize=7, pad=2)
        axis = place(left, 0.4, (SHOWN_MAPS + 1) * side + SHOWN_MAPS * gap, height - 2.25)
        axis.plot(flat, shifted_flat, linestyle="none", marker=".", markersize=1.5, color=figure_style.COLOURS["CNN"], alpha=0.5)
        top = float(max(flat.max(), shifted_flat.max())) or 1.0
        axis.plot([0, top], [0, top], color="0.4", linewidth=0.7, linestyle="--")
        axis.set_xlabel(f"head input, original image ({flat.size:,} values)", fontsize=7)
        axis.set_ylabel("shifted image", fontsize=7)
        axis.tick_params(labelsize=7)
        share = math.floor(1000 * measured["copied"]) / 10  # rounded down: 100% only where every value is a copy
        note = f"maps: {share:g}% of values are the original's moved {SHIFT} px\n"
        note += f"head input: ‖Δ‖/‖v‖ = {measured['change']:.2f}, correlation {measured['correlation']:.2f}"
        axis.set_title(note, fontsize=7, loc="left")
    _drew_seed0(figure, shown, ("cnn",))
    return figure


# 3. What one network gets wrong and the other right


def error_indices(labels, fc, cnn) -> tuple[np.ndarray, np.ndarray]:
    """Test images in order that the FC network gets wrong and the CNN right, and those both get wrong."""
    labels, fc, cnn = np.asarray(labels), np.asarray(fc), np.asarray(cnn)
    return np.flatnonzero((fc != labels) & (cnn == labels)), np.flatnonzero((fc != labels) & (cnn != labels))


def _predictions(runs, data, name):
    run, test = runs[name], data.get(name)
    fc, cnn = _seed0(run, identities.FC), _seed0(run, "cnn")
    if test is None or fc is None or cnn is None:
        return None
    fc, cnn = np.asarray(fc["test"]["predictions"]), np.asarray(cnn["test"]["predictions"])
    return (fc, cnn) if len(fc) == len(cnn) == len(test.y_test) else None


def error_counts(runs, data, name: str) -> tuple[int, int] | None:
    """Seed 0: how many test images the FC network gets wrong and the CNN right, and how many both get wrong."""
    found = _predictions(runs, data, name)
    if found is None:
        return None
    fc_only, both = error_indices(data[name].y_test, *found)
    return len(fc_only), len(both)


def example_errors(runs, data):
    shown = {name: found for name in runs if (found := _predictions(runs, data, name)) is not None}
    if not shown:
        return None
    plt = figure_style.style()
    height = 1.3 * 2 * len(shown) + 0.05
    figure, axes = plt.subplots(2 * len(shown), ERRORS_SHOWN, figsize=(figure_style.WIDTH, height), squeeze=False)
    figure.subplots_adjust(left=0.1, right=0.99, bottom=0.01, top=1 - 0.45 / height, hspace=0.68, wspace=0.2)
    for block, (name, (fc, cnn)) in enumerate(shown.items()):
        test = data[name]
        for offset, (chosen, what) in enumerate(zip(error_indices(test.y_test, fc, cnn), ("FC wrong,\nCNN right", "both wrong"))):
            row = axes[2 * block + offset]
            for place, axis in enumerate(row):
                _bare(axis)
                if place >= len(chosen):
                    axis.axis("off")
                    continue
                index = int(chosen[place])
                _bare(axis, test.x_test[index])
                true, fc_says, cnn_says = (test.class_names[int(k[index])] for k in (test.y_test, fc, cnn))
                title = f"true {true}\nFC {fc_says}\nCNN {cnn_says}"
                axis.set_title(title, fontsize=7, linespacing=1.05, pad=2)
            row[0].axis("on"), _bare(row[0])
            row[0].set_ylabel(f"{runs[name].title}\n{what}", fontsize=7)
    _drew_seed0(figure, shown, (identities.FC, "cnn"))
    return figure


# 4. What the first-layer kernels respond to


def strongest_kernels(kernels: np.ndarray, count: int = SHOWN_KERNELS) -> list[int]:
    """The `count` kernels (k×k×1×filters) with the largest L2 norm, largest first (ties by index)."""
    norms = np.linalg.norm(kernels.reshape(-1, kernels.shape[-1]), axis=0)
    return [int(i) for i in np.argsort(-norms, kind="stable")[:count]]


def kernel_responses(runs, data):
    shown = [name for name in runs if name in data and _model_file(data, name) is not None]
    if not shown:
        return None
    plt = figure_style.style()
    height = 1.55 * len(shown)
    figure = plt.figure(figsize=(figure_style.WIDTH, height))
    outer = figure.add_gridspec(len(shown), 1, hspace=0.25, left=0.01, right=0.99, top=1 - 0.17 / height, bottom=0.01)
    for block, name in enumerate(shown):
        test, model = data[name], _load(_model_file(data, name))
        image = _scaled(np.asarray(test.x_test[0]))
        maps = _probe(model, ("conv",)).predict(image[np.newaxis, ..., np.newaxis], verbose=0)[0]
        kernels = np.asarray(_first_conv(model).get_weights()[0])
        inner = outer[block].subgridspec(2, SHOWN_KERNELS + 1, hspace=0.08, wspace=0.1)
        axis = _bare(figure.add_subplot(inner[:, 0]), image, high=1.0)
        axis.set_title(f"{runs[name].title}\ntest image 0", fontsize=7)
        for place, channel in enumerate(strongest_kernels(kernels), start=1):
            kernel = kernels[:, :, 0, channel]
            limit = float(np.abs(kernel).max()) or 1.0
            _bare(figure.add_subplot(inner[0, place]), kernel, "RdBu_r", -limit, limit).set_title(f"kernel {channel}", fontsize=7)
            _bare(figure.add_subplot(inner[1, place]), maps[..., channel], "magma")
    _drew_seed0(figure, shown, ("cnn",))
    return figure


EXPLAIN_FIGURES = (
    figures.Figure(
        "forest",
        "Every difference between two configurations' mean accuracies over seeds, on each dataset: the difference in points "
        "of accuracy (dot) and its 95% Welch interval (line), an exploratory estimate. Filled dots and thick lines mark "
        "intervals that exclude zero, hollow dots intervals that hold it; the run's decisions are the primary tests' (Table "
        "4). The axis is linear within ±2 points and logarithmic beyond; the dashed line marks no difference.",
        forest,
    ),
    figures.Figure(
        "architecture",
        "The two networks of each dataset layer by layer, as the records configure them: each box gives the layer, "
        "its output shape (bold) and its parameters, weights and biases (grey; none for input, pooling and flatten). "
        "Pooling is 2×2; 'same' padding keeps a convolution's output at its input's size, 'valid' shrinks it by the "
        "kernel's size less one.",
        architecture,
    ),
    figures.Figure(
        "feature_maps_shift",
        f"The CNN trained with seed 0 on one test image (the first Trouser of Fashion-MNIST, the first 7 of MNIST) and on "
        f"the same image moved {SHIFT} pixels right with zero fill. Top: the image and the {SHOWN_MAPS} first-layer feature "
        f"maps most active on it, each map on one colour scale for both images: the maps move with the image. Bottom: each "
        f"value of the vector the dense layer reads, original against shifted (on the dashed line if it stayed the same); "
        f"above it, the share of the map values with a counterpart that equal the original's exactly, the vector's change "
        f"relative to its length (‖Δ‖/‖v‖) and the two vectors' correlation.",
        feature_maps_shift,
    ),
    figures.Figure(
        "example_errors",
        f"Test images that the FC network trained with seed 0 gets wrong and the CNN trained with seed 0 gets right "
        f"(upper row of each dataset), and test images both get wrong (lower row): the first {ERRORS_SHOWN} of each "
        f"kind in test order, each titled with its true class and the two networks' predictions.",
        example_errors,
    ),
    figures.Figure(
        "kernel_responses",
        f"The {SHOWN_KERNELS} first-layer kernels with the largest weight norm of the CNN trained with seed 0, largest "
        f"first: each 3×3 kernel (red positive, blue negative, on its own symmetric scale) above its response, the "
        f"feature map after ReLU, to the first test image (left; brighter is stronger, each map on its own scale).",
        kernel_responses,
    ),
)
