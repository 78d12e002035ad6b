"""The training precision: the rule that picks it, the float32 copy that is stored, the comparison with a float32 run."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convlab.datasets import data
from convlab.report import appendix
from convlab.study import paths
from convlab.training import fit, models, precision, saved


@pytest.fixture(scope="module")
def tiny(fashion) -> data.Dataset:
    return data.subset(fashion, train_size=600, test_size=200, seed=0)


@pytest.mark.parametrize(
    ("environment", "isa", "expected"),
    [
        ({}, ["avx2", "avx512f", "amx_bf16"], "float32"),  # float32 by default, even where bfloat16 is native
        ({}, ["avx2", "avx512_bf16"], "float32"),
        ({precision.PRECISION_ENV: "auto"}, ["avx2", "avx512_bf16"], "bfloat16"),
        ({precision.PRECISION_ENV: "auto"}, ["avx2", "avx512f", "avx512_vnni"], "float32"),  # no native bfloat16
        ({}, [], "float32"),
        ({precision.PRECISION_ENV: "auto"}, ["amx_bf16"], "bfloat16"),
        ({precision.PRECISION_ENV: "float32"}, ["amx_bf16"], "float32"),
        ({precision.PRECISION_ENV: " BFloat16 "}, [], "bfloat16"),
    ],
)
def test_training_is_float32_unless_the_environment_asks_otherwise(environment, isa, expected):
    assert precision.training_precision(environment, isa) == expected


def test_an_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(paths.ParameterError, match=r"CONVLAB_PRECISION='fp16'.*'float32', 'bfloat16'"):
        precision.training_precision({precision.PRECISION_ENV: "fp16"}, [])


def test_the_policy_holds_inside_the_block_only():
    before = keras.mixed_precision.global_policy().name
    with precision.policy(precision.BFLOAT16):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        model = models.build_model(models.cnn_config("mnist"))
    assert keras.mixed_precision.global_policy().name == before
    assert model.get_layer("conv_1").compute_dtype == "bfloat16"
    assert model.get_layer("output").compute_dtype == "float32", "softmax and loss keep float32"
    assert all(weight.dtype == "float32" for weight in model.weights), "mixed precision keeps float32 weights"


@pytest.mark.parametrize("factory", [lambda: models.cnn_config("fashion_mnist"), lambda: models.fc_baseline_config("mnist")])
def test_a_bfloat16_training_is_deterministic_and_stores_a_float32_model(tiny, factory):
    model_config = factory()
    settings = fit.TrainingConfig(epochs=2, batch_size=64, precision=precision.BFLOAT16)
    first_model, first = fit.fit(model_config, tiny, 3, settings, verbose=0)
    _, second = fit.fit(model_config, tiny, 3, settings, verbose=0)
    assert first["history"]["val_loss"] == second["history"]["val_loss"]
    assert first["test"] == second["test"], "same predictions, bit for bit"
    assert {layer.compute_dtype for layer in first_model.layers} == {"float32"}
    assert first["parameters"]["precision"] == "bfloat16"
    again = first_model.predict(data.scale_images(tiny.x_test), verbose=0)
    assert np.argmax(again, axis=1).tolist() == first["test"]["predictions"], "the record's predictions are the float32 copy's"
    _, float32 = fit.fit(model_config, tiny, 3, fit.TrainingConfig(epochs=2, batch_size=64), verbose=0)
    assert float32["history"]["val_loss"] != first["history"]["val_loss"], "the arithmetic did change"
    assert abs(float32["test"]["accuracy"] - first["test"]["accuracy"]) < 0.08


def test_precision_check_compares_a_bfloat16_run_with_a_float32_run_of_the_same_seeds(tiny, tmp_path):
    model_config = models.cnn_config("fashion_mnist")
    for folder, arithmetic in (("bf16", precision.BFLOAT16), ("fp32", precision.FLOAT32)):
        settings = fit.TrainingConfig(epochs=1, batch_size=64, precision=arithmetic)
        for seed in (0, 1):
            model, record = fit.fit(model_config, tiny, seed, settings, verbose=0)
            saved.store_run(model, record, "key", tmp_path / folder / "results", tmp_path / folder / "models")
    table = appendix.precision_check(tmp_path / "bf16" / "results", tmp_path / "fp32" / "results")
    assert table is not None and table["model"].tolist() == ["cnn"] and table["seeds"].tolist() == [2]
    assert table.loc[0, "epochs run (float32 → this run)"] == "1, 1 → 1, 1"
    assert table.loc[0, "training images"] == 600
    assert table.loc[0, "within seed noise"] in ("yes", "no")
    assert appendix.precision_check(tmp_path / "fp32" / "results", tmp_path / "bf16" / "results") is None, (
        "a float32 run is the reference, not a subject"
    )
    assert appendix.precision_check(tmp_path / "bf16" / "results", tmp_path / "absent") is None
