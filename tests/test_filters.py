"""The filter measurements on filters whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from convlab.experiments import filters
from convlab.training import models


@pytest.fixture(scope="module")
def edge_model():
    """A CNN whose first two filters are a horizontal and a vertical edge detector, the rest zero."""
    model = models.build_model(models.cnn_config("fashion_mnist"))
    kernel, bias = model.get_layer("conv_1").get_weights()
    kernel[:] = 0
    bias[:] = 0
    horizontal_edge = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float32)  # responds to horizontal stripes
    kernel[:, :, 0, 0] = horizontal_edge
    kernel[:, :, 0, 1] = horizontal_edge.T  # vertical stripes
    model.get_layer("conv_1").set_weights([kernel, bias])
    return model


def test_gratings_run_the_stated_way():
    horizontal = filters.gratings(0, wavelength=4, phases=1)[0]
    vertical = filters.gratings(90, wavelength=4, phases=1)[0]
    assert np.allclose(horizontal, horizontal[:, :1])  # constant along each row
    assert np.allclose(vertical, vertical[:1, :])  # constant along each column
    assert horizontal.min() >= 0 and horizontal.max() <= 1


def test_tuning_finds_the_edge_detectors(edge_model):
    summary = filters.tuning_summary(filters.orientation_tuning(edge_model))
    assert filters.angular_difference(summary.loc[0, "preferred orientation (°)"], 0) < 5
    assert filters.angular_difference(summary.loc[1, "preferred orientation (°)"], 90) < 5
    assert summary.loc[0, "selectivity"] > 0.25 and summary.loc[1, "selectivity"] > 0.25  # Sobel: broadly tuned
    assert summary.loc[5, "mean response"] == 0 and summary.loc[5, "selectivity"] == 0


def test_orientation_from_weights_matches(edge_model):
    kernels = filters.first_layer_kernels(edge_model)
    assert kernels.shape == (32, 3, 3)
    angles = filters.kernel_orientation(kernels[:2])
    assert filters.angular_difference(angles, [0, 90]).max() < 5
    diagonal = filters.gratings(45, wavelength=4, phases=1)[0][:7, :7]
    assert filters.angular_difference(filters.kernel_orientation(diagonal[np.newaxis]), [45])[0] < 12


def test_class_means_are_relative_to_the_overall_mean():
    maps = np.zeros((4, 2, 2, 2))
    maps[:2, :, :, 0] = 3.0  # filter 0 fires only for class 0
    maps[:, :, :, 1] = 1.0  # filter 1 fires for everything
    frame = filters.class_filter_means(maps, np.array([0, 0, 1, 1]), ("a", "b"))
    assert frame.loc[0].tolist() == [2.0, 0.0] and frame.loc[1].tolist() == [1.0, 1.0]
    assert filters.class_spread(frame) == pytest.approx(np.sqrt(2) / 2)


def tuning(selectivity, response, preferred, disagreement) -> pd.DataFrame:
    """A `tuning_summary` with the notebook's disagreement column, by hand."""
    return pd.DataFrame(
        {
            "selectivity": selectivity,
            "mean response": response,
            "preferred orientation (°)": preferred,
            "disagreement (°)": disagreement,
        }
    )


def test_tuning_counts_the_selective_filters_by_orientation():
    summary = tuning([0.5, 0.1, 0.3, 0.9], [1.0, 0.0, 0.5, 2.0], [0.0, 45.0, 90.0, 170.0], [5.0, 50.0, 30.0, 10.0])
    assert filters.tuning_counts(summary) == {
        "filters": 4,
        "orientation-selective (selectivity ≥ 0.25)": 3,
        "selective, horizontal": 2,  # 0° and 170°
        "selective, rising diagonal": 0,
        "selective, vertical": 1,
        "selective, falling diagonal": 0,
        "selective, weights within 22.5° of the gratings": 2,
        "never respond to a grating": 1,
    }
    none = filters.tuning_counts(tuning([0.1, 0.0], [0.4, 0.0], [10.0, 0.0], [1.0, 0.0]))
    assert none["orientation-selective (selectivity ≥ 0.25)"] == 0 and none["never respond to a grating"] == 1
    assert none["selective, weights within 22.5° of the gratings"] == 0


def test_tuning_counts_name_both_diagonals():
    counts = filters.tuning_counts(tuning([0.5] * 3, [1.0] * 3, [45.0, 135.0, 140.0], [0.0] * 3))
    assert counts["selective, rising diagonal"] == 1 and counts["selective, falling diagonal"] == 2


def test_class_preferences_per_layer():
    layers = {
        "conv_1": pd.DataFrame([[2.0, 0.0], [1.0, 1.5], [3.0, 0.0]], columns=["a", "b"]),
        "conv_2": pd.DataFrame([[0.0, 1.0], [0.0, 1.0]], columns=["a", "b"]),
    }
    table = filters.class_preferences(layers)
    assert table.index.tolist() == ["conv_1", "conv_2"]
    assert table["class spread"].round(2).tolist() == [1.30, 0.71]
    assert table["classes that drive the most filters"].tolist() == ["a (2), b (1)", "b (2)"]
