"""The inductive-bias probes: model variants, the permutation layer, and the analyses of notebooks 07-10."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from convlab import analysis, config, experiments, models, transforms


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
    configs = experiments.translation_configs(dataset, 4) | experiments.permutation_configs(dataset, 0)
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


def fake_record(accuracy: float, seed: int, name: str = "m") -> dict:
    return {"seed": seed, "test": {"accuracy": accuracy}, "model": {"name": name, "parameters": 1}, "macs_per_image": 1}


def group(*values: float) -> list[dict]:
    return [fake_record(value, seed) for seed, value in enumerate(values)]


def test_dataset_gain_and_error_ratio():
    gain = analysis.dataset_gain(group(0.97, 0.97, 0.97), group(0.985, 0.985, 0.985))
    assert gain["gain (points)"] == pytest.approx(1.5)
    assert gain["error ratio"] == pytest.approx(0.5)
    assert gain["error ratio 95% CI low"] == pytest.approx(0.5) and gain["error ratio 95% CI high"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "cnn, verdict",
    [((0.985, 0.984, 0.986), "consistent"), ((0.995, 0.994, 0.996), "understates"), ((0.975, 0.976, 0.974), "overstates")],
)
def test_halving_claim_verdict_follows_the_interval(cnn, verdict):
    table = analysis.dataset_gain_table({"mnist": (group(0.97, 0.971, 0.969), group(*cnn))})
    assert verdict in analysis.describe_dataset_gains(table)


@pytest.mark.parametrize(
    "cnn_permuted, verdict",
    [
        ((0.879, 0.876, 0.878), "advantage is gone"),  # level with the permuted FC network
        ((0.860, 0.855, 0.858), "now trails the FC baseline"),  # below it, interval all negative
        ((0.899, 0.896, 0.898), "part of its advantage survives"),  # most of the gain kept
    ],
)
def test_permutation_verdict_follows_the_numbers(cnn_permuted, verdict):
    groups = {
        "FC": group(0.880, 0.876, 0.878),
        "FC, permuted": group(0.879, 0.877, 0.878),
        "CNN": group(0.910, 0.905, 0.908),
        "CNN, permuted": group(*cnn_permuted),
    }
    effects = analysis.permutation_effects(groups)
    assert effects.loc["CNN", "difference (points)"] == pytest.approx(
        100 * (sum(cnn_permuted) - (0.910 + 0.905 + 0.908)) / 3, abs=1e-9
    )
    text = analysis.describe_permutation(effects, groups)
    assert "does not care" in text and verdict in text


def test_pareto_mask_keeps_only_undominated_models():
    cost = pd.Series([1, 2, 3, 4], index=list("abcd"))
    accuracy = pd.Series([80, 90, 85, 95], index=list("abcd"))
    assert analysis.pareto_mask(cost, accuracy).to_dict() == {"a": True, "b": True, "c": False, "d": True}


def synthetic_translation() -> pd.DataFrame:
    rows = []
    curves = {  # accuracy at shifts 0..6: CNN falls, GAP holds, FC falls fastest, augmented holds to 4
        "FC": [88, 80, 60, 40, 30, 25, 20],
        "CNN": [91, 89, 75, 55, 40, 30, 25],
        "CNN, GAP head": [89, 89, 88, 87, 85, 80, 75],
        "CNN, shift-augmented": [90, 90, 90, 89, 88, 70, 50],
    }
    for model, values in curves.items():
        for seed, noise in ((0, -0.5), (1, 0.5)):
            for direction in ("horizontal", "vertical", "diagonal"):
                rows += [
                    {"model": model, "seed": seed, "direction": direction, "shift": shift, "accuracy": value + noise}
                    for shift, value in enumerate(values)
                ]
    return pd.DataFrame(rows)


def test_translation_summary_and_description():
    frame = synthetic_translation()
    table = analysis.shift_table(frame)
    assert list(table.columns) == ["shift 0 px", "shift 2 px", "shift 4 px", "shift 6 px"]
    assert table.loc[("horizontal", "CNN"), "shift 4 px"] == "40.00 ± 0.71"
    text = analysis.describe_translation(frame, augmentation_shift=4)
    assert "**not** translation invariant" in text
    assert "flatten-and-dense head" in text, "GAP keeps far more accuracy than the flatten head"
    assert "Beyond the trained range the curves fall again" in text
    assert "keep 96% of their unshifted accuracy at 4 pixels" in text  # GAP: 85 / 89


def test_model_labels_name_the_probe():
    fc = models.fc_baseline_config("fashion_mnist")
    assert analysis.model_label(models.variant(fc, pixel_permutation=0).to_dict()) == "FC 784→128→64→10, permuted pixels"
    gap = models.variant(models.cnn_config("fashion_mnist", 5), head="gap")
    assert analysis.model_label(gap.to_dict()) == "CNN 5×5/3×3, GAP head"


def test_probe_records_are_reused_for_the_same_run_only(fashion, tmp_path, monkeypatch):
    from convlab import data, probes, records, training

    tiny = data.subset(fashion, train_size=300, test_size=100, seed=0)
    params = config.RunParameters.from_notebook(
        notebook="07_translation", dataset="fashion_mnist", epochs=1, output_dir=str(tmp_path / "out")
    )
    record = training.train_or_reuse(models.fc_baseline_config("fashion_mnist"), tiny, 0, params)
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
