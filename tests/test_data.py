"""Data sources, checksums, subsets and scaling (bad data files are in test_bad_inputs.py)."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from convlab.datasets import data, datafiles
from convlab.study import paths

FILES = list(data.IDX_NAMES.values())


def idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def link_dataset(source: Path, target: Path, skip: str | None = None) -> Path:
    """A folder with links to the four official files (one may be left out)."""
    target.mkdir(parents=True, exist_ok=True)
    for stem in FILES:
        if stem != skip:
            os.symlink(source / f"{stem}.gz", target / f"{stem}.gz")
    return target


# ---------------------------------------------------------------- good sources


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_loads_official_files_as_uint8(name, shared_data):
    dataset = data.load_dataset(name, shared_data)
    assert dataset.x_train.shape == (60000, 28, 28) and dataset.x_test.shape == (10000, 28, 28)
    assert dataset.y_train.shape == (60000,) and dataset.y_test.shape == (10000,)
    assert {array.dtype for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)} == {np.dtype(np.uint8)}
    assert set(np.unique(dataset.y_train)) == set(range(10))
    assert "data folder" in dataset.source


def test_payload_hash_equals_hash_of_decompressed_file(shared_data, fashion):
    """idx_sha256 of the parsed array reproduces `zcat FILE | sha256sum`."""
    raw = gzip.decompress((shared_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert datafiles.idx_sha256(fashion.y_test) == hashlib.sha256(raw).hexdigest() == data.SPECS["fashion_mnist"].sha256["y_test"]


@pytest.mark.parametrize("name, mean, std", [("fashion_mnist", 0.2860, 0.3530), ("mnist", 0.1307, 0.3081)])
def test_pixel_statistics_match_published_values(name, mean, std, fashion, mnist):
    scaled = data.scale_images({"fashion_mnist": fashion, "mnist": mnist}[name].x_train)
    assert scaled.mean() == pytest.approx(mean, abs=5e-4)
    assert scaled.std() == pytest.approx(std, abs=5e-4)


def test_data_dir_from_environment_variable(shared_data, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(shared_data))
    assert str(shared_data / "mnist") in data.load_dataset("mnist").source


def test_debian_folder_used_when_data_folder_is_empty(shared_data, tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    link_dataset(shared_data / "fashion-mnist", debian / "fashion-mnist")
    monkeypatch.setattr(paths, "DEBIAN_DATASETS_DIR", debian)
    dataset = data.load_dataset("fashion_mnist", tmp_path / "empty")
    assert dataset.source.startswith("Debian package")


def test_keras_cache_idx_and_npz(shared_data, tmp_path, monkeypatch, mnist):
    cache = tmp_path / "keras" / "datasets"
    link_dataset(shared_data / "fashion-mnist", cache / "fashion-mnist")
    np.savez(cache / "mnist.npz", **{split: getattr(mnist, split) for split in data.SPLITS})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert data.load_dataset("fashion_mnist", tmp_path / "empty").source.startswith("Keras cache")
    assert data.load_dataset("mnist", tmp_path / "empty").source.startswith("Keras cache")


def test_npz_in_data_folder_and_uncompressed_idx(shared_data, tmp_path, mnist):
    np.savez(tmp_path / "mnist.npz", **{split: getattr(mnist, split) for split in data.SPLITS})
    assert data.load_dataset("mnist", tmp_path).source.startswith("data folder (.npz)")
    folder = link_dataset(shared_data / "mnist", tmp_path / "plain" / "mnist", skip="t10k-labels-idx1-ubyte")
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(mnist.y_test))
    assert np.array_equal(data.load_dataset("mnist", tmp_path / "plain").y_test, mnist.y_test)


def test_data_folder_wins_over_later_sources(shared_data, tmp_path, monkeypatch):
    debian = tmp_path / "debian" / "fashion-mnist"
    debian.mkdir(parents=True)
    (debian / "train-images-idx3-ubyte.gz").write_bytes(b"broken")
    monkeypatch.setattr(paths, "DEBIAN_DATASETS_DIR", debian.parent)
    assert "data folder" in data.load_dataset("fashion_mnist", shared_data).source


def test_download_is_used_when_nothing_is_local(tmp_path, monkeypatch, mnist):
    import keras

    arrays = ((mnist.x_train, mnist.y_train), (mnist.x_test, mnist.y_test))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: arrays)
    assert data.load_dataset("mnist", tmp_path, allow_download=True).source == "Keras download"


def test_records_keep_the_kind_of_source_and_the_checksums_not_the_folder(shared_data, tmp_path, monkeypatch):
    """A result record (and so a published one) names the kind of source and the files' checksums, never the build
    machine's data folder; the training cache key never read the source, so stored trainings stay reusable."""
    import json

    from convlab.training import fit, models

    elsewhere = link_dataset(shared_data / "mnist", tmp_path / "elsewhere" / "mnist").parent
    here, there = data.load_dataset("mnist", shared_data), data.load_dataset("mnist", elsewhere)
    assert str(shared_data / "mnist") in here.source, "in the run itself the source still says where"
    for dataset in (here, there):
        described = dataset.describe()
        assert described["source"] == "data folder (IDX files)"
        assert described["sha256"] == data.SPECS["mnist"].sha256
        assert str(shared_data) not in json.dumps(described) and str(tmp_path) not in json.dumps(described)
    for source, kind in (("data folder (.npz): /srv/idx/mnist.npz", "data folder (.npz)"), ("Keras download", "Keras download")):
        assert data.Dataset(**{split: getattr(here, split) for split in data.SPLITS}, name="mnist",
                            class_names=here.class_names, source=source).describe()["source"] == kind  # fmt: skip

    settings, model_config = fit.TrainingConfig(), models.cnn_config("mnist")
    key = fit.cache_key(model_config, here, 0, settings)
    assert fit.cache_key(model_config, there, 0, settings) == key
    with_folder = data.Dataset.describe
    monkeypatch.setattr(data.Dataset, "describe", lambda self: with_folder(self) | {"source": self.source})
    assert fit.cache_key(model_config, here, 0, settings) == key, "records written before keep their cache keys"


# ---------------------------------------------------------------- subsets and scaling


def test_subset_is_stratified_seeded_and_exact(fashion):
    small = data.subset(fashion, train_size=1000, test_size=200, seed=3)
    assert len(small.y_train) == 1000 and len(small.y_test) == 200
    assert np.array_equal(np.bincount(small.y_train), np.full(10, 100))
    assert np.array_equal(np.bincount(small.y_test), np.full(10, 20))
    again = data.subset(fashion, train_size=1000, test_size=200, seed=3)
    other = data.subset(fashion, train_size=1000, test_size=200, seed=4)
    assert np.array_equal(small.x_train, again.x_train)
    assert not np.array_equal(small.x_train, other.x_train)


def test_uneven_subset_keeps_proportions(mnist):
    small = data.subset(mnist, train_size=997)
    counts = np.bincount(small.y_train, minlength=10)
    expected = np.bincount(mnist.y_train) * 997 / 60000
    assert counts.sum() == 997 and np.all(np.abs(counts - expected) < 1)


def test_validation_split_is_disjoint_and_stratified(fashion):
    small = data.subset(fashion, train_size=2000)
    x_fit, y_fit, x_val, y_val = data.split_validation(small.x_train, small.y_train, 0.1, seed=0)
    assert len(y_val) == 200 and len(y_fit) == 1800
    assert np.array_equal(np.bincount(y_val), np.full(10, 20))
    fit_rows = {row.tobytes() for row in x_fit}
    assert not any(row.tobytes() in fit_rows for row in x_val)


def test_scaling_is_a_separate_step(fashion):
    scaled = data.scale_images(fashion.x_test[:100])
    assert scaled.dtype == np.float32 and scaled.shape == (100, 28, 28, 1)
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0
    assert np.allclose(scaled[..., 0] * 255, fashion.x_test[:100])
    with pytest.raises(datafiles.DataError, match="uint8"):
        data.scale_images(scaled)
