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


def _loop_locally_connected(images, kernel, bias, size, padding):
    """The locally connected layer by its definition, one output value at a time (no Keras)."""
    import numpy as np

    if padding == "same":
        before = (size - 1) // 2
        images = np.pad(images, ((0, 0), (before, size - 1 - before), (before, size - 1 - before), (0, 0)))
    batch, height, width = images.shape[0], images.shape[1] - size + 1, images.shape[2] - size + 1
    out = np.zeros((batch, height, width, kernel.shape[-1]))
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                window = images[b, i : i + size, j : j + size, :].reshape(-1)  # rows, then columns, channels last
                for f in range(kernel.shape[-1]):
                    out[b, i, j, f] = window @ kernel[i * width + j, :, f] + bias[i, j, f]
    return np.maximum(out, 0.0)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("size", [1, 3, 5])
def test_locally_connected_layer_equals_a_plain_loop(padding, size):
    import numpy as np

    rng = np.random.default_rng(size)
    images = rng.normal(size=(2, 7, 6, 3)).astype("float32")
    layer = models.LocallyConnected2D(4, size, padding=padding)
    layer.build(images.shape)
    kernel = rng.normal(size=tuple(layer.kernel.shape)).astype("float32")
    bias = rng.normal(size=tuple(layer.bias.shape)).astype("float32")
    layer.set_weights([kernel, bias])
    expected = _loop_locally_connected(images, kernel, bias, size, padding)
    got = np.asarray(layer(images))
    assert got.shape == expected.shape == layer.compute_output_shape(images.shape)[:1] + expected.shape[1:]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert np.count_nonzero(got) > got.size // 4  # the ReLU did not zero the comparison away


@pytest.mark.parametrize(
    "dataset, side, cnn_parameters, local_parameters",
    [("fashion_mnist", 28, 220_234, 470_794), ("mnist", 26, 121_930, 337_930)],
)
def test_locally_connected_first_layer_parameters_by_arithmetic(dataset, side, cnn_parameters, local_parameters):
    """One 3×3×1 kernel and bias per filter (32 × 10 = 320 weights) becomes one per output position (side² × 320)."""
    cnn = models.cnn_config(dataset)
    local = models.variant(cnn, locally_connected=1)
    assert local.name == "cnn_local1"
    shared_first_layer = (3 * 3 * 1 + 1) * 32
    assert local_parameters == cnn_parameters - shared_first_layer + side * side * shared_first_layer
    assert models.build_model(cnn).count_params() == cnn_parameters
    built = models.build_model(local)
    assert built.count_params() == local_parameters
    assert models.macs_per_image(built) == models.macs_per_image(models.build_model(cnn))  # same windows, same products


def test_locally_connected_model_round_trips_through_a_keras_file(tmp_path):
    import keras
    import numpy as np

    model = models.build_model(models.variant(models.cnn_config("mnist"), locally_connected=1))
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype="float32")
    model.save(tmp_path / "local.keras")
    again = keras.saving.load_model(tmp_path / "local.keras")
    np.testing.assert_array_equal(again.predict(images, verbose=0), model.predict(images, verbose=0))


def test_locally_connected_needs_a_convolution_to_replace():
    with pytest.raises(ValueError, match="locally_connected=3 is invalid"):
        models.variant(models.cnn_config("mnist"), locally_connected=3)
    with pytest.raises(ValueError, match="an FC network has none"):
        models.variant(models.fc_baseline_config("mnist"), locally_connected=1)
