"""The filter measurements on filters whose answers are known."""

from __future__ import annotations

import numpy as np
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
