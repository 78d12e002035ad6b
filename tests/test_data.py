"""Data sources, checksums, every bad-input case, subsets and scaling."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from convlab import config, data

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


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


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
    assert data.idx_sha256(fashion.y_test) == hashlib.sha256(raw).hexdigest() == data.SPECS["fashion_mnist"].sha256["y_test"]


@pytest.mark.parametrize("name, mean, std", [("fashion_mnist", 0.2860, 0.3530), ("mnist", 0.1307, 0.3081)])
def test_pixel_statistics_match_published_values(name, mean, std, fashion, mnist):
    scaled = data.scale_images({"fashion_mnist": fashion, "mnist": mnist}[name].x_train)
    assert scaled.mean() == pytest.approx(mean, abs=5e-4)
    assert scaled.std() == pytest.approx(std, abs=5e-4)


def test_data_dir_from_environment_variable(shared_data, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(shared_data))
    assert str(shared_data / "mnist") in data.load_dataset("mnist").source


def test_debian_folder_used_when_data_folder_is_empty(shared_data, tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    link_dataset(shared_data / "fashion-mnist", debian / "fashion-mnist")
    monkeypatch.setattr(config, "DEBIAN_DATASETS_DIR", debian)
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
    monkeypatch.setattr(config, "DEBIAN_DATASETS_DIR", debian.parent)
    assert "data folder" in data.load_dataset("fashion_mnist", shared_data).source


def test_download_path_is_verified(tmp_path, monkeypatch, mnist):
    import keras

    arrays = ((mnist.x_train, mnist.y_train), (mnist.x_test, mnist.y_test))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: arrays)
    assert data.load_dataset("mnist", tmp_path, allow_download=True).source == "Keras download"
    tampered = ((mnist.x_train, mnist.y_train), (mnist.x_test, (mnist.y_test + 1) % 10))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: tampered)
    with pytest.raises(data.DataError, match="sha256"):
        data.load_dataset("mnist", tmp_path, allow_download=True)


# ---------------------------------------------------------------- bad input


def test_nothing_found_offline_lists_every_place_and_the_fix(tmp_path):
    with pytest.raises(data.DataError) as caught:
        data.load_dataset("fashion_mnist", tmp_path / "nowhere")
    message = str(caught.value)
    for source in data.candidate_sources("fashion_mnist", tmp_path / "nowhere"):
        assert str(source.path) in message
    assert config.DATA_DIR_ENV in message and "Fix" in message and "dataset-fashion-mnist" in message


def test_failed_download_is_explained(tmp_path, monkeypatch):
    import keras

    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(data.DataError, match="download failed.*name resolution"):
        data.load_dataset("fashion_mnist", tmp_path, allow_download=True)


def _truncated(path: Path) -> bytes:
    blob = path.read_bytes()
    return blob[: len(blob) // 2]


def _corrupted(path: Path) -> bytes:
    blob = bytearray(path.read_bytes())
    middle = len(blob) // 2
    blob[middle : middle + 64] = bytes(64)
    return bytes(blob)


def _relabelled(path: Path) -> bytes:
    payload = bytearray(gzip.decompress(path.read_bytes()))
    payload[100] = (payload[100] + 1) % 10
    return gzip.compress(bytes(payload), compresslevel=1)


BAD_FILES = {
    # case: (file replaced, content builder, expected message fragment)
    "empty file": ("t10k-labels-idx1-ubyte", lambda p: b"", "too few"),
    "truncated gzip": ("t10k-labels-idx1-ubyte", _truncated, "truncated gzip"),
    "corrupt gzip": ("t10k-images-idx3-ubyte", _corrupted, "not a valid gzip"),
    "not gzip at all": ("t10k-labels-idx1-ubyte", lambda p: b"<html>not found</html>", "not a valid gzip"),
    "wrong IDX magic": ("t10k-labels-idx1-ubyte", lambda p: gzip.compress(b"\x00\x00\x0d\x01" + bytes(10004)), "IDX magic"),
    "wrong label count": ("t10k-labels-idx1-ubyte", lambda p: gzip.compress(idx_bytes(np.zeros(100, np.uint8))), "shape (100,)"),
    "wrong image size": (
        "t10k-images-idx3-ubyte",
        lambda p: gzip.compress(idx_bytes(np.zeros((10000, 14, 14), np.uint8))),
        "shape (10000, 14, 14)",
    ),
    "header larger than data": (
        "t10k-labels-idx1-ubyte",
        lambda p: gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 10000) + bytes(99)),
        "holds 99 bytes",
    ),
    "checksum mismatch": ("train-labels-idx1-ubyte", _relabelled, "sha256"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_idx_file_is_named_with_a_fix(case, shared_data, tmp_path):
    stem, build, fragment = BAD_FILES[case]
    folder = link_dataset(shared_data / "fashion-mnist", tmp_path / "fashion-mnist", skip=stem)
    (folder / f"{stem}.gz").write_bytes(build(shared_data / "fashion-mnist" / f"{stem}.gz"))
    before = snapshot(tmp_path)
    with pytest.raises(data.DataError) as caught:
        data.load_dataset("fashion_mnist", tmp_path)
    message = str(caught.value)
    assert fragment in message
    assert "Fix" in message
    assert stem in message, "the message names the file"
    assert snapshot(tmp_path) == before, "loading must not modify or delete any file"


def test_missing_file_is_named(shared_data, tmp_path):
    link_dataset(shared_data / "mnist", tmp_path / "mnist", skip="train-images-idx3-ubyte")
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz is missing.*Fix"):
        data.load_dataset("mnist", tmp_path)


def test_swapped_datasets_fail_the_checksum(shared_data, tmp_path):
    link_dataset(shared_data / "mnist", tmp_path / "fashion-mnist")
    with pytest.raises(data.DataError, match="sha256.*swapped"):
        data.load_dataset("fashion_mnist", tmp_path)


@pytest.mark.parametrize(
    "case, arrays, fragment",
    [
        ("missing keys", {"images": np.zeros((2, 28, 28), np.uint8)}, "lacks the arrays"),
        ("pickled objects", None, "Python objects"),
        ("wrong dtype", "float", "dtype float32"),
    ],
)
def test_bad_npz_is_explained(case, arrays, fragment, tmp_path, mnist):
    target = tmp_path / "mnist.npz"
    if arrays is None:
        arrays = {split: np.array([object()] * 3, dtype=object) for split in data.SPLITS}
        np.savez(target, **arrays)
    elif arrays == "float":
        np.savez(target, **{split: getattr(mnist, split).astype(np.float32) for split in data.SPLITS})
    else:
        np.savez(target, **arrays)
    with pytest.raises(data.DataError, match=fragment):
        data.load_dataset("mnist", tmp_path)


def test_corrupt_npz_is_explained(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(data.DataError, match="not a readable .npz"):
        data.load_dataset("mnist", tmp_path)


def test_unknown_dataset():
    with pytest.raises(data.DataError, match="Unknown dataset 'cifar10'"):
        data.load_dataset("cifar10")


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


@pytest.mark.parametrize("size", [5, 60001])
def test_subset_size_out_of_range(size, fashion):
    with pytest.raises(data.DataError, match="needs between 10"):
        data.subset(fashion, train_size=size)


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
    with pytest.raises(data.DataError, match="uint8"):
        data.scale_images(scaled)
