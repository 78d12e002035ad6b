"""The inductive-bias probes: model variants, the permutation layer and probe records; their tables: test_tables.py,
test_probe_and_cost_tables.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convlab.analysis import tables
from convlab.datasets import transforms
from convlab.experiments import plans
from convlab.study import config
from convlab.training import models


@pytest.mark.parametrize(
    "dataset, name, parameters, macs",
    [
        ("fashion_mnist", "cnn_gap", 23_626, 3_843_200),
        ("mnist", "cnn_gap", 23_626, 2_429_696),
        ("fashion_mnist", "cnn_shift4", 220_234, 4_039_808),
        ("fashion_mnist", "cnn_perm0", 220_234, 4_039_808),
        ("mnist", "fc_baseline_perm0", 101_770, 101_632),
        ("mnist", "fc_baseline_shift4", 101_770, 101_632),
    ],
)
def test_probe_models_have_exact_sizes(dataset, name, parameters, macs):
    configs = plans.translation_configs(dataset, 4) | plans.permutation_configs(dataset, 0)
    model_config = next(c for c in configs.values() if c.name == name)
    model = models.build_model(model_config)
    assert model.count_params() == parameters
    assert models.macs_per_image(model) == macs


def test_variant_rejects_what_cannot_be_built():
    fc = models.fc_baseline_config("mnist")
    with pytest.raises(ValueError, match="head"):
        models.variant(fc, head="gap")
    with pytest.raises(ValueError, match="shift_augmentation"):
        models.variant(models.cnn_config("mnist"), shift_augmentation=28)
    with pytest.raises(ValueError, match="seed"):
        models.variant(fc, pixel_permutation=-1)


def test_permutation_layer_matches_the_transform_and_survives_saving(tmp_path):
    images = np.random.default_rng(0).random((5, 28, 28, 1)).astype("float32")
    model = models.build_model(models.variant(models.fc_baseline_config("mnist"), pixel_permutation=3))
    shuffled = np.asarray(model.get_layer("pixel_permutation")(images))
    assert np.array_equal(shuffled, transforms.permute_pixels(images, transforms.pixel_permutation(3)))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert np.array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))


def test_shift_augmentation_is_inactive_at_inference():
    images = np.random.default_rng(1).random((4, 28, 28, 1)).astype("float32")
    layer = models.build_model(models.variant(models.cnn_config("fashion_mnist"), shift_augmentation=3)).get_layer("random_shift")
    assert np.array_equal(np.asarray(layer(images, training=False)), images)
    moved = np.asarray(layer(np.ones((8, 28, 28, 1), "float32"), training=True))
    assert (moved == 0).any(), "in training the images move and zeros enter the frame"


def test_check_permutation_reports_a_bijection(fashion):
    result = transforms.check_permutation(fashion.x_test[:50], transforms.pixel_permutation(0))
    assert result["restored exactly by the inverse"] is True
    assert result["pixels moved (%)"] > 99


def test_probe_parameters_accept_papermill_strings():
    assert config.parse_max_shift("3") == (0, 1, 2, 3)
    assert config.parse_augmentation_shift("4") == 4
    assert config.parse_datasets("Fashion-MNIST, mnist") == ("fashion_mnist", "mnist")


def test_model_labels_name_the_probe():
    fc = models.fc_baseline_config("fashion_mnist")
    assert tables.model_label(models.variant(fc, pixel_permutation=0).to_dict()) == "FC 784→128→64→10, permuted pixels"
    gap = models.variant(models.cnn_config("fashion_mnist", 5), head="gap")
    assert tables.model_label(gap.to_dict()) == "CNN 5×5/3×3, GAP head"
    average = models.variant(models.cnn_config("fashion_mnist"), pooling="average")
    assert tables.model_label(average.to_dict()) == "CNN 3×3/3×3, average pooling"  # not the max-pooling CNN's label


def test_probe_records_are_reused_for_the_same_run_only(fashion, tmp_path, monkeypatch):
    from convlab.datasets import data
    from convlab.experiments import probes
    from convlab.store import records
    from convlab.training import fit

    tiny = data.subset(fashion, train_size=300, test_size=100, seed=0)
    params = config.RunParameters.from_notebook(
        notebook="07_translation", dataset="fashion_mnist", epochs=1, output_dir=str(tmp_path / "out")
    )
    record = fit.train_or_reuse(models.fc_baseline_config("fashion_mnist"), tiny, 0, params)
    first = probes.translation_probe(record, tiny, params, (0, 1))
    assert records.read_json(probes.probe_path(params.results_dir, "translation", record)) == first
    assert [row["shift"] for row in first["result"]["rows"]] == [0, 1, 0, 1, 0, 1]

    def no_measuring(*args, **kwargs):
        raise AssertionError("a stored probe of the same run must be read back, not measured again")

    monkeypatch.setattr(probes, "shifted_accuracy", no_measuring)
    assert probes.translation_probe(record, tiny, params, (0, 1)) == first
    with pytest.raises(AssertionError, match="measured again"):
        probes.translation_probe(record | {"cache_key": "another run"}, tiny, params, (0, 1))
    with pytest.raises(AssertionError, match="measured again"):
        probes.translation_probe(record, tiny, params, (0, 1, 2))
