"""Data exploration and the models' errors: class balance, pixel statistics, confusion matrices, frozen first-layer weights."""

from __future__ import annotations

import numpy as np
import pandas as pd

from convlab.datasets import data

PIXELS = "pixels"  # columns of `weights_by_pixel_variation`
FIRST_LAYER_PARAMETERS = "first-layer parameters"


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


def reference_statistics_for_reading(table: pd.DataFrame) -> pd.DataFrame:
    """`reference_statistics` as text: the published values to their four decimals, the measured ones and the
    signed difference to five, so that a difference of a few hundred-thousandths is not printed as 4.06e-05."""
    return pd.DataFrame(
        {
            "measured": table["measured"].map("{:.5f}".format),
            "published": table["published"].map("{:.4f}".format),
            "difference": table["difference"].map("{:+.5f}".format),
        },
        index=table.index,
    )


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


def per_class_gain(per_class: pd.DataFrame, challenger: str, baseline: str) -> pd.DataFrame:
    """Per class: both models' test accuracy (%) and the challenger's lead in points, largest lead first
    (`per_class`: a column of `per_class_accuracy` per model)."""
    table = 100 * per_class[[baseline, challenger]]
    table[f"{challenger} − {baseline} (points)"] = table[challenger] - table[baseline]
    return table.sort_values(f"{challenger} − {baseline} (points)", ascending=False, kind="stable")


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


def fixed_and_missed(true_labels: np.ndarray, baseline: np.ndarray, challenger: np.ndarray) -> dict[str, np.ndarray]:
    """Test indices the challenger fixes (baseline wrong, challenger right), breaks, and that both miss."""
    true_labels = np.asarray(true_labels)
    base_right, new_right = baseline == true_labels, challenger == true_labels
    return {
        "fixed": np.flatnonzero(~base_right & new_right),
        "broken": np.flatnonzero(base_right & ~new_right),
        "both wrong": np.flatnonzero(~base_right & ~new_right),
    }


def one_of_each_outcome(true_labels: np.ndarray, baseline: np.ndarray, challenger: np.ndarray) -> dict[str, int]:
    """The first test index of each outcome that occurs: the challenger fixes it, breaks it, both miss it, both
    get it right (keyed by a short description)."""
    found = fixed_and_missed(true_labels, baseline, challenger)
    found["both right"] = np.flatnonzero((np.asarray(baseline) == true_labels) & (np.asarray(challenger) == true_labels))
    described = {"fixed": "CNN fixes", "broken": "CNN breaks", "both wrong": "both miss", "both right": "both right"}
    return {described[outcome]: int(indices[0]) for outcome, indices in found.items() if len(indices)}


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
                PIXELS: int(mask.sum()),
                FIRST_LAYER_PARAMETERS: int(mask.sum() * kernel.shape[1]),
                "share of first-layer weights (%)": 100 * mask.mean(),
                "mean |weight|": float(np.abs(kernel[mask]).mean()) if mask.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("pixel group")
