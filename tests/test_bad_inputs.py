"""Every bad input, one row each: the data files, the run parameters as papermill passes them, and the endpoint.

A row names the error the call must raise (or the HTTP status the endpoint must answer), fragments of the
message that name the problem and the fix, and, for data, how the data folder is spoiled first. Every case
also checks that the call wrote nothing and left the earlier outputs beside it (result records, models,
figures, the data folder itself) exactly as they were.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import pytest

from convlab.datasets import data, datafiles
from convlab.serving import artifact, client, endpoint
from convlab.store import records
from convlab.study import config, paths
from convlab.training import models

FASHION, MNIST = data.SPECS["fashion_mnist"].folder, data.SPECS["mnist"].folder
Fragments = str | tuple[str, ...]  # "{data}", "{keras}" and "{debian}" stand for the folders of the case


@dataclass
class Tree:
    """A project's folders before a failing call: the data folder and the outputs of earlier runs."""

    root: Path
    shared: Path
    request: pytest.FixtureRequest
    monkeypatch: pytest.MonkeyPatch

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def reports(self) -> Path:
        return self.root / "reports" / "fashion_mnist"

    @property
    def keras_home(self) -> Path:
        return self.root / "keras"

    def loaded(self, fixture: str) -> data.Dataset:
        """A dataset from the session's fixtures ("fashion" or "mnist")."""
        return self.request.getfixturevalue(fixture)

    def folders(self) -> dict[str, Path]:
        """What "{data}", "{keras}" and "{debian}" in a row's fragments stand for, as the messages write them."""
        data_dir = paths.resolve_data_dir(self.data_dir)
        return {"data": data_dir, "keras": paths.keras_cache_dir(), "debian": paths.DEBIAN_DATASETS_DIR}


def snapshot(root: Path) -> dict[str, object]:
    """Every path under `root`: a link's target, a file's bytes, or "folder" (links are not followed)."""
    found: dict[str, object] = {}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            else:
                found[key] = "folder" if path.is_dir() else path.read_bytes()
    return found


def link_official(source: Path, target: Path) -> None:
    """A folder of links to the four official files of one dataset."""
    target.mkdir(parents=True, exist_ok=True)
    for stem in data.IDX_NAMES.values():
        os.symlink(source / f"{stem}.gz", target / f"{stem}.gz")


@pytest.fixture
def tree(tmp_path, shared_data, request, monkeypatch) -> Tree:
    """Both datasets in the data folder, and a result record, a model and a figure from an earlier run."""
    project = Tree(tmp_path / "project", shared_data, request, monkeypatch)
    for spec in data.SPECS.values():
        link_official(shared_data / spec.folder, project.data_dir / spec.folder)
    record = {"model": {"name": "fc_baseline"}, "seed": 0, "test": {"accuracy": 0.88}}
    records.write_json(records.record_path(project.reports / "results", "fc_baseline", 0), record)
    model_file = records.model_path(project.reports / "models", "fc_baseline", 0)
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"the weights of an earlier run")
    figure = project.root / "images" / "fashion_mnist" / "02_fc_baseline" / "learning_curves.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"\x89PNG an earlier figure")
    (project.keras_home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(project.keras_home))
    return project


def assert_names_problem_and_fix(message: str, problem: Fragments, fix: Fragments, folders: dict[str, Path]) -> None:
    for part, fragments in (("problem", problem), ("fix", fix)):
        for fragment in (fragments,) if isinstance(fragments, str) else fragments:
            for name, folder in folders.items():
                fragment = fragment.replace(f"{{{name}}}", str(folder))
            assert fragment in message, f"the message lacks the {part} {fragment!r}:\n{message}"


def run_parameters(tree: Tree, **overrides) -> config.RunParameters:
    """The parameters cell of notebook 02, pointed into the tree (papermill's values override)."""
    values = {
        "notebook": "02_fc_baseline",
        "dataset": "fashion_mnist",
        "data_dir": str(tree.data_dir),
        "profile": "full",
        "output_dir": str(tree.reports),
        "images_dir": str(tree.root / "images"),
    }
    return config.RunParameters.from_notebook(**values | overrides)


# ---------------------------------------------------------------- data


def idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


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


def removed(relative: str = "") -> Callable[[Tree], None]:
    """Remove a file or folder of the data folder (all of it when `relative` is empty)."""

    def prepare(tree: Tree) -> None:
        path = tree.data_dir / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    return prepare


def replaced(stem: str, build: Callable[[Path], bytes], folder: str = FASHION, name: str = "") -> Callable[[Tree], None]:
    """Replace an official file with what `build` makes of it (saved as `name`, by default the .gz name)."""

    def prepare(tree: Tree) -> None:
        content = build(tree.shared / folder / f"{stem}.gz")
        (tree.data_dir / folder / f"{stem}.gz").unlink()
        (tree.data_dir / folder / (name or f"{stem}.gz")).write_bytes(content)

    return prepare


def swapped(tree: Tree) -> None:
    """MNIST's files where Fashion-MNIST's belong."""
    shutil.rmtree(tree.data_dir / FASHION)
    link_official(tree.shared / MNIST, tree.data_dir / FASHION)


def renamed(*pairs: tuple[str, str], folder: str = FASHION) -> Callable[[Tree], None]:
    """Official files of one dataset under each other's names: each pair of stems trades places."""

    def prepare(tree: Tree) -> None:
        for first, second in pairs:
            for stem, other in ((first, second), (second, first)):
                (tree.data_dir / folder / f"{stem}.gz").unlink()
                os.symlink(tree.shared / folder / f"{other}.gz", tree.data_dir / folder / f"{stem}.gz")

    return prepare


def _header_28_by_29(path: Path) -> bytes:
    """The official file, its header's last dimension 28 changed to 29 (the data untouched)."""
    payload = bytearray(gzip.decompress(path.read_bytes()))
    payload[12:16] = struct.pack(">I", 29)
    return gzip.compress(bytes(payload), compresslevel=1)


def emptied(folder: str, *leftovers: str) -> Callable[[Tree], None]:
    """A dataset folder that holds none of its files (only `leftovers`, empty files, if any)."""

    def prepare(tree: Tree) -> None:
        shutil.rmtree(tree.data_dir / folder)
        (tree.data_dir / folder).mkdir()
        for name in leftovers:
            (tree.data_dir / folder / name).write_bytes(b"")

    return prepare


def npz(arrays: Callable[[data.Dataset], dict] | bytes) -> Callable[[Tree], None]:
    """Only a `mnist.npz` for MNIST: the arrays `arrays` makes of the official ones, or raw bytes."""

    def prepare(tree: Tree) -> None:
        shutil.rmtree(tree.data_dir / MNIST)
        target = tree.data_dir / data.SPECS["mnist"].npz_name
        if isinstance(arrays, bytes):
            target.write_bytes(arrays)
        else:
            np.savez(target, **arrays(tree.loaded("mnist")))

    return prepare


def truncate(path: Path) -> None:
    """Keep the first half of a file, as an interrupted copy would."""
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def official(dataset: data.Dataset) -> dict[str, np.ndarray]:
    return {split: getattr(dataset, split) for split in data.SPLITS}


def offline(tree: Tree) -> None:
    removed(FASHION)(tree)
    tree.monkeypatch.setenv(paths.OFFLINE_ENV, "1")


def online(tree: Tree) -> None:
    removed(FASHION)(tree)
    tree.monkeypatch.delenv(paths.OFFLINE_ENV, raising=False)


def unreachable(tree: Tree) -> None:
    """Online, but the download fails as it does on a machine without internet."""

    def fail():
        raise OSError("Temporary failure in name resolution")

    online(tree)
    tree.monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", fail)


def tampered_download(tree: Tree) -> None:
    """Online, and the download delivers MNIST with every test label shifted by one."""
    removed(MNIST)(tree)
    tree.monkeypatch.delenv(paths.OFFLINE_ENV, raising=False)
    mnist = tree.loaded("mnist")
    arrays = ((mnist.x_train, mnist.y_train), (mnist.x_test, (mnist.y_test + 1) % 10))
    tree.monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: arrays)


def load(dataset: str = "fashion_mnist") -> Callable[[Tree], object]:
    """What a notebook does first: validate its parameters, then load the data."""
    return lambda tree: data.load_for_run(run_parameters(tree, dataset=dataset))


class DataCase(NamedTuple):
    case: str
    prepare: Callable[[Tree], None] | None
    call: Callable[[Tree], object]
    problem: Fragments
    fix: Fragments
    misleading: Fragments = ()  # what the message must not say: a diagnosis that would send the reader the wrong way


FIX_FILES = "Fix: copy the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz"
NOT_OFFICIAL = "Fix: these are not the official {} files (wrong counts or image size)"
DATA_CASES = [
    DataCase(
        "data folder missing",
        removed(),
        load(),
        ("Dataset 'fashion_mnist' not found", "The data folder {data} does not exist"),
        (FIX_FILES, "into {data}/fashion-mnist/", f"point ${paths.DATA_DIR_ENV}"),
    ),
    DataCase(
        "dataset folder missing",
        removed(FASHION),
        load(),
        (
            "Dataset 'fashion_mnist' not found",
            "data folder (IDX files): {data}/fashion-mnist\n",
            "data folder (.npz): {data}/fashion-mnist.npz\n",
            "data folder (.npz): {data}/fashion-mnist/fashion-mnist.npz\n",
            "Debian package: {debian}/fashion-mnist\n",
            "Keras cache: {keras}/fashion-mnist\n",
        ),
        ("into {data}/fashion-mnist/", "or install the Debian package dataset-fashion-mnist"),
    ),
    DataCase(
        "one file missing",
        removed(f"{MNIST}/train-images-idx3-ubyte.gz"),
        load("mnist"),
        "mnist/train-images-idx3-ubyte.gz is missing",
        "Fix: copy the official file train-images-idx3-ubyte.gz there",
    ),
    DataCase(
        "empty file",
        replaced("t10k-labels-idx1-ubyte", lambda path: b""),
        load(),
        "t10k-labels-idx1-ubyte.gz holds 0 bytes, too few for an IDX file",
        "Fix: copy the official file again",
    ),
    DataCase(
        "truncated gzip",
        replaced("t10k-labels-idx1-ubyte", _truncated),
        load(),
        "t10k-labels-idx1-ubyte.gz is a truncated gzip file",
        "Fix: copy the file again",
    ),
    DataCase(
        "corrupt gzip",
        replaced("t10k-images-idx3-ubyte", _corrupted),
        load(),
        "t10k-images-idx3-ubyte.gz is not a valid gzip file",
        "Fix: replace it with the official .gz file",
    ),
    DataCase(
        "not gzip at all (an HTML error page)",
        replaced("t10k-labels-idx1-ubyte", lambda path: b"<html>not found</html>"),
        load(),
        "t10k-labels-idx1-ubyte.gz is not a valid gzip file",
        "Fix: replace it with the official .gz file",
    ),
    DataCase(
        "wrong IDX magic",
        replaced("t10k-labels-idx1-ubyte", lambda path: gzip.compress(b"\x00\x00\x0d\x01" + bytes(10004))),
        load(),
        "t10k-labels-idx1-ubyte.gz does not start with the IDX magic number",
        "Fix: this is not an MNIST-style IDX file; replace it with the official one",
    ),
    DataCase(
        "IDX header cut short",
        replaced("t10k-images-idx3-ubyte", lambda path: gzip.compress(b"\x00\x00\x08\x03" + bytes(6))),
        load(),
        "t10k-images-idx3-ubyte.gz ends inside its IDX header",
        "Fix: copy the official file again",
    ),
    DataCase(
        "header declares more data than the file holds",
        replaced("t10k-labels-idx1-ubyte", lambda path: gzip.compress(idx_bytes(np.zeros(10000, np.uint8))[:107])),
        load(),
        "declares shape (10000,) (10000 bytes) but holds 99 bytes",
        "Fix: the file is truncated or padded; copy the official file again",
    ),
    DataCase(
        "uncompressed IDX file truncated",
        replaced("t10k-labels-idx1-ubyte", lambda path: gzip.decompress(path.read_bytes())[:5000], name="t10k-labels-idx1-ubyte"),
        load(),
        "fashion-mnist/t10k-labels-idx1-ubyte declares shape (10000,)",
        "copy the official file again",
    ),
    DataCase(
        "wrong label count",
        replaced("t10k-labels-idx1-ubyte", lambda path: gzip.compress(idx_bytes(np.zeros(100, np.uint8)))),
        load(),
        "t10k-labels-idx1-ubyte.gz has shape (100,), expected (10000,)",
        NOT_OFFICIAL.format("fashion_mnist"),
    ),
    DataCase(
        "wrong image size",
        replaced("t10k-images-idx3-ubyte", lambda path: gzip.compress(idx_bytes(np.zeros((10000, 14, 14), np.uint8)))),
        load(),
        "t10k-images-idx3-ubyte.gz has shape (10000, 14, 14), expected (10000, 28, 28)",
        NOT_OFFICIAL.format("fashion_mnist"),
    ),
    DataCase(
        "wrong number of dimensions",
        replaced("t10k-labels-idx1-ubyte", lambda path: gzip.compress(idx_bytes(np.zeros((10000, 1, 1), np.uint8)))),
        load(),
        "t10k-labels-idx1-ubyte.gz has shape (10000, 1, 1), expected (10000,)",
        NOT_OFFICIAL.format("fashion_mnist"),
    ),
    DataCase(
        "checksum mismatch",
        replaced("train-labels-idx1-ubyte", _relabelled),
        load(),
        "train-labels-idx1-ubyte.gz fails its sha256 check",
        "Fix: replace the file with the official one",
    ),
    DataCase(
        "MNIST files in the Fashion-MNIST folder",
        swapped,
        load(),
        (
            "fashion-mnist/train-images-idx3-ubyte.gz is the official mnist file train-images-idx3-ubyte",
            "mnist instead of fashion_mnist",
        ),
        "check that MNIST and Fashion-MNIST files were not swapped",
        "fails its sha256 check",
    ),
    DataCase(
        "images and labels swapped (official files under each other's names)",
        renamed(("train-images-idx3-ubyte", "train-labels-idx1-ubyte")),
        load(),
        (
            "The fashion_mnist files are official files under the wrong names (images and labels swapped)",
            "fashion-mnist/train-images-idx3-ubyte.gz is the official fashion_mnist file train-labels-idx1-ubyte",
            "fashion-mnist/train-labels-idx1-ubyte.gz is the official fashion_mnist file train-images-idx3-ubyte",
        ),
        "Fix: rename each file to the name of the official file it is",
        ("not the official", "has shape"),
    ),
    DataCase(
        "train and test swapped (official files under each other's names)",
        renamed(("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"), ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")),
        load(),
        (
            "official files under the wrong names (train and test swapped)",
            "fashion-mnist/t10k-labels-idx1-ubyte.gz is the official fashion_mnist file train-labels-idx1-ubyte",
        ),
        "Fix: rename each file to the name of the official file it is",
        ("not the official", "has shape", "images and labels"),
    ),
    DataCase(
        "IDX header declares 28x29 images, the data are 28x28",
        replaced("t10k-images-idx3-ubyte", _header_28_by_29),
        load(),
        (
            "t10k-images-idx3-ubyte.gz has a wrong shape in its IDX header (expected 28×28, got 28×29)",
            "declares shape (10000, 28, 29) (8120000 bytes) where the official file's is (10000, 28, 28)",
            "the 7840000 bytes of data that follow are exactly what the official shape holds",
        ),
        "Fix: copy the official file again",
        ("truncated or padded", "holds 7840000 bytes of data"),
    ),
    DataCase(
        "empty dataset folder",
        emptied(MNIST),
        load("mnist"),
        (
            "Dataset 'mnist' not found",
            "data folder (IDX files): {data}/mnist (mnist is an empty folder: it should hold the four IDX files "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
        ),
        (FIX_FILES, "into {data}/mnist/"),
        "a folder, not a file",
    ),
    DataCase(
        "dataset folder holding other files only",
        emptied(MNIST, "mnist.zip", "README"),
        load("mnist"),
        "(mnist holds none of the four IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (it holds README, mnist.zip))",
        (FIX_FILES, "into {data}/mnist/"),
        "a folder, not a file",
    ),
    DataCase(
        ".npz with wrong keys",
        npz(lambda mnist: {"images": mnist.x_test[:2]}),
        load("mnist"),
        "mnist.npz lacks the arrays ['x_train', 'y_train', 'x_test', 'y_test'] (it holds ['images'])",
        "Fix: use the mnist.npz that keras.datasets.mnist downloads",
    ),
    DataCase(
        ".npz with pickled objects",
        npz(lambda mnist: {split: np.array([object()] * 3, dtype=object) for split in data.SPLITS}),
        load("mnist"),
        "mnist.npz stores Python objects, which are never loaded",
        "Fix: save plain uint8 arrays with numpy.savez",
    ),
    DataCase(
        ".npz with float images",
        npz(lambda mnist: official(mnist) | {"x_train": mnist.x_train.astype(np.float32)}),
        load("mnist"),
        "array 'x_train' of {data}/mnist.npz has dtype float32, expected uint8",
        "Fix: use the official mnist files",
    ),
    DataCase(
        ".npz with wrong counts",
        npz(lambda mnist: official(mnist) | {"x_test": mnist.x_test[:100]}),
        load("mnist"),
        "array 'x_test' of {data}/mnist.npz has shape (100, 28, 28), expected (10000, 28, 28)",
        NOT_OFFICIAL.format("mnist"),
    ),
    DataCase(
        ".npz with a changed label",
        npz(lambda mnist: official(mnist) | {"y_test": (mnist.y_test + 1) % 10}),
        load("mnist"),
        "array 'y_test' of {data}/mnist.npz fails its sha256 check",
        "Fix: replace the file with the official one",
    ),
    DataCase(
        ".npz that starts as a zip archive and stops",
        npz(b"PK\x03\x04 not really a zip"),
        load("mnist"),
        ("mnist.npz is truncated", "its end, the archive's table of contents, is missing"),
        "Fix: copy the official mnist.npz again, completely",
    ),
    DataCase(
        ".npz cut in half",
        lambda tree: (npz(official)(tree), truncate(tree.data_dir / data.SPECS["mnist"].npz_name)),
        load("mnist"),
        "mnist.npz is truncated",
        "Fix: copy the official mnist.npz again, completely",
    ),
    DataCase(
        "a folder where an IDX file should be",
        lambda tree: (
            (tree.data_dir / FASHION / "t10k-labels-idx1-ubyte.gz").unlink(),
            (tree.data_dir / FASHION / "t10k-labels-idx1-ubyte.gz").mkdir(),
        ),
        load(),
        "t10k-labels-idx1-ubyte.gz is a folder, not a file",
        "Fix: put the official file t10k-labels-idx1-ubyte.gz there in its place",
    ),
    DataCase(
        "a symbolic link that loops where an IDX file should be",
        lambda tree: (
            (tree.data_dir / FASHION / "t10k-labels-idx1-ubyte.gz").unlink(),
            os.symlink("t10k-labels-idx1-ubyte.gz", tree.data_dir / FASHION / "t10k-labels-idx1-ubyte.gz"),
        ),
        load(),
        "t10k-labels-idx1-ubyte.gz is a symbolic link that loops back on itself",
        "Fix: put the official file t10k-labels-idx1-ubyte.gz there in its place",
    ),
    DataCase(
        "a symbolic link to nowhere where an IDX file should be",
        lambda tree: (
            (tree.data_dir / FASHION / "t10k-labels-idx1-ubyte.gz").unlink(),
            os.symlink("/nonexistent/labels.gz", tree.data_dir / FASHION / "t10k-labels-idx1-ubyte.gz"),
        ),
        load(),
        "t10k-labels-idx1-ubyte.gz is a symbolic link to /nonexistent/labels.gz, which does not exist",
        "Fix: put the official file t10k-labels-idx1-ubyte.gz there in its place",
    ),
    DataCase(
        ".npz that is plain text",
        npz(b"x_train,y_train\n1,2\n"),
        load("mnist"),
        ("mnist.npz is not a readable .npz file: it is not a zip archive", "starting b'x_train,y_train"),
        "Fix: copy the official mnist.npz again",
    ),
    DataCase(
        "data folder parameter names a file",
        lambda tree: (shutil.rmtree(tree.data_dir), tree.data_dir.write_text("not a folder")),
        load(),
        ("Dataset 'fashion_mnist' not found", "The data folder {data} is a file, not a folder"),
        (f"point ${paths.DATA_DIR_ENV}", "at a folder that holds them"),
    ),
    DataCase(
        "IDX file padded past its declared size",
        replaced("t10k-labels-idx1-ubyte", lambda path: gzip.compress(idx_bytes(np.zeros(10000, np.uint8)) + bytes(50))),
        load(),
        "declares shape (10000,) (10000 bytes) but holds more data than that",
        "Fix: the file is truncated or padded; copy the official file again",
    ),
    DataCase(
        "gzip that inflates far past any IDX file",
        replaced("t10k-images-idx3-ubyte", lambda path: gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 10**6, 28, 28))),
        load(),
        "t10k-images-idx3-ubyte.gz declares 784000000 bytes of data, more than any MNIST-style file holds",
        "it was not read further. Fix: replace it with the official file",
    ),
    DataCase(
        ".npz empty",
        npz(b""),
        load("mnist"),
        "mnist.npz is not a readable .npz file",
        "Fix: copy the official mnist.npz again",
    ),
    DataCase(
        f"download needed while offline (${paths.OFFLINE_ENV}=1)",
        offline,
        load(),
        ("Dataset 'fashion_mnist' not found", f"downloads are switched off (${paths.OFFLINE_ENV} is set"),
        ("unset it to let Keras download the dataset", "into {data}/fashion-mnist/"),
    ),
    DataCase(
        "download needed while switched off (allow_download=False)",
        online,
        lambda tree: data.load_dataset("fashion_mnist", tree.data_dir, allow_download=False),
        ("Dataset 'fashion_mnist' not found", "downloads are switched off (allow_download=False"),
        ("pass allow_download=True", "into {data}/fashion-mnist/"),
    ),
    DataCase(
        "download fails (no network)",
        unreachable,
        load(),
        "the download failed (Temporary failure in name resolution)",
        ("Fix: on a machine without internet, copy the files into {data}/fashion-mnist/", f"set ${paths.OFFLINE_ENV}=1"),
    ),
    DataCase(
        "download delivers other data",
        tampered_download,
        load("mnist"),
        "y_test from Keras download fails its sha256 check",
        "Fix: replace the file with the official one",
    ),
    DataCase(
        "subset larger than the training set",
        None,
        lambda tree: data.subset(tree.loaded("fashion"), train_size=60001),
        "A stratified subset of 60001 items needs between 10 (one per class) and 60000 (all items)",
        "Fix: choose a size in that range (0 means the full set)",
    ),
    DataCase(
        "subset smaller than the number of classes",
        None,
        lambda tree: data.subset(tree.loaded("fashion"), test_size=5),
        "A stratified subset of 5 items needs between 10",
        "Fix: choose a size in that range",
    ),
    DataCase(
        "unknown dataset",
        None,
        lambda tree: data.load_dataset("cifar10", tree.data_dir),
        "Unknown dataset 'cifar10'",
        "choose one of fashion_mnist, mnist",
    ),
]


@pytest.mark.parametrize("row", DATA_CASES, ids=[row.case for row in DATA_CASES])
def test_bad_data_is_named_with_its_fix_and_writes_nothing(row: DataCase, tree: Tree):
    if row.prepare:
        row.prepare(tree)
    before = snapshot(tree.root)
    with pytest.raises(datafiles.DataError) as caught:
        row.call(tree)
    assert type(caught.value) is datafiles.DataError
    assert_names_problem_and_fix(str(caught.value), row.problem, row.fix, tree.folders())
    for fragment in (row.misleading,) if isinstance(row.misleading, str) else row.misleading:
        assert fragment not in str(caught.value), f"the message says {fragment!r}, which is not the problem:\n{caught.value}"
    assert snapshot(tree.root) == before, "the failing call changed, added or removed files"


# ---------------------------------------------------------------- parameters


def notebook(**overrides) -> Callable[[Tree], object]:
    """A notebook's parameters cell with these values, as papermill injects them."""
    return lambda tree: run_parameters(tree, **overrides)


def parser(function: Callable) -> Callable[..., Callable[[Tree], object]]:
    """A parameter that a notebook checks with its own parser (kernels, mode, shifts...): value → call."""
    return lambda value: lambda tree: function(value)


kernels = parser(config.parse_kernel_sizes)
first_kernel = parser(lambda size: models.cnn_config("fashion_mnist", size))  # the entry script's --first-kernel
variant_seeds = parser(lambda value: config.parse_variant_seeds(value, "full"))
mode = parser(config.parse_mode)
check_settings = parser(lambda value: config.parse_flag("check_settings", value))
max_shift = parser(config.parse_max_shift)
augmentation_shift = parser(config.parse_augmentation_shift)
datasets = parser(config.parse_datasets)

PE = config.ParameterError
SET_EPOCHS = "set epochs to a whole number ≥ 1, e.g. epochs=15, or to 'auto' for the profile's value"
SET_BATCH = "set batch_size to a whole number ≥ 1, e.g. batch_size=32, or to 'auto'"
GIVE_SEEDS = "give seeds as whole numbers ≥ 0, e.g. seeds='0,1,2'"
NOT_A_LIST = "seeds must be a list of integers or a comma-separated string, got"
SET_TRAIN = "set train_size to 0 (the full set) or to a whole number from 10 to 60000"
SET_TEST = "set test_size to 0 (the full set) or to a whole number from 10 to 10000"
GIVE_KERNELS = "give kernels as odd whole numbers from 1 to 28, e.g. kernels='3,5,7'"
ODD_KERNELS = "use odd sizes from 1 to 28"
ODD_KERNEL = "use an odd size from 1 to 28"
LOCAL_OR_AWS = "use 'local' (offline) or 'aws'"
PARAMETER_CASES = [  # (case, call, error, problem, fix); "(-p)": the text papermill's -p passes
    ("dataset unknown", notebook(dataset="cifar10"), PE, "Unknown dataset 'cifar10'", "choose one of fashion_mnist, mnist"),
    ("dataset empty", notebook(dataset=""), PE, "Unknown dataset ''", "choose one of fashion_mnist, mnist"),
    ("dataset a number", notebook(dataset=3), PE, "Unknown dataset 3", "choose one of fashion_mnist, mnist"),
    ("epochs '0' (-p)", notebook(epochs="0"), PE, "epochs must be at least 1, got 0", SET_EPOCHS),
    ("epochs '-1' (-p)", notebook(epochs="-1"), PE, "epochs must be at least 1, got -1", SET_EPOCHS),
    ("epochs -1", notebook(epochs=-1), PE, "epochs must be at least 1, got -1", SET_EPOCHS),
    ("epochs 'ten' (-p)", notebook(epochs="ten"), PE, "epochs must be an integer, got 'ten'", SET_EPOCHS),
    ("epochs '3.5' (-p)", notebook(epochs="3.5"), PE, "epochs must be an integer, got '3.5'", SET_EPOCHS),
    ("epochs 3.5", notebook(epochs=3.5), PE, "epochs must be an integer, got 3.5", SET_EPOCHS),
    ("epochs 'True' (-p)", notebook(epochs="True"), PE, "epochs must be an integer, got 'True'", SET_EPOCHS),
    ("epochs True", notebook(epochs=True), PE, "epochs must be an integer, got the boolean True", SET_EPOCHS),
    ("epochs a list", notebook(epochs=[3]), PE, "epochs must be an integer, got [3]", SET_EPOCHS),
    ("seeds ',' (-p)", notebook(seeds=","), PE, "seeds is empty", "give at least one seed, e.g. seeds='0'"),
    ("seeds []", notebook(seeds=[]), PE, "seeds is empty", "give at least one seed, e.g. seeds='0'"),
    ("seeds '0,0' (-p)", notebook(seeds="0,0"), PE, "seeds has duplicates [0, 0]", "name each seed once"),
    ("seeds 'a,b' (-p)", notebook(seeds="a,b"), PE, "each of seeds must be an integer, got 'a'", GIVE_SEEDS),
    ("seeds '-1' (-p)", notebook(seeds="-1"), PE, "each of seeds must be at least 0, got -1", GIVE_SEEDS),
    ("seeds True", notebook(seeds=True), PE, f"{NOT_A_LIST} True", GIVE_SEEDS),
    ("seeds 1.5", notebook(seeds=1.5), PE, f"{NOT_A_LIST} 1.5", GIVE_SEEDS),
    ("seeds a dict", notebook(seeds={"seed": 0}), PE, f"{NOT_A_LIST} {{'seed': 0}}", GIVE_SEEDS),
    ("train_size 60001", notebook(train_size=60001), PE, "train_size=60001 is larger than the 60000 images", SET_TRAIN),
    ("test_size '10001' (-p)", notebook(test_size="10001"), PE, "test_size=10001 is larger than the 10000 images", SET_TEST),
    ("train_size 5", notebook(train_size=5), PE, "train_size=5 is smaller than the 10 classes", SET_TRAIN),
    ("test_size '-1' (-p)", notebook(test_size="-1"), PE, "test_size must be at least 0, got -1", SET_TEST),
    ("train_size '' (-p)", notebook(train_size=""), PE, "train_size must be an integer, got ''", SET_TRAIN),
    ("train_size '0.5' (-p)", notebook(train_size="0.5"), PE, "train_size must be an integer, got '0.5'", SET_TRAIN),
    ("test_size False", notebook(test_size=False), PE, "test_size must be an integer, got the boolean False", SET_TEST),
    ("batch_size 0", notebook(batch_size=0), PE, "batch_size must be at least 1, got 0", SET_BATCH),
    ("batch_size 'True' (-p)", notebook(batch_size="True"), PE, "batch_size must be an integer, got 'True'", SET_BATCH),
    ("profile unknown", notebook(profile="fast"), PE, "profile='fast' is not a profile", "use 'auto', 'quick', 'full', 'gpu'"),
    ("kernels '' (-p)", kernels(""), PE, "kernels is empty", "give at least one kernel size, e.g. kernels='3,5,7'"),
    ("kernels even", kernels("3,4"), PE, "Kernel size 4 is invalid", ODD_KERNELS),
    ("kernels 0", kernels("0"), PE, "each of kernels must be at least 1, got 0", GIVE_KERNELS),
    ("kernels negative", kernels("-3"), PE, "each of kernels must be at least 1, got -3", GIVE_KERNELS),
    ("kernels 29 (larger than the image)", kernels("29"), PE, "Kernel size 29 is invalid", ODD_KERNELS),
    ("kernels '3,3' (-p)", kernels("3,3"), PE, "kernels has duplicates [3, 3]", "name each kernel size once"),
    ("kernels 'x' (-p)", kernels("x"), PE, "each of kernels must be an integer, got 'x'", GIVE_KERNELS),
    ("kernels True", kernels(True), PE, "kernels must be a list of integers or a comma-separated string, got True", GIVE_KERNELS),
    ("kernels a dict", kernels({"first": 3}), PE, "kernels must be a list of integers", GIVE_KERNELS),
    ("entry script kernel even", first_kernel(4), ValueError, "Kernel size 4 is invalid", ODD_KERNEL),
    ("entry script kernel 0", first_kernel(0), ValueError, "Kernel size 0 is invalid", ODD_KERNEL),
    ("entry script kernel -1", first_kernel(-1), ValueError, "Kernel size -1 is invalid", ODD_KERNEL),
    ("entry script kernel 29", first_kernel(29), ValueError, "Kernel size 29 is invalid", ODD_KERNEL),
    ("variant seeds 'a' (-p)", variant_seeds("a"), PE, "each of seeds must be an integer, got 'a'", GIVE_SEEDS),
    ("mode unknown", mode("sagemaker"), PE, "mode='sagemaker' is not a mode", LOCAL_OR_AWS),
    ("mode empty", mode(""), PE, "mode='' is not a mode", LOCAL_OR_AWS),
    ("mode None", mode(None), PE, "mode=None is not a mode", LOCAL_OR_AWS),
    ("flag not yes/no", check_settings("maybe"), PE, "check_settings='maybe' is not a yes/no value", "use True or False"),
    ("max_shift 0", max_shift(0), PE, "max_shift must be at least 1, got 0", "set max_shift to a whole number from 1 to 27"),
    ("max_shift '28' (-p)", max_shift("28"), PE, "max_shift=28 moves a 28-pixel image out of the frame", "use 1 to 27"),
    ("augmentation_shift 8", augmentation_shift(8), PE, "augmentation_shift=8 would push", "use 1 to 7 pixels"),
    ("augmentation_shift 'two' (-p)", augmentation_shift("two"), PE, "got 'two'", "set augmentation_shift to a whole number"),
    ("datasets only one", datasets("mnist"), PE, "datasets='mnist' names 1 dataset(s)", "a comparison needs two, e.g."),
    ("datasets unknown", datasets("mnist,cifar"), PE, "Unknown dataset(s) ['cifar']", "choose from fashion_mnist, mnist"),
]


@pytest.mark.parametrize("case, call, error, problem, fix", PARAMETER_CASES, ids=[row[0] for row in PARAMETER_CASES])
def test_bad_parameter_is_named_with_its_fix_and_writes_nothing(case, call, error, problem, fix, tree: Tree):
    before = snapshot(tree.root)
    with pytest.raises(error) as caught:
        call(tree)
    assert type(caught.value) is error
    assert_names_problem_and_fix(str(caught.value), problem, fix, tree.folders())
    assert snapshot(tree.root) == before, "the failing call changed, added or removed files"


# ---------------------------------------------------------------- the endpoint


def entry_script():
    """The training entry script as a module (it ships on its own, outside the package)."""
    spec = importlib.util.spec_from_file_location("convlab_entry_train", artifact.ENTRY_DIR / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def untrained_artifact(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("artifact")
    model = models.build_model(models.fc_baseline_config("fashion_mnist"))
    entry_script().export_for_serving(model, folder / "model", data.SPECS["fashion_mnist"].class_names)
    return folder, artifact.pack_model(folder / "model", folder / "model.tar.gz")


@pytest.fixture(scope="module")
def fallback_served(tmp_path_factory):
    folder, tarball = untrained_artifact(tmp_path_factory)
    with endpoint.LocalEndpoint(tarball, max_body_bytes=1_000_000, read_timeout=1.0) as server:
        yield server, folder


@pytest.fixture(scope="module", params=["container", "fallback"])
def served(request, tmp_path_factory):
    """An untrained FC network exported, packed and served as a training job's artifact would be.

    Served by the TF Serving container's own front-end (the image mode aws deploys to) and by the fallback
    endpoint: both must answer alike. Bad requests are refused before the model is called, so its weights
    do not matter here.
    """
    from convlab.serving import container

    folder, tarball = untrained_artifact(tmp_path_factory)
    if request.param == "container":
        if not container.reference_available(artifact.SERVING_IMAGE_VERSION):
            pytest.skip(f"the containers' reference front-end is not in {container.reference_dir()}")
        server = container.ContainerEndpoint(tarball, artifact.SERVING_IMAGE_VERSION)
    else:
        server = endpoint.LocalEndpoint(tarball, max_body_bytes=1_000_000)
    with server:
        yield server, folder


def post(url: str, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}{path}", data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def instances(images: object, **fields) -> bytes:
    return json.dumps({"instances": images} | fields).encode()


IMAGE = [[0] * 28 for _ in range(28)]
JSON, CSV, URL = "application/json", "text/csv", "/invocations"
SEND_784 = "send 784 numbers per image"
SCALE = 'scale them, or declare "value_range" ("0-255" or "0-1")'
NAN = b'{"instances": [[' + b",".join([b"NaN"] * 784) + b"]]}"
INFINITE = NAN.replace(b"NaN", b"Infinity")
SEND_NUMBERS = "send numbers only"
DEEP = b'{"instances": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
ENDPOINT_CASES = [  # (case, path, body, content type, status, problem, fix)
    ("not JSON", URL, b"{instances: oops", JSON, 400, "The body is not valid JSON", 'send {"instances": [[784 numbers], ...]}'),
    ("no instances key", URL, b'{"images": []}', JSON, 400, 'The JSON body has no "instances" key', 'send {"instances": [image'),
    ("a JSON list, not an object", URL, b"[1, 2]", JSON, 400, 'no "instances" key', 'send {"instances": [image, ...]}'),
    ("instances a string", URL, b'{"instances": "x.png"}', JSON, 400, '"instances" is a string', "send a list of images"),
    ("instances an object", URL, b'{"instances": {"a": 1}}', JSON, 400, '"instances" is an object', "send a list of images"),
    (
        "value_range a list",
        URL,
        instances([IMAGE], value_range=[0, 1]),
        JSON,
        400,
        '"value_range" is a list',
        'the string "0-255"',
    ),
    ("value_range a number", URL, instances([IMAGE], value_range=255), JSON, 400, '"value_range" is a number', '"0-1"'),
    ("nested 50,000 deep", URL, DEEP, JSON, 400, "nested too deeply", "an image is at most 28×28×1"),
    ("an image that is a number", URL, instances([7]), JSON, 400, "Image 0 is a number", "send each image as 784 numbers"),
    ("wrong shape", URL, instances([[1, 2, 3]]), JSON, 400, "Image 0 has shape 3", "each image must be 28×28"),
    ("ragged images", URL, instances([IMAGE, [[0] * 27] * 28]), JSON, 400, "Image 1 has shape 28×27", "each image must be 28×28"),
    ("non-numeric", URL, instances([[["a"] * 28] * 28]), JSON, 400, "Image 0 holds a string where a pixel", SEND_NUMBERS),
    ("booleans as pixels", URL, instances([[True] * 784]), JSON, 400, "Image 0 holds a boolean where a pixel", SEND_NUMBERS),
    ("null as a pixel", URL, instances([[None] * 784]), JSON, 400, "Image 0 holds null where a pixel", SEND_NUMBERS),
    ("NaN", URL, NAN, JSON, 400, "The images contain NaN or infinite values", "send finite pixel values"),
    ("infinite", URL, INFINITE, JSON, 400, "The images contain NaN or infinite values", "send finite pixel values"),
    ("out of range", URL, instances([[[300] * 28] * 28]), JSON, 400, "Pixel values span 300 to 300, outside 0-255", SCALE),
    ("negative", URL, instances([[[-1] * 28] * 28]), JSON, 400, "Pixel values span -1 to -1, outside 0-255", SCALE),
    ("over 1 in unit range", URL, instances([[[2] * 28] * 28], value_range="0-1"), JSON, 400, "span 2 to 2, outside 0-1", SCALE),
    ("unknown value range", URL, instances([IMAGE], value_range="0-100"), JSON, 400, "\"value_range\" is '0-100'", 'or "0-1"'),
    ("empty body", URL, b"", JSON, 400, "The request body is empty", "send at least one 28×28 image"),
    ("empty list", URL, instances([]), JSON, 400, "No images in the request", "send a non-empty list of 28×28 images"),
    ("too many images", URL, instances([[0] * 784] * 257), JSON, 413, "257 images in one request; the limit is 256", "split"),
    ("unsupported content type", URL, b"\x89PNG", "image/png", 415, "'image/png' is not supported", "use application/json or"),
    ("CSV with text", URL, b"a,b,c", CSV, 400, "CSV line 1 holds a value that is not a number", "send 784 numbers per line"),
    ("CSV not UTF-8", URL, b"\xff\xfe\x00", CSV, 400, "The CSV body is not UTF-8 text", "send one image per line, 784 values"),
]
FALLBACK_ONLY_CASES = [  # SageMaker Runtime's payload cap and routing happen before the container's front-end
    ("body over the size cap", URL, b"0" * 1_100_000, JSON, 413, "1100000 bytes; the limit is 1000000", "split the batch"),
    ("unknown route", "/predict", b"{}", JSON, 404, "No route POST /predict", "use POST /invocations"),
]


@pytest.mark.parametrize(
    "case, path, body, content_type, status, problem, fix", ENDPOINT_CASES, ids=[row[0] for row in ENDPOINT_CASES]
)
def test_bad_request_gets_a_4xx_naming_its_fix_and_the_endpoint_keeps_serving(
    case, path, body, content_type, status, problem, fix, served
):
    server, tarball = served
    before = snapshot(tarball)
    answer_status, answer = post(server.url, path, body, content_type)
    assert answer_status == status, answer
    assert_names_problem_and_fix(client.error_message(answer), problem, fix, {})
    assert urllib.request.urlopen(f"{server.url}/ping").status == 200, "the endpoint keeps serving"
    good_status, good = client.invoke(server.url, client.json_body(np.zeros((1, 28, 28))))
    assert good_status == 200 and len(good["predictions"]) == 1
    assert snapshot(tarball) == before, "the artifact the endpoint serves is unchanged"


@pytest.mark.parametrize(
    "case, path, body, content_type, status, problem, fix", FALLBACK_ONLY_CASES, ids=[row[0] for row in FALLBACK_ONLY_CASES]
)
def test_the_fallback_refuses_what_sagemaker_refuses_before_the_container(
    case, path, body, content_type, status, problem, fix, fallback_served
):
    server, _ = fallback_served
    answer_status, answer = post(server.url, path, body, content_type)
    assert answer_status == status, answer
    assert_names_problem_and_fix(client.error_message(answer), problem, fix, {})
    assert urllib.request.urlopen(f"{server.url}/ping").status == 200, "the endpoint keeps serving"


def raw_exchange(url: str, request: bytes, *, hang_up: bool = True, timeout: float = 30) -> tuple[int, dict]:
    """Send bytes as they are on one connection; the status and JSON body of the answer (0, {} if none came)."""
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        if hang_up:
            connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(1 << 16):
            answer += chunk
    if not answer:
        return 0, {}
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body or b"{}")


def framed(header: str, body: bytes) -> bytes:
    return f"POST /invocations HTTP/1.1\r\nHost: endpoint\r\nContent-Type: application/json\r\n{header}\r\n\r\n".encode() + body


FRAMING_CASES = [  # (case, request, keep the connection open, status, problem, fix)
    ("negative Content-Length", framed("Content-Length: -5", b""), False, 400, "Content-Length '-5' is not a byte count",
     "send the body's length in bytes"),
    ("Content-Length not a number", framed("Content-Length: ten", b"{}"), False, 400, "'ten' is not a byte count",
     "send the body's length in bytes"),
    ("body shorter than its Content-Length", framed("Content-Length: 100", b'{"instances"'), True, 408,
     "The body ended after 12 of the 100 bytes", "send the whole body, or the right Content-Length"),
    ("chunked body", framed("Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n"), False, 411,
     "A chunked body is not supported", "with a Content-Length header"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, request_bytes, keep_open, status, problem, fix", FRAMING_CASES, ids=[row[0] for row in FRAMING_CASES]
)
def test_malformed_http_framing_gets_an_answer_naming_its_fix(
    case, request_bytes, keep_open, status, problem, fix, fallback_served
):
    """The fallback endpoint answers every framing error, within its read timeout, and keeps serving."""
    server, _ = fallback_served
    answer_status, answer = raw_exchange(server.url, request_bytes, hang_up=not keep_open)
    assert answer_status == status, answer
    assert_names_problem_and_fix(client.error_message(answer), problem, fix, {})
    good_status, _ = client.invoke(server.url, client.json_body(np.zeros((1, 28, 28))))
    assert good_status == 200, "the endpoint keeps serving"


def test_a_client_that_hangs_up_early_leaves_no_traceback(fallback_served, capfd):
    import socket
    import time

    server, _ = fallback_served
    host, port = server.address
    for _ in range(3):
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(framed("Content-Length: 5000", b'{"instances": [[0,'))
    time.sleep(0.5)  # the server reads to the end of what was sent, then answers into a closed connection
    good_status, _ = client.invoke(server.url, client.json_body(np.zeros((1, 28, 28))))
    assert good_status == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_gzip_that_inflates_past_its_declared_size_is_read_no_further(tmp_path):
    """A valid header declaring 47 MB followed by 200 MB of zeros: refused having read at most the declared size."""
    import tracemalloc
    import zlib

    path = tmp_path / "train-images-idx3-ubyte.gz"
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing
    with path.open("wb") as handle:
        handle.write(compressor.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 60000, 28, 28)))
        for _ in range(247):
            handle.write(compressor.compress(bytes(1 << 20)))
        handle.write(compressor.flush())
    assert path.stat().st_size < 2_000_000  # a small file that inflates to 247 MB
    tracemalloc.start()
    declared = r"declares shape \(60000, 28, 28\) \(47040000 bytes\) but holds more data than that"
    with pytest.raises(datafiles.DataError, match=declared):
        datafiles.read_idx(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3 * 47_040_000, f"{peak / 1e6:.0f} MB held while reading (the declared size, and one copy)"


def test_a_client_that_accepts_no_json_gets_406_from_either_endpoint(served):
    """The answer is JSON: Accept: text/csv is refused with 406 before any work, by the container's front end (2.20
    keeps the handler's status) and by the fallback alike. The fallback's body names the fix; the container's falcon
    serialises its error only in a type the client accepts, so there the body is empty (docs/sagemaker.md)."""
    server, _ = served
    request = urllib.request.Request(
        f"{server.url}/invocations",
        data=client.json_body(np.zeros((1, 28, 28))),
        headers={"Content-Type": JSON, "Accept": "text/csv"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 406
    body = refused.value.read()
    if isinstance(server, endpoint.LocalEndpoint):
        message = client.error_message(json.loads(body))
        assert "Accept: text/csv rules out" in message and "send Accept: application/json or omit it" in message
    else:
        assert body == b"", "falcon has no text/csv serialiser for its errors"
    for accepted in ("application/json", "*/*", "text/csv, application/json;q=0.5", "application/*"):
        request.headers["Accept"] = accepted
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert answer.status == 200, accepted


METHOD_CASES = [  # (case, raw request, status, Allow header, problem, fix)
    ("PUT /invocations", b"PUT /invocations HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n", 405, "POST",
     "/invocations takes POST, not PUT", "POST"),
    ("GET /invocations", b"GET /invocations HTTP/1.1\r\nHost: e\r\n\r\n", 405, "POST",
     "/invocations takes POST, not GET", "POST"),
    ("POST /ping", b"POST /ping HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n", 405, "GET",
     "/ping takes GET, not POST", "GET"),
    ("DELETE elsewhere", b"DELETE /models HTTP/1.1\r\nHost: e\r\n\r\n", 404, None, "No route DELETE /models",
     "use GET /ping or POST /invocations"),
    ("unknown method", b"BREW /invocations HTTP/1.1\r\nHost: e\r\n\r\n", 405, "GET, POST", "Method BREW is not allowed",
     "use GET /ping or POST /invocations"),
    ("garbage request line", b"\x16\x03\x01 hello\r\n\r\n", 400, None, "Bad HTTP/0.9 request type",
     "send an HTTP/1.1 request"),
    ("request line without a version", b"GARBAGE\r\n\r\n", 400, None, "Bad request", "send an HTTP/1.1 request"),
]  # fmt: skip


@pytest.mark.parametrize("case, raw, status, allow, problem, fix", METHOD_CASES, ids=[row[0] for row in METHOD_CASES])
def test_a_wrong_method_or_a_garbled_request_gets_a_json_answer_with_a_status_line(
    case, raw, status, allow, problem, fix, fallback_served
):
    import socket

    server, _ = fallback_served
    host, port = server.address
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(1 << 16):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1."), "a status line, whatever the request line was"
    assert int(head.split()[1]) == status
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert headers.get("Content-Type") == "application/json" and headers.get("Allow") == allow
    assert_names_problem_and_fix(client.error_message(json.loads(body)), problem, fix, {})
    assert urllib.request.urlopen(f"{server.url}/ping").status == 200, "the endpoint keeps serving"


def test_a_body_shorter_than_announced_is_answered_within_the_stated_read_timeout(tmp_path_factory):
    """With the default read timeout, a stalled body is answered 408 in about 2 s, well before a client's usual 10 s."""
    import time

    _, tarball = untrained_artifact(tmp_path_factory)
    with endpoint.LocalEndpoint(tarball) as server:
        started = time.monotonic()
        status, answer = raw_exchange(server.url, framed("Content-Length: 100", b'{"instances"'), hang_up=False)
        waited = time.monotonic() - started
    assert status == 408 and f"waited {endpoint.READ_TIMEOUT:g} s for the rest" in client.error_message(answer)
    assert endpoint.READ_TIMEOUT <= waited < endpoint.READ_TIMEOUT + 3
