"""Run parameters as papermill passes them: typed values or strings from `-p`."""

from __future__ import annotations

from pathlib import Path

import pytest

from convlab.study import config, paths, profiles


def params(**overrides):
    values = {"notebook": "02_fc_baseline", "dataset": "fashion_mnist"} | overrides
    return config.RunParameters.from_notebook(**values)


def test_strings_from_the_command_line_are_converted():
    run = params(dataset="MNIST", epochs="5", seeds="0, 1,2", train_size="2000", batch_size="64")
    assert (run.dataset, run.epochs, run.seeds, run.train_size, run.batch_size) == ("mnist", 5, (0, 1, 2), 2000, 64)


def test_profile_sets_what_is_left_at_auto(monkeypatch):
    cap, patience = profiles.EPOCH_CAP, profiles.PATIENCE
    monkeypatch.setattr(profiles, "gpu_available", lambda: False)
    quick = params()
    assert (
        quick.profile,
        quick.seeds,
        quick.epochs,
        quick.cnn_epochs,
        quick.batch_size,
        quick.fc_batch_size,
        quick.patience,
    ) == (
        "quick",
        (0,),
        cap,
        cap,
        32,
        32,
        patience,
    )
    monkeypatch.setattr(profiles, "gpu_available", lambda: True)
    gpu = params(seeds="", epochs="auto")
    assert (gpu.profile, gpu.seeds, gpu.epochs, gpu.cnn_epochs, gpu.patience) == ("gpu", tuple(range(10)), cap, cap, patience)
    full = params(profile="FULL")
    assert (full.profile, full.seeds, full.patience) == ("full", tuple(range(7)), patience)
    chosen = params(profile="full", seeds="7", batch_size="64", epochs=3)
    assert (chosen.profile, chosen.seeds, chosen.batch_size, chosen.epochs, chosen.cnn_epochs) == ("full", (7,), 64, 3, 3)
    assert chosen.fc_batch_size == 64, "an explicit batch size holds for every model"
    assert gpu.fc_batch_size == 32
    assert config.seeds_or_profile("auto", "gpu") == tuple(range(10))
    assert config.seeds_or_profile("4,5", "gpu") == (4, 5)


def test_profiles_differ_in_seeds_and_notebooks_only():
    settings = {(p.epochs, p.cnn_epochs, p.batch_size, p.fc_batch_size, p.patience) for p in profiles.PROFILES.values()}
    assert len(settings) == 1
    assert profiles.PROFILES["quick"].notebooks == profiles.STUDIES_NOTEBOOKS
    assert profiles.PROFILES["full"].every_notebook and profiles.PROFILES["gpu"].every_notebook
    assert set(profiles.FULL_PROFILES) == {name for name, p in profiles.PROFILES.items() if p.every_notebook}


def test_defaults_resolve_to_project_folders():
    run = params()
    assert run.output_dir == paths.REPORTS_DIR / "fashion_mnist"
    assert run.images_dir == paths.IMAGES_DIR / "fashion_mnist" / "02_fc_baseline"
    assert run.results_dir == run.output_dir / "results"
    assert run.data_dir == paths.DEFAULT_DATA_DIR


def test_data_dir_parameter_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "from_env"))
    assert params().data_dir == tmp_path / "from_env"
    assert params(data_dir=str(tmp_path / "explicit")).data_dir == tmp_path / "explicit"


def test_keras_cache_follows_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert paths.keras_cache_dir() == Path(tmp_path) / "datasets"


@pytest.mark.parametrize("value, allowed", [("", True), ("0", True), ("1", False), ("true", False), ("YES", False)])
def test_offline_switch(value, allowed, monkeypatch):
    monkeypatch.setenv(paths.OFFLINE_ENV, value)
    assert paths.downloads_allowed() is allowed


def test_kernel_and_optional_seed_lists():
    assert config.parse_kernel_sizes("3, 5,7") == (3, 5, 7)
    assert config.parse_optional_seeds("") == ()
    assert config.parse_optional_seeds("0,1") == (0, 1)
    assert config.parse_variant_seeds("none", "full") == () and config.parse_variant_seeds(" None ", "gpu") == ()
    assert config.parse_variant_seeds("", "full") == config.parse_variant_seeds("auto", "full") == (0, 1, 2)
    assert config.parse_variant_seeds("auto", "gpu") == (0, 1, 2) and config.parse_variant_seeds("4", "full") == (4,)
    assert config.parse_variant_seeds("auto", "quick") == (), "the quick profile keeps to the studies' experiments"
    assert config.parse_variant_seeds("0", "quick") == (0,)
