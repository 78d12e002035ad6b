"""Exact parameter counts of the studies' architectures, and MACs against a hand calculation."""

from __future__ import annotations

import pytest

from convlab.training import models


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


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="Unknown model kind"):
        models.ModelConfig(name="x", kind="rnn")


@pytest.mark.parametrize(
    "dataset, kernels, sides",
    [
        ("fashion_mnist", (7, 7), [28, 14, 14, 7]),
        ("mnist", (3, 3), [26, 13, 11, 5]),
        ("mnist", (5, 5), [24, 12, 8, 4]),
        ("mnist", (7, 7), [22, 11, 5, 2]),
    ],
)
def test_feature_map_sides_match_keras(dataset, kernels, sides):
    config = models.cnn_config(dataset, *kernels)
    assert config.feature_map_sides() == sides
    table = models.layer_table(models.build_model(config))
    assert [int(shape.split("×")[0]) for shape in table.loc[["conv_1", "pool_1", "conv_2", "pool_2"], "output shape"]] == sides


def test_variant_names_and_vanishing_maps():
    assert models.cnn_config("mnist", 5).name == "cnn_k5"
    assert models.cnn_config("mnist", 5, 5).name == "cnn_k5-5"
    with pytest.raises(ValueError, match="shrink the 28×28 image to nothing"):
        models.ModelConfig(name="x", kind="cnn", filters=(8, 8), kernel_sizes=(15, 7), padding="valid")


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist"])
def test_average_pooling_variant_changes_the_pooling_only(dataset):
    cnn = models.cnn_config(dataset)
    average = models.variant(cnn, pooling="average")
    assert average.name == "cnn_avgpool" and models.variant(cnn, pooling="max") == cnn
    built, reference = models.build_model(average), models.build_model(cnn)
    assert built.count_params() == reference.count_params()
    kinds = [type(layer).__name__ for layer in built.layers]
    assert kinds.count("AveragePooling2D") == 2 and "MaxPooling2D" not in kinds
    assert kinds == [type(layer).__name__.replace("Max", "Average") for layer in reference.layers]
    with pytest.raises(ValueError, match="Unknown pooling 'median'"):
        models.variant(cnn, pooling="median")
    with pytest.raises(ValueError, match="a CNN only"):
        models.ModelConfig(name="fc", kind="fc", hidden_units=(8,), pooling="average")
