"""Exact parameter counts of the studies' architectures, and MACs against a hand calculation."""

from __future__ import annotations

import pytest

from convlab import models


@pytest.mark.parametrize(
    "config, parameters",
    [
        (models.fc_baseline_config("fashion_mnist"), 109_386),
        (models.fc_baseline_config("mnist"), 101_770),
        (models.cnn_config("fashion_mnist"), 220_234),
        (models.cnn_config("fashion_mnist", first_kernel=5), 220_746),
        (models.cnn_config("fashion_mnist", first_kernel=7), 221_514),
        (models.cnn_config("mnist"), 121_930),
    ],
)
def test_parameter_counts_match_the_studies(config, parameters):
    assert models.build_model(config).count_params() == parameters


def test_macs_match_a_hand_calculation():
    # Fashion-MNIST CNN, 'same' padding:
    conv_1 = 28 * 28 * 32 * (3 * 3 * 1)  # 225,792
    conv_2 = 14 * 14 * 64 * (3 * 3 * 32)  # 3,612,672
    dense_1 = 7 * 7 * 64 * 64  # 200,704
    output = 64 * 10  # 640
    assert (
        models.macs_per_image(models.build_model(models.cnn_config("fashion_mnist")))
        == conv_1 + conv_2 + dense_1 + output
        == 4_039_808
    )
    # MNIST CNN, 'valid' padding: 28→26→13→11→5
    valid = 26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 5 * 5 * 64 * 64 + 64 * 10
    assert models.macs_per_image(models.build_model(models.cnn_config("mnist"))) == valid
    assert models.macs_per_image(models.build_model(models.fc_baseline_config("fashion_mnist"))) == 784 * 128 + 128 * 64 + 64 * 10


def test_layer_table_sums_to_the_model():
    model = models.build_model(models.cnn_config("mnist"))
    table = models.layer_table(model)
    assert table["parameters"].sum() == model.count_params()
    assert table["MACs"].sum() == models.macs_per_image(model)
    assert table.loc["pool_2", "output shape"] == "5×5×64"
    assert table["share of parameters (%)"].sum() == pytest.approx(100)


@pytest.mark.parametrize("kernel", [0, 2, 4, 29])
def test_invalid_kernel_sizes_are_refused(kernel):
    with pytest.raises(ValueError, match=f"Kernel size {kernel} is invalid"):
        models.cnn_config("fashion_mnist", first_kernel=kernel)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="Unknown model kind"):
        models.ModelConfig(name="x", kind="rnn")
