"""Numbers behind the report: dataset statistics, metrics, and summaries of result records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from convlab import config, data, records


def class_balance(dataset: data.Dataset) -> pd.DataFrame:
    """Images per class in the training and test splits."""
    counts = {
        split: np.bincount(labels, minlength=dataset.num_classes)
        for split, labels in (("train", dataset.y_train), ("test", dataset.y_test))
    }
    return pd.DataFrame(counts, index=pd.Index(dataset.class_names, name="class"))


def mean_images(images: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The average image of each class, in [0, 1] (num_classes×28×28)."""
    return np.stack([images[labels == label].mean(axis=0) / 255.0 for label in range(num_classes)])


def normalisation_check(dataset: data.Dataset) -> pd.DataFrame:
    """dtype, range, mean and standard deviation of the training pixels before and after scaling."""
    raw = dataset.x_train
    scaled = data.scale_images(raw)
    rows = {
        "raw (uint8)": [str(raw.dtype), int(raw.min()), int(raw.max()), float(raw.mean()), float(raw.std())],
        "scaled (float32)": [
            str(scaled.dtype),
            float(scaled.min()),
            float(scaled.max()),
            float(scaled.mean()),
            float(scaled.std()),
        ],
    }
    return pd.DataFrame(rows, index=["dtype", "min", "max", "mean", "std"]).T


def reference_statistics(dataset: data.Dataset, normalisation: pd.DataFrame) -> pd.DataFrame:
    """Measured mean and std of the scaled training pixels next to the published values."""
    mean, std = data.SPECS[dataset.name].reference_mean_std
    measured = normalisation.loc["scaled (float32)"]
    return pd.DataFrame(
        {"measured": [measured["mean"], measured["std"]], "published": [mean, std]}, index=["mean", "std"]
    ).assign(difference=lambda frame: frame["measured"] - frame["published"])


def neighbour_correlation(images: np.ndarray, max_distance: int = 14, sample: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Pearson correlation between pixel intensities `d` pixels apart (horizontally and vertically).

    Pixels of natural images are strongly correlated with their neighbours and
    much less with distant pixels: the locality that convolution assumes.
    """
    rng = np.random.default_rng(seed)
    chosen = images[rng.choice(len(images), min(sample, len(images)), replace=False)].astype(np.float64)
    rows = []
    for distance in range(1, max_distance + 1):
        for direction, (left, right) in {
            "horizontal": (chosen[:, :, :-distance], chosen[:, :, distance:]),
            "vertical": (chosen[:, :-distance, :], chosen[:, distance:, :]),
        }.items():
            rows.append({"distance": distance, "direction": direction, "correlation": _pearson(left.ravel(), right.ravel())})
    return pd.DataFrame(rows)


def _pearson(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.corrcoef(first, second)[0, 1])


def confusion_matrix(true_labels: np.ndarray, predicted_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_labels), np.asarray(predicted_labels)), 1)
    return matrix


def per_class_accuracy(true_labels: np.ndarray, predicted_labels: np.ndarray, class_names: tuple[str, ...]) -> pd.Series:
    """Share of each class's test images that were classified correctly."""
    matrix = confusion_matrix(true_labels, predicted_labels, len(class_names))
    return pd.Series(np.diag(matrix) / matrix.sum(axis=1), index=pd.Index(class_names, name="class"))


def record_predictions(record: dict) -> np.ndarray:
    return np.asarray(record["test"]["predictions"])


def summarize(records: list[dict], label: str | None = None) -> dict:
    """One row of a comparison table: cost and test metrics, mean and std over seeds."""
    accuracy = mean_confidence_interval(accuracies(records))
    loss = np.array([record["test"]["loss"] for record in records])
    first = records[0]
    return {
        "model": label or first["model"]["name"],
        "parameters": first["model"]["parameters"],
        "MACs per image": first["macs_per_image"],
        "seeds": len(records),
        "test accuracy (%)": accuracy["mean"],
        "accuracy std (%)": accuracy["std"],
        "test loss": loss.mean(),
        "epochs run": np.mean([record["epochs_run"] for record in records]),
        "best epoch": np.mean([record["best_epoch"] for record in records]),
        "train time (s)": np.mean([record["timing"]["train_seconds"] for record in records]),
        "s per epoch": np.mean([record["timing"]["seconds_per_epoch"] for record in records]),
        "inference (ms/image)": np.mean([record["timing"]["inference_ms_per_image"] for record in records]),
    }


def comparison_table(groups: dict[str, list[dict]]) -> pd.DataFrame:
    """Models side by side, one row each, from their result records (rounded for display)."""
    table = pd.DataFrame([summarize(group, label) for label, group in groups.items()]).set_index("model")
    return table.round(
        {
            "test accuracy (%)": 2,
            "accuracy std (%)": 2,
            "test loss": 4,
            "epochs run": 1,
            "best epoch": 1,
            "train time (s)": 1,
            "s per epoch": 1,
            "inference (ms/image)": 3,
        }
    )


def history_frame(record: dict) -> pd.DataFrame:
    """Per-epoch training and validation metrics of one run."""
    history = record["history"]
    frame = pd.DataFrame({key: history[key] for key in ("loss", "val_loss", "accuracy", "val_accuracy")})
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def array_summary(dataset: data.Dataset) -> pd.DataFrame:
    """Shape, dtype and value range of every split, as loaded."""
    rows = {}
    for split in data.SPLITS:
        array = getattr(dataset, split)
        rows[split] = {
            "shape": "×".join(map(str, array.shape)),
            "dtype": str(array.dtype),
            "min": int(array.min()),
            "max": int(array.max()),
        }
    return pd.DataFrame(rows).T


def pixel_std_map(images: np.ndarray) -> np.ndarray:
    """Standard deviation of each pixel position over the images, in [0, 1] units."""
    return images.std(axis=0) / 255.0


def top_confusions(matrix: np.ndarray, class_names: tuple[str, ...], count: int = 5) -> pd.DataFrame:
    """The most frequent (true, predicted) mistakes."""
    errors = matrix.copy()
    np.fill_diagonal(errors, 0)
    order = np.argsort(errors, axis=None)[::-1][:count]
    rows = [np.unravel_index(index, errors.shape) for index in order]
    return pd.DataFrame(
        [
            {"true class": class_names[true], "predicted as": class_names[predicted], "test images": int(errors[true, predicted])}
            for true, predicted in rows
        ]
    )


def overfitting_summary(record: dict) -> dict:
    """How far validation loss rose after its minimum, and which epoch's weights were kept."""
    history = record["history"]
    best = record["best_epoch"]
    return {
        "epochs run": record["epochs_run"],
        "restored epoch": best,
        "validation loss at restored epoch": history["val_loss"][best - 1],
        "validation loss at last epoch": history["val_loss"][-1],
        "training loss at last epoch": history["loss"][-1],
    }


def gain(baseline: list[dict], challenger: list[dict]) -> dict:
    """Accuracy gain and error-rate ratio of `challenger` over `baseline` (means over the seeds both have, if any)."""
    common = {record["seed"] for record in baseline} & {record["seed"] for record in challenger}
    if common:
        baseline = [record for record in baseline if record["seed"] in common]
        challenger = [record for record in challenger if record["seed"] in common]
    base = np.mean([record["test"]["accuracy"] for record in baseline])
    new = np.mean([record["test"]["accuracy"] for record in challenger])
    return {
        "accuracy gain (points)": 100 * (new - base),
        "baseline error (%)": 100 * (1 - base),
        "challenger error (%)": 100 * (1 - new),
        "error ratio": (1 - new) / (1 - base),
        "parameter ratio": challenger[0]["model"]["parameters"] / baseline[0]["model"]["parameters"],
        "MAC ratio": challenger[0]["macs_per_image"] / baseline[0]["macs_per_image"],
        "training time ratio": np.mean([r["timing"]["train_seconds"] for r in challenger])
        / np.mean([r["timing"]["train_seconds"] for r in baseline]),
    }


def describe_gain(dataset_name: str, figures: dict) -> str:
    """One paragraph, in Markdown, stating the measured gain of the CNN over the baseline."""
    return (
        f"On **{dataset_name}** the CNN reaches {100 - figures['challenger error (%)']:.2f}% test accuracy against "
        f"{100 - figures['baseline error (%)']:.2f}% for the fully connected baseline, a gain of "
        f"{figures['accuracy gain (points)']:+.2f} points: its test error is {figures['error ratio']:.2f}× the "
        f"baseline's ({figures['challenger error (%)']:.2f}% vs {figures['baseline error (%)']:.2f}%). It uses "
        f"{figures['parameter ratio']:.2f}× the parameters, but {figures['MAC ratio']:.1f}× the multiply-accumulates "
        f"per image, and its training took {figures['training time ratio']:.1f}× as long."
    )


def weights_by_pixel_variation(kernel: np.ndarray, spread: np.ndarray, threshold: float = 0.05) -> pd.DataFrame:
    """First-layer weights grouped by how much their input pixel varies across the training images.

    `kernel` is the first dense layer's (784, units) weight matrix, `spread` the
    per-pixel standard deviation in scaled units. A pixel that is zero in every
    image gives its weights a zero gradient: they never move from initialisation.
    """
    flat_spread = spread.ravel()
    groups = {
        "constant (never varies)": flat_spread == 0,
        f"near-constant (std < {threshold})": (flat_spread > 0) & (flat_spread < threshold),
        f"varying (std ≥ {threshold})": flat_spread >= threshold,
    }
    rows = []
    for label, mask in groups.items():
        rows.append(
            {
                "pixel group": label,
                "pixels": int(mask.sum()),
                "first-layer parameters": int(mask.sum() * kernel.shape[1]),
                "share of first-layer weights (%)": 100 * mask.mean(),
                "mean |weight|": float(np.abs(kernel[mask]).mean()) if mask.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("pixel group")


def describe_frozen_weights(table: pd.DataFrame, units: int, threshold: float = 0.05) -> str:
    """A sentence on the first-layer weights that can never learn (their pixel is constant)."""
    constant = table.iloc[0]
    near = table.iloc[1]
    total = 784 * units
    return (
        f"{int(constant['pixels'])} of the 784 pixels never vary across the training images, so "
        f"{int(constant['first-layer parameters']):,} of the first layer's {total:,} input weights "
        f"({100 * constant['first-layer parameters'] / total:.1f}%) receive no gradient and keep their initial random "
        f"values; another {int(near['pixels'])} pixels are nearly constant (std < {threshold})."
    )


def describe_per_class_gain(difference: pd.Series, count: int = 3) -> str:
    """A sentence naming the classes that gain most and least (difference in accuracy, 0–1 scale)."""
    ordered = difference.sort_values()

    def listing(items: pd.Series) -> str:
        return ", ".join(f"{name} ({100 * value:+.1f} points)" for name, value in items.items())

    return f"Largest gains: {listing(ordered[::-1][:count])}. Smallest: {listing(ordered[:count])}."


def mean_confidence_interval(values: list[float] | np.ndarray, confidence: float = 0.95) -> dict:
    """Mean, sample standard deviation and the Student-t confidence interval of the mean."""
    from scipy import stats

    sample = np.asarray(values, dtype=float)
    mean = float(sample.mean())
    if len(sample) < 2:
        return {"n": len(sample), "mean": mean, "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    std = float(sample.std(ddof=1))
    half_width = float(stats.t.ppf(0.5 + confidence / 2, df=len(sample) - 1) * std / np.sqrt(len(sample)))
    return {"n": len(sample), "mean": mean, "std": std, "ci_low": mean - half_width, "ci_high": mean + half_width}


def welch_test(first: list[float] | np.ndarray, second: list[float] | np.ndarray) -> dict:
    """Welch's t-test (unequal variances) of two samples' means: difference, t statistic, two-sided p-value."""
    from scipy import stats

    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    result = stats.ttest_ind(first, second, equal_var=False)
    return {"difference": float(first.mean() - second.mean()), "t": float(result.statistic), "p_value": float(result.pvalue)}


def bootstrap_difference_interval(
    first: list[float] | np.ndarray,
    second: list[float] | np.ndarray,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(first) − mean(second), resampling each group independently."""
    rng = np.random.default_rng(seed)
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    draws_first = rng.choice(first, size=(resamples, len(first)), replace=True).mean(axis=1)
    draws_second = rng.choice(second, size=(resamples, len(second)), replace=True).mean(axis=1)
    low, high = np.quantile(draws_first - draws_second, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control for several comparisons)."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def accuracies(records: list[dict]) -> np.ndarray:
    """Test accuracies of a group of runs, in percent."""
    return 100 * np.array([record["test"]["accuracy"] for record in records])


def sweep_table(groups: dict[str, list[dict]], confidence: float = 0.95) -> pd.DataFrame:
    """Cost and accuracy (mean ± std and t interval over seeds, in %) of each configuration."""
    rows = []
    for label, group in groups.items():
        summary = mean_confidence_interval(accuracies(group), confidence)
        rows.append(
            {
                "configuration": label,
                "parameters": group[0]["model"]["parameters"],
                "MACs per image": group[0]["macs_per_image"],
                "s per epoch": np.mean([record["timing"]["seconds_per_epoch"] for record in group]),
                "inference (ms/image)": np.mean([record["timing"]["inference_ms_per_image"] for record in group]),
                "seeds": summary["n"],
                "accuracy mean (%)": summary["mean"],
                "accuracy std (%)": summary["std"],
                f"{confidence:.0%} CI low (%)": summary["ci_low"],
                f"{confidence:.0%} CI high (%)": summary["ci_high"],
                "accuracy ± std": f"{summary['mean']:.2f} ± {summary['std']:.2f}",
            }
        )
    return (
        pd.DataFrame(rows)
        .set_index("configuration")
        .round(
            {
                "s per epoch": 1,
                "inference (ms/image)": 3,
                "accuracy mean (%)": 2,
                "accuracy std (%)": 2,
                f"{confidence:.0%} CI low (%)": 2,
                f"{confidence:.0%} CI high (%)": 2,
            }
        )
    )


def pairwise_comparisons(groups: dict[str, list[dict]], confidence: float = 0.95) -> pd.DataFrame:
    """Every pair of configurations: accuracy difference, its bootstrap interval, Welch p-value and Holm-adjusted p."""
    labels = list(groups)
    rows = []
    for index, first in enumerate(labels):
        for second in labels[index + 1 :]:
            a, b = accuracies(groups[first]), accuracies(groups[second])
            low, high = bootstrap_difference_interval(a, b, confidence)
            test = welch_test(a, b) if min(len(a), len(b)) > 1 else {"p_value": float("nan")}
            rows.append(
                {
                    "comparison": f"{first} − {second}",
                    "difference (points)": a.mean() - b.mean(),
                    f"bootstrap {confidence:.0%} CI low": low,
                    f"bootstrap {confidence:.0%} CI high": high,
                    "Welch p": test["p_value"],
                }
            )
    table = pd.DataFrame(rows).set_index("comparison")
    valid = table["Welch p"].notna()
    table["Holm-adjusted p"] = np.nan
    if valid.any():
        table.loc[valid, "Holm-adjusted p"] = holm_adjust(table.loc[valid, "Welch p"].tolist())
    return table.round(4)


def sweep_verdict(table: pd.DataFrame, comparisons: pd.DataFrame, alpha: float = 0.05) -> str:
    """One sentence: are the configurations' accuracies distinguishable from seed-to-seed noise?"""
    best = table["accuracy mean (%)"].idxmax()
    spread = table["accuracy mean (%)"].max() - table["accuracy mean (%)"].min()
    if comparisons["Holm-adjusted p"].isna().all():
        return (
            f"With one seed per configuration there is no estimate of seed noise: {best} scores highest, "
            f"but the {spread:.2f}-point spread cannot be judged. Run with several seeds."
        )
    significant = comparisons[comparisons["Holm-adjusted p"] < alpha]
    noise = table["accuracy std (%)"].mean()
    if significant.empty:
        return (
            f"No difference is distinguishable from seed noise: the means span {spread:.2f} points, against a "
            f"seed-to-seed standard deviation of about {noise:.2f} points, and no pair reaches Holm-adjusted "
            f"p < {alpha} ({best} has the highest mean, which is not evidence that it is better)."
        )
    pairs = "; ".join(
        f"{name} ({row['difference (points)']:+.2f} points, p = {row['Holm-adjusted p']:.3f})"
        for name, row in significant.iterrows()
    )
    return (
        f"Some differences exceed seed noise (Holm-adjusted p < {alpha}): {pairs}. {best} has the highest mean; "
        f"the seed-to-seed standard deviation is about {noise:.2f} points."
    )


def fixed_and_missed(true_labels: np.ndarray, baseline: np.ndarray, challenger: np.ndarray) -> dict[str, np.ndarray]:
    """Test indices the challenger fixes (baseline wrong, challenger right), breaks, and that both miss."""
    true_labels = np.asarray(true_labels)
    base_right, new_right = baseline == true_labels, challenger == true_labels
    return {
        "fixed": np.flatnonzero(~base_right & new_right),
        "broken": np.flatnonzero(base_right & ~new_right),
        "both wrong": np.flatnonzero(~base_right & ~new_right),
    }


def describe_costs(table: pd.DataFrame) -> str:
    """How parameters, MACs and epoch time change relative to the first configuration of a sweep table."""
    reference = table.iloc[0]
    parts = []
    for label, row in table.iloc[1:].iterrows():
        parts.append(
            f"{label} changes the parameter count by {100 * (row['parameters'] / reference['parameters'] - 1):+.1f}%, "
            f"the MACs per image by {100 * (row['MACs per image'] / reference['MACs per image'] - 1):+.1f}% and the "
            f"time per epoch by {100 * (row['s per epoch'] / reference['s per epoch'] - 1):+.1f}%"
        )
    return f"Relative to {table.index[0]}: " + "; ".join(parts) + "."


def load_kernel_sweep(results_dir: str | Path, dataset: str, needed_by: str) -> dict[str, list[dict]]:
    """The first-layer kernel sweep's records, by kernel label, for the kernel sizes that were run."""
    from convlab import models  # imports Keras: kept out of the notebooks that do not train

    groups = {}
    for size in range(1, 29, 2):
        try:
            name = models.cnn_config(dataset, size).name
        except ValueError:  # a kernel this large does not fit this dataset's architecture
            continue
        if any(Path(results_dir).glob(f"{name}-seed*.json")):
            groups[f"{size}×{size}"] = records.load_records(results_dir, name, needed_by=needed_by)
    if len(groups) < 2:
        raise records.MissingResultError(
            f"{needed_by} needs the kernel-size sweep's records in {results_dir}. Run 04_kernel_size_sweep first."
        )
    return groups


# --- Inductive-bias probes: translation, permutation, efficiency, two datasets ---------------------------------------


def shift_curve(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of accuracy (%) per model, direction and shift, from `probes.translation_frame`."""
    return frame.groupby(["model", "direction", "shift"], sort=False)["accuracy"].agg(["mean", "std", "count"]).reset_index()


def shift_table(frame: pd.DataFrame, shifts: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Accuracy "mean ± std" (%) per direction and model (rows) at the chosen shifts (default: the even ones)."""
    shifts = shifts or tuple(shift for shift in sorted(frame["shift"].unique()) if shift % 2 == 0)
    curve = shift_curve(frame)
    curve = curve[curve["shift"].isin(shifts)]
    curve["accuracy (%)"] = [
        f"{mean:.2f}" if count < 2 else f"{mean:.2f} ± {std:.2f}"
        for mean, std, count in zip(curve["mean"], curve["std"], curve["count"])
    ]
    table = curve.pivot(index=["direction", "model"], columns="shift", values="accuracy (%)")
    table.columns = [f"shift {shift} px" for shift in table.columns]
    order = {name: index for index, name in enumerate(dict.fromkeys(frame["model"]))}
    directions = {name: index for index, name in enumerate(dict.fromkeys(frame["direction"]))}
    return table.sort_index(key=lambda level: level.map(directions if level.name == "direction" else order))


def mean_shift_accuracy(frame: pd.DataFrame, model: str, shift: int, direction: str = "horizontal") -> float:
    """Mean accuracy (%) over seeds of one model at one shift."""
    rows = frame[(frame["model"] == model) & (frame["shift"] == shift) & (frame["direction"] == direction)]
    if rows.empty:
        raise KeyError(f"No translation result for {model!r} at a {direction} shift of {shift}.")
    return float(rows["accuracy"].mean())


def describe_translation(frame: pd.DataFrame, augmentation_shift: int, direction: str = "horizontal") -> str:
    """What the accuracy-versus-shift curves show, as Markdown bullet points with the measured figures."""
    shifts = sorted(frame["shift"].unique())
    largest = max(shifts)
    mid = min(shifts, key=lambda shift: abs(shift - 4))

    def at(model: str, shift: int, where: str = direction) -> float:
        return mean_shift_accuracy(frame, model, shift, where)

    def retained(model: str, shift: int, where: str = direction) -> float:
        return 100 * at(model, shift, where) / at(model, 0, where)

    lines = []
    fc, cnn = at("FC", 0), at("CNN", 0)
    lines.append(
        f"Unshifted, the CNN scores {cnn:.2f}% and the FC baseline {fc:.2f}%. After a {mid}-pixel {direction} shift the "
        f"CNN keeps {retained('CNN', mid):.0f}% of its accuracy ({at('CNN', mid):.2f}%) and the FC baseline "
        f"{retained('FC', mid):.0f}% ({at('FC', mid):.2f}%); at {largest} pixels, {at('CNN', largest):.2f}% against "
        f"{at('FC', largest):.2f}%."
    )
    one = 1 if 1 in shifts else shifts[1]
    drop_one = at("CNN", 0) - at("CNN", one)
    drop_mid = at("CNN", 0) - at("CNN", mid)
    lines.append(
        f"The CNN is **not** translation invariant: one pixel costs it {drop_one:.2f} points, {mid} pixels "
        f"{drop_mid:.2f} points. Its two 2×2 max-poolings absorb only displacements that stay inside a pooling "
        f"window, and the dense layer after the flatten reads each feature at a fixed position, so a larger shift "
        f"moves the features onto weights that never saw them."
    )
    if "CNN, GAP head" in set(frame["model"]):
        gap_retained, cnn_retained = retained("CNN, GAP head", mid), retained("CNN", mid)
        verdict = (
            "so much of the CNN's sensitivity to position sits in its flatten-and-dense head, not in the convolutions"
            if gap_retained > cnn_retained + 5
            else "so replacing the head alone does not remove the sensitivity to position"
        )
        lines.append(
            f"With global average pooling instead of flatten + dense, the same convolutions keep "
            f"{gap_retained:.0f}% of their unshifted accuracy at {mid} pixels (against {cnn_retained:.0f}% with "
            f"the flatten head), {verdict}. The convolutions themselves are equivariant: they move their feature "
            f"maps with the image, except where zero fill and the border cut the object. Unshifted, the GAP head "
            f"scores {at('CNN, GAP head', 0):.2f}% against {cnn:.2f}% for the flatten head."
        )
    augmented = [name for name in ("CNN, shift-augmented", "FC, shift-augmented") if name in set(frame["model"])]
    if augmented:
        inside = min(augmentation_shift, largest)
        parts = [
            f"{name} keeps {retained(name, inside):.0f}% at {inside} pixels and {retained(name, largest):.0f}% at {largest}"
            for name in augmented
        ]
        falls = largest > augmentation_shift and any(retained(name, largest) < retained(name, inside) - 5 for name in augmented)
        beyond = (
            " Beyond the trained range the curves fall again: the learned invariance covers the shifts the data showed, "
            "not translation in general."
            if falls
            else ""
        )
        lines.append(
            f"Training on images shifted at random by up to ±{augmentation_shift} pixels teaches the invariance "
            f"instead of building it in: " + "; ".join(parts) + "." + beyond
        )
    hardest = min(frame["direction"].unique(), key=lambda where: at("CNN", largest, where))
    lines.append(f"Diagonal shifts move the object along both axes at once; the {hardest} direction is the hardest for the CNN.")
    return "\n".join(f"- {line}" for line in lines)


def paired_effect(original: list[dict], changed: list[dict], confidence: float = 0.95) -> dict:
    """Accuracy of two groups of runs (mean ± std, %), their difference, its bootstrap interval and Welch's p."""
    a, b = accuracies(original), accuracies(changed)
    low, high = bootstrap_difference_interval(b, a, confidence)
    p_value = welch_test(b, a)["p_value"] if min(len(a), len(b)) > 1 else float("nan")
    return {
        "original (%)": f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if len(a) > 1 else f"{a.mean():.2f}",
        "changed (%)": f"{b.mean():.2f} ± {b.std(ddof=1):.2f}" if len(b) > 1 else f"{b.mean():.2f}",
        "difference (points)": float(b.mean() - a.mean()),
        f"bootstrap {confidence:.0%} CI low": low,
        f"bootstrap {confidence:.0%} CI high": high,
        "Welch p": p_value,
        "seeds": f"{len(a)} / {len(b)}",
    }


def permutation_effects(groups: dict[str, list[dict]]) -> pd.DataFrame:
    """For FC and CNN: accuracy on original and on permuted pixels, the change and whether it exceeds seed noise."""
    rows = [{"model": name} | paired_effect(groups[name], groups[f"{name}, permuted"]) for name in ("FC", "CNN")]
    rows.append({"model": "CNN − FC, permuted"} | paired_effect(groups["FC, permuted"], groups["CNN, permuted"]))
    table = pd.DataFrame(rows).set_index("model")
    table = table.rename(columns={"original (%)": "original pixels (%)", "changed (%)": "permuted pixels (%)"}).round(4)
    table.loc["CNN − FC, permuted", ["original pixels (%)", "permuted pixels (%)"]] = "—"  # the rows above hold them
    return table


def _within_noise(row: pd.Series) -> bool:
    return bool(row["bootstrap 95% CI low"] <= 0 <= row["bootstrap 95% CI high"]) and not (row["Welch p"] < 0.05)


def describe_permutation(effects: pd.DataFrame, groups: dict[str, list[dict]]) -> str:
    """The permutation experiment's answer in Markdown, with its figures."""
    fc, cnn, after = effects.loc["FC"], effects.loc["CNN"], effects.loc["CNN − FC, permuted"]
    if len(groups["FC"]) < 2:
        return "With one seed per model there is no estimate of seed noise; run with several seeds to judge the changes."
    fc_text = (
        f"The FC baseline does not care: shuffling the pixels changes its accuracy by {fc['difference (points)']:+.2f} "
        f"points, inside seed noise (bootstrap interval {fc['bootstrap 95% CI low']:+.2f} to "
        f"{fc['bootstrap 95% CI high']:+.2f})."
        if _within_noise(fc)
        else f"The FC baseline's accuracy moves by {fc['difference (points)']:+.2f} points (interval "
        f"{fc['bootstrap 95% CI low']:+.2f} to {fc['bootstrap 95% CI high']:+.2f}), more than seed noise alone explains: "
        "its dense layer is blind to pixel order, so the change comes from training dynamics (the seed draws the same "
        "initial weights for differently ordered inputs)."
    )
    clean_gain = accuracies(groups["CNN"]).mean() - accuracies(groups["FC"]).mean()
    cnn_text = (
        f"The CNN loses {-cnn['difference (points)']:.2f} points (interval {cnn['bootstrap 95% CI low']:+.2f} to "
        f"{cnn['bootstrap 95% CI high']:+.2f}). On original pixels it beat the FC baseline by {clean_gain:+.2f} points; "
        f"on permuted pixels the difference is {after['difference (points)']:+.2f} points (interval "
        f"{after['bootstrap 95% CI low']:+.2f} to {after['bootstrap 95% CI high']:+.2f}), "
        + (
            "so it now trails the FC baseline: on shuffled pixels its local windows and its pooling no longer match "
            "any structure in the data, and the prior that helped on images costs accuracy instead."
            if after["bootstrap 95% CI high"] < 0
            else "so its advantage is gone: it came from the spatial structure, which the permutation destroys while "
            "keeping every pixel's information."
            if after["difference (points)"] < clean_gain / 2
            else "so part of its advantage survives the shuffle."
        )
    )
    return f"- {fc_text}\n- {cnn_text}"


def settings_effects(chosen: dict[str, list[dict]], reference: dict[str, list[dict]]) -> pd.DataFrame:
    """Each model under the run's training settings against the reference settings, and the CNN's gain under both.

    `chosen` and `reference` map "FC baseline" and "CNN" to runs with the same seeds. The gain row
    compares the per-seed gains (CNN − FC of the same seed) under the two settings.
    """
    rows = [{"quantity": f"{name} accuracy"} | paired_effect(reference[name], chosen[name]) for name in ("FC baseline", "CNN")]
    gains = {
        label: accuracies(runs["CNN"]) - accuracies(runs["FC baseline"]) for label, runs in (("ref", reference), ("run", chosen))
    }
    low, high = bootstrap_difference_interval(gains["run"], gains["ref"])
    rows.append(
        {
            "quantity": "CNN − FC gain",
            "original (%)": f"{gains['ref'].mean():+.2f} ± {gains['ref'].std(ddof=1):.2f}",
            "changed (%)": f"{gains['run'].mean():+.2f} ± {gains['run'].std(ddof=1):.2f}",
            "difference (points)": float(gains["run"].mean() - gains["ref"].mean()),
            "bootstrap 95% CI low": low,
            "bootstrap 95% CI high": high,
            "Welch p": welch_test(gains["run"], gains["ref"])["p_value"],
            "seeds": f"{len(gains['ref'])} / {len(gains['run'])}",
        }
    )
    table = pd.DataFrame(rows).set_index("quantity")
    return table.rename(columns={"original (%)": "reference settings", "changed (%)": "run settings"}).round(4)


def describe_settings_check(effects: pd.DataFrame | None, profile: str, reference_profile: str = "paper") -> str:
    """Whether the run's training settings change the headline result, in Markdown (or how to check it)."""
    if profile == reference_profile:
        return f"This run uses the {reference_profile!r} profile's settings itself: there is nothing to compare."
    if effects is None:
        return (
            f"The check against the {reference_profile!r} profile's training settings is not stored for these seeds. "
            "`make report NOTEBOOKS=03_cnn CHECK_SETTINGS=1` trains the FC baseline and the CNN with them "
            "(same seeds, kept apart under `results/reference/`) and fills in this section."
        )
    lines = []
    for quantity, row in effects.iterrows():
        verdict = "within seed noise" if _within_noise(row) else "more than seed noise"
        lines.append(
            f"- {quantity}: {row['reference settings']} with the {reference_profile!r} settings, {row['run settings']} "
            f"with this run's ({profile!r}); change {row['difference (points)']:+.2f} points, bootstrap 95% interval "
            f"{row['bootstrap 95% CI low']:+.2f} to {row['bootstrap 95% CI high']:+.2f}, Welch p {row['Welch p']:.2f}: {verdict}."
        )
    gain = effects.loc["CNN − FC gain"]
    same_sign = gain["reference settings"].startswith("+") == gain["run settings"].startswith("+")
    lines.append(
        "The conclusion does not depend on the settings: the CNN's advantage has the same sign under both and its size "
        "moves by less than seed noise."
        if same_sign and _within_noise(gain)
        else "The settings matter here: read this run's figures with the reference figures beside them."
    )
    return "\n".join(lines)


def efficiency_table(groups: dict[str, list[dict]], latencies: dict[str, dict]) -> pd.DataFrame:
    """One row per trained model: cost (parameters, MACs, training time, latency) and test accuracy over its seeds."""
    rows = []
    for name, group in groups.items():
        summary = summarize(group, model_label(group[0]["model"]))
        latency = latencies[name]["result"]
        rows.append(
            {key: summary[key] for key in ("model", "parameters", "MACs per image", "seeds", "train time (s)", "epochs run")}
            | {
                "name": name,
                "accuracy mean (%)": summary["test accuracy (%)"],
                "accuracy std (%)": summary["accuracy std (%)"],
                "s per epoch": summary["s per epoch"],
                "latency p50 (ms)": latency["single_p50_ms"],
                "latency p99 (ms)": latency["single_p99_ms"],
                "throughput (images/s)": latency["batch_images_per_second"],
            }
        )
    table = pd.DataFrame(rows).set_index("model").sort_values("MACs per image")
    table["Pareto (MACs)"] = pareto_mask(table["MACs per image"], table["accuracy mean (%)"])
    table["Pareto (parameters)"] = pareto_mask(table["parameters"], table["accuracy mean (%)"])
    return table.round(
        {
            "accuracy mean (%)": 2,
            "accuracy std (%)": 2,
            "train time (s)": 1,
            "epochs run": 1,
            "s per epoch": 1,
            "latency p50 (ms)": 3,
            "latency p99 (ms)": 3,
            "throughput (images/s)": 0,
        }
    )


def pareto_mask(cost: pd.Series, accuracy: pd.Series) -> pd.Series:
    """True where no other model is at least as accurate for less cost (or more accurate for the same cost)."""
    values = list(zip(cost, accuracy))
    return pd.Series(
        [not any((c <= ci and a >= ai) and (c < ci or a > ai) for c, a in values) for ci, ai in values],
        index=cost.index,
    )


def describe_efficiency(table: pd.DataFrame, dense_share: float) -> str:
    """Where counting parameters misleads, in Markdown bullet points computed from the efficiency table."""
    by_name = table.reset_index().set_index("name")
    lines = []
    if {"fc_baseline", "cnn"} <= set(by_name.index):
        fc, cnn = by_name.loc["fc_baseline"], by_name.loc["cnn"]
        lines.append(
            f"The CNN has {cnn['parameters'] / fc['parameters']:.1f}× the FC baseline's parameters, and "
            f"{dense_share:.0f}% of them sit in its dense layer, which reads the flattened feature maps. Its compute "
            f"tells another story: {cnn['MACs per image'] / fc['MACs per image']:.0f}× the multiply-accumulates per "
            f"image, {cnn['s per epoch'] / fc['s per epoch']:.1f}× the time per training epoch and "
            f"{cnn['latency p50 (ms)'] / fc['latency p50 (ms)']:.1f}× the single-image latency; almost all of it is "
            "spent in the convolutions, which hold few weights but apply each one at every position."
        )
    for name in ("cnn_k5", "cnn_k7"):
        if name in by_name.index and "cnn" in by_name.index:
            row, cnn = by_name.loc[name], by_name.loc["cnn"]
            lines.append(
                f"{row['model'] if 'model' in row else name}: {100 * (row['parameters'] / cnn['parameters'] - 1):+.1f}% "
                f"parameters but {100 * (row['MACs per image'] / cnn['MACs per image'] - 1):+.1f}% MACs and "
                f"{100 * (row['s per epoch'] / cnn['s per epoch'] - 1):+.1f}% time per epoch, for "
                f"{row['accuracy mean (%)'] - cnn['accuracy mean (%)']:+.2f} points of accuracy."
            )
    gap = next((name for name in by_name.index if name.endswith("_gap")), None)
    if gap and "cnn" in by_name.index:
        row, cnn = by_name.loc[gap], by_name.loc["cnn"]
        lines.append(
            f"The GAP-head CNN has {cnn['parameters'] / row['parameters']:.0f}× fewer parameters than the CNN, yet "
            f"{100 * row['MACs per image'] / cnn['MACs per image']:.0f}% of its MACs, and scores "
            f"{row['accuracy mean (%)'] - cnn['accuracy mean (%)']:+.2f} points: by parameters it would look "
            "nearly free, by compute it is not."
        )
    front = table[table["Pareto (MACs)"]].index.tolist()
    lines.append("On the accuracy–MACs frontier (no model more accurate for less compute): " + ", ".join(front) + ".")
    return "\n".join(f"- {line}" for line in lines)


def dataset_gain(baseline: list[dict], challenger: list[dict], confidence: float = 0.95, resamples: int = 10_000) -> dict:
    """CNN-over-FC gain in points and error ratio, each with a bootstrap interval over seeds, and Welch's p."""
    base, new = accuracies(baseline), accuracies(challenger)
    low, high = bootstrap_difference_interval(new, base, confidence, resamples)
    rng = np.random.default_rng(1)
    base_errors = 100 - rng.choice(base, size=(resamples, len(base))).mean(axis=1)
    new_errors = 100 - rng.choice(new, size=(resamples, len(new))).mean(axis=1)
    ratio_low, ratio_high = np.quantile(new_errors / base_errors, [(1 - confidence) / 2, (1 + confidence) / 2])
    return {
        "seeds": f"{len(base)} / {len(new)}",
        "FC accuracy (%)": f"{base.mean():.2f} ± {base.std(ddof=1):.2f}" if len(base) > 1 else f"{base.mean():.2f}",
        "CNN accuracy (%)": f"{new.mean():.2f} ± {new.std(ddof=1):.2f}" if len(new) > 1 else f"{new.mean():.2f}",
        "gain (points)": float(new.mean() - base.mean()),
        f"gain {confidence:.0%} CI low": low,
        f"gain {confidence:.0%} CI high": high,
        "Welch p": welch_test(new, base)["p_value"] if min(len(base), len(new)) > 1 else float("nan"),
        "FC error (%)": float(100 - base.mean()),
        "CNN error (%)": float(100 - new.mean()),
        "error ratio": float((100 - new.mean()) / (100 - base.mean())),
        f"error ratio {confidence:.0%} CI low": float(ratio_low),
        f"error ratio {confidence:.0%} CI high": float(ratio_high),
    }


def dataset_gain_table(pairs: dict[str, tuple[list[dict], list[dict]]]) -> pd.DataFrame:
    """`dataset_gain` for each dataset (name → (FC records, CNN records)), one row each."""
    return pd.DataFrame([{"dataset": name} | dataset_gain(*pair) for name, pair in pairs.items()]).set_index("dataset").round(4)


def describe_dataset_gains(table: pd.DataFrame, halving_dataset: str = "mnist") -> str:
    """What the two datasets' gains say, as Markdown bullet points with the measured figures."""

    def title(name: str) -> str:
        return config.DATASET_TITLES.get(name, name)

    lines = []
    for name, row in table.iterrows():
        lines.append(
            f"{title(name)}: the CNN gains {row['gain (points)']:+.2f} points (95% interval {row['gain 95% CI low']:+.2f} to "
            f"{row['gain 95% CI high']:+.2f}); its error is {row['error ratio']:.2f}× the FC baseline's "
            f"({row['CNN error (%)']:.2f}% against {row['FC error (%)']:.2f}%; interval {row['error ratio 95% CI low']:.2f} "
            f"to {row['error ratio 95% CI high']:.2f})."
        )
    if halving_dataset in table.index:
        row = table.loc[halving_dataset]
        low, high = row["error ratio 95% CI low"], row["error ratio 95% CI high"]
        if low <= 0.5 <= high:
            verdict = "is consistent with the measurement: 0.5 lies inside the interval of the error ratio"
        elif high < 0.5:
            verdict = f"understates it: the CNN removes more than half of the errors (ratio at most {high:.2f})"
        else:
            verdict = f"overstates it: the CNN removes less than half of the errors (ratio at least {low:.2f})"
        lines.append(f"The MNIST study's claim that the CNN halves the error {verdict}.")
    if len(table) >= 2:
        points = table["gain (points)"]
        ratio = table["error ratio"]
        lines.append(
            f"In points the gain is largest on {title(points.idxmax())} ({points.max():+.2f}), in relative terms on "
            f"{title(ratio.idxmin())} (error ratio {ratio.min():.2f}). Absolute points and error ratios rank the datasets "
            "differently when their baselines differ this much: on a nearly solved task a small absolute gain can "
            "be a large share of the errors that remain."
            if points.idxmax() != ratio.idxmin()
            else f"{title(points.idxmax())} benefits most both in points ({points.max():+.2f}) and as a share of the errors "
            f"(ratio {ratio.min():.2f})."
        )
    return "\n".join(f"- {line}" for line in lines)


def load_dataset_pairs(
    reports_dir: str | Path, datasets: tuple[str, ...], needed_by: str
) -> dict[str, tuple[list[dict], list[dict]]]:
    """Per dataset, the FC baseline's and the CNN's records over the seeds both have."""
    pairs = {}
    for name in datasets:
        results = Path(reports_dir) / name / "results"
        baseline = records.load_records(results, "fc_baseline", needed_by=needed_by, written_by=f"02_fc_baseline on {name}")
        challenger = records.load_records(results, "cnn", needed_by=needed_by, written_by=f"03_cnn on {name}")
        common = sorted({record["seed"] for record in baseline} & {record["seed"] for record in challenger})
        if not common:
            raise records.MissingResultError(
                f"{needed_by}: on {name} the FC baseline and the CNN share no seed. Run 07_translation on {name} "
                "(it trains both with the probe seeds)."
            )
        pairs[name] = ([r for r in baseline if r["seed"] in common], [r for r in challenger if r["seed"] in common])
    return pairs


def model_label(model: dict) -> str:
    """A readable label for a record's model configuration (e.g. "CNN 5×5/3×3, GAP head")."""
    if model["kind"] == "fc":
        label = "FC " + "→".join(str(units) for units in (784, *model["hidden_units"], model["num_classes"]))
    else:
        label = "CNN " + "/".join(f"{size}×{size}" for size in model["kernel_sizes"])
    if model.get("head", "flatten") != "flatten":
        label += f", {model['head'].upper()} head"
    if model.get("shift_augmentation"):
        label += f", shift-augmented ±{model['shift_augmentation']}"
    if model.get("pixel_permutation") is not None:
        label += ", permuted pixels"
    return label
