"""`eda`: the data exploration and error breakdowns, on tiny hand-made images and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from convlab.analysis import eda
from convlab.datasets import data


@pytest.fixture
def tiny() -> data.Dataset:
    """Three training images (black, white, black) and two test images, of three classes."""
    x_train = np.zeros((3, 28, 28), dtype=np.uint8)
    x_train[1] = 255
    x_test = np.full((2, 28, 28), 10, dtype=np.uint8)
    labels = (np.array([0, 0, 2], dtype=np.uint8), np.array([2, 1], dtype=np.uint8))
    return data.Dataset("fashion_mnist", x_train, labels[0], x_test, labels[1], ("a", "b", "c"), "hand-made")


def test_class_balance_counts_every_class(tiny):
    balance = eda.class_balance(tiny)
    assert balance.index.name == "class"
    assert balance.to_dict() == {"train": {"a": 2, "b": 0, "c": 1}, "test": {"a": 0, "b": 1, "c": 1}}


def test_array_summary(tiny):
    summary = eda.array_summary(tiny)
    assert summary.loc["x_train"].to_dict() == {"shape": "3×28×28", "dtype": "uint8", "min": 0, "max": 255}
    assert summary.loc["y_test"].to_dict() == {"shape": "2", "dtype": "uint8", "min": 1, "max": 2}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the mean of class b's no images
def test_mean_images_per_class(tiny):
    means = eda.mean_images(tiny.x_train, tiny.y_train, 3)
    assert means.shape == (3, 28, 28)
    assert np.all(means[0] == 0.5) and np.all(means[2] == 0.0) and np.isnan(means[1]).all(), "class b has no image"


def test_normalisation_check_and_reference_statistics(tiny):
    check = eda.normalisation_check(tiny)
    assert check.loc["raw (uint8)"].tolist() == ["uint8", 0, 255, 85.0, pytest.approx(120.208, abs=1e-3)]
    assert check.loc["scaled (float32)", "dtype"] == "float32" and check.loc["scaled (float32)", "max"] == 1.0
    assert check.loc["scaled (float32)", "mean"] == pytest.approx(1 / 3)
    reference = eda.reference_statistics(tiny, check)
    published_mean, published_std = data.SPECS["fashion_mnist"].reference_mean_std
    assert reference.loc["mean", "published"] == published_mean and reference.loc["std", "published"] == published_std
    assert reference.loc["mean", "difference"] == pytest.approx(1 / 3 - published_mean)


def test_reference_statistics_read_in_fixed_decimals():
    table = pd.DataFrame(
        {"measured": [0.2860406, 0.3530242], "published": [0.2860, 0.3530], "difference": [4.06e-05, 2.42e-05]},
        index=["mean", "std"],
    )
    reading = eda.reference_statistics_for_reading(table)
    assert reading.loc["mean"].tolist() == ["0.28604", "0.2860", "+0.00004"]
    assert reading.loc["std", "difference"] == "+0.00002" and "e-" not in reading.to_html()


def test_neighbour_correlation_of_flat_images_is_one():
    images = np.arange(6, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), dtype=np.uint8)  # each image one grey
    correlation = eda.neighbour_correlation(images, max_distance=3, sample=6)
    assert list(correlation.columns) == ["distance", "direction", "correlation"] and len(correlation) == 6
    assert correlation["correlation"].to_numpy() == pytest.approx(np.ones(6))
    assert list(correlation["direction"][:2]) == ["horizontal", "vertical"]


def test_pixel_std_map(tiny):
    spread = eda.pixel_std_map(tiny.x_train)
    assert spread.shape == (28, 28) and spread == pytest.approx(np.full((28, 28), np.sqrt(2) / 3))


def test_confusions_and_per_class_accuracy():
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2])
    matrix = eda.confusion_matrix(true, predicted, 3)
    assert matrix.tolist() == [[1, 2, 0], [0, 1, 1], [0, 0, 1]]
    accuracy = eda.per_class_accuracy(true, predicted, ("a", "b", "c"))
    assert accuracy.to_dict() == {"a": pytest.approx(1 / 3), "b": 0.5, "c": 1.0}
    top = eda.top_confusions(matrix, ("a", "b", "c"), count=2)
    assert top.to_dict("records") == [
        {"true class": "a", "predicted as": "b", "test images": 2},
        {"true class": "b", "predicted as": "c", "test images": 1},
    ]


def test_fixed_and_missed():
    outcomes = eda.fixed_and_missed(np.array([0, 1, 2, 3]), np.array([0, 0, 0, 3]), np.array([1, 1, 0, 3]))
    assert {name: indices.tolist() for name, indices in outcomes.items()} == {"fixed": [1], "broken": [0], "both wrong": [2]}


def test_weights_by_pixel_variation_groups_the_first_layer():
    spread = np.full((28, 28), 0.2)
    spread[0, :4] = 0.0  # 4 constant pixels
    spread[1, :2] = 0.01  # 2 nearly constant ones
    kernel = np.ones((784, 8))
    kernel[0] = 3.0
    table = eda.weights_by_pixel_variation(kernel, spread)
    assert list(table.index) == ["constant (never varies)", "near-constant (std < 0.05)", "varying (std ≥ 0.05)"]
    assert table[eda.PIXELS].tolist() == [4, 2, 778]
    assert table[eda.FIRST_LAYER_PARAMETERS].tolist() == [32, 16, 6224]
    assert table["share of first-layer weights (%)"].tolist() == pytest.approx([400 / 784, 200 / 784, 77800 / 784])
    assert table["mean |weight|"].tolist() == [1.5, 1.0, 1.0]
    assert np.isnan(eda.weights_by_pixel_variation(kernel, np.full((28, 28), 0.2)).iloc[0]["mean |weight|"])


def test_per_class_accuracy_is_indexed_by_class():
    accuracy = eda.per_class_accuracy(np.array([0, 1, 1]), np.array([0, 1, 0]), ("a", "b"))
    assert isinstance(accuracy, pd.Series) and accuracy.index.name == "class" and accuracy.tolist() == [1.0, 0.5]


def test_per_class_gain_orders_the_classes_by_the_lead():
    per_class = pd.DataFrame({"FC": [0.90, 0.80, 0.70, 0.60], "CNN": [0.95, 0.78, 0.71, 0.60]}, index=list("abcd"))
    table = eda.per_class_gain(per_class, "CNN", "FC")
    assert table.columns.tolist() == ["FC", "CNN", "CNN − FC (points)"]
    assert table.index.tolist() == ["a", "c", "d", "b"], "largest lead first"
    assert table["CNN − FC (points)"].tolist() == pytest.approx([5.0, 1.0, 0.0, -2.0])
    assert table.loc["a", "CNN"] == pytest.approx(95.0)
