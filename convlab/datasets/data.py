"""Fashion-MNIST and MNIST: find the files, read them, verify them, subset them.

`load_dataset(name)` returns uint8 images (N×28×28) and labels. Sources are
tried in order: the data folder (IDX files or `mnist.npz`), the Debian package
folder, the Keras cache, and finally a download through the Keras loaders.
The first source that holds any file for the dataset is used; if it is broken
the error says so instead of silently falling through to another source.
Every source is verified against the sha256 of the decompressed IDX payloads.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from convlab.datasets.datafiles import SPLITS, DataError, idx_sha256, read_idx, read_npz, shape_difference
from convlab.datasets.specs import EXPECTED_SHAPES, IDX_NAMES, OFFICIAL_FILES, SPECS, DatasetSpec
from convlab.study import config, paths


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 (N×28×28) and labels as uint8 (N,), plus where they came from."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def source_kind(self) -> str:
        """The kind of source without its folder ("data folder (IDX files)", "Keras cache", "Keras download"...)."""
        return self.source.split(": ", 1)[0]

    def describe(self) -> dict:
        """Sizes, the kind of source and the payloads' checksums, for result records: no folder of this machine (a
        published record would carry the build machine's path; the checksums say which files were read)."""
        return {
            "name": self.name,
            "train_size": int(len(self.y_train)),
            "test_size": int(len(self.y_test)),
            "source": self.source_kind,
            "sha256": SPECS[self.name].sha256,
        }


@dataclass(frozen=True)
class Source:
    """One place a dataset may come from."""

    description: str
    kind: str  # "idx", "npz" or "download"
    path: Path | None = None

    def is_present(self) -> bool:
        if self.kind == "download":
            return True
        if self.kind == "npz":
            return self.path is not None and self.path.is_file()
        return (
            self.path is not None
            and self.path.is_dir()
            and any(_idx_file(self.path, stem) is not None for stem in IDX_NAMES.values())
        )

    def __str__(self) -> str:
        return f"{self.description}: {self.path}" if self.path else self.description


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a dataset by name, with a clear error for unknown names."""
    if name not in SPECS:
        raise DataError(f"Unknown dataset {name!r}: choose one of {', '.join(SPECS)}.")
    return SPECS[name]


def candidate_sources(name: str, data_dir: str | Path | None = None) -> list[Source]:
    """Every place searched for a dataset, in order of preference."""
    spec = dataset_spec(name)
    root = paths.resolve_data_dir(data_dir)
    sources = [
        Source("data folder (IDX files)", "idx", root / spec.folder),
        Source("data folder (.npz)", "npz", root / spec.npz_name),
        Source("data folder (.npz)", "npz", root / spec.folder / spec.npz_name),
    ]
    if spec.debian_folder:
        sources.append(Source("Debian package", "idx", paths.DEBIAN_DATASETS_DIR / spec.debian_folder))
    cache = paths.keras_cache_dir()
    if spec.name == "mnist":
        sources.append(Source("Keras cache", "npz", cache / spec.npz_name))
    else:
        sources.append(Source("Keras cache", "idx", cache / spec.folder))
    return sources


def load_dataset(name: str, data_dir: str | Path | None = None, *, allow_download: bool | None = None) -> Dataset:
    """Load a dataset as uint8 arrays from the first source that holds it, verified by sha256."""
    spec = dataset_spec(name)
    sources = candidate_sources(name, data_dir)
    for source in sources:
        if source.is_present():
            arrays = _read_source(spec, source)
            return _verified_dataset(spec, arrays, source)
    if allow_download is None:
        switch = f"${paths.OFFLINE_ENV} is set; unset it to let Keras download the dataset"
        allow_download = paths.downloads_allowed()
    else:
        switch = "allow_download=False; pass allow_download=True to let Keras download the dataset"
    if not allow_download:
        raise DataError(_not_found_message(spec, sources, data_dir, switch))
    arrays = _download(spec, sources, data_dir)
    return _verified_dataset(spec, arrays, "Keras download")


def _not_found_message(spec: DatasetSpec, sources: list[Source], data_dir: str | Path | None, switch: str) -> str:
    """What was searched and every way to provide the files; `switch` says what turned downloads off and how to undo it."""
    searched = "\n".join(
        f"  - {source}" + (f" ({source.path.name} {source_problem(source)})" if source_problem(source) else "")
        for source in sources
    )
    root = paths.resolve_data_dir(data_dir)
    files = ", ".join(f"{stem}.gz" for stem in IDX_NAMES.values())
    state = "" if root.is_dir() else "is a file, not a folder" if root.is_file() else "does not exist"
    return (
        f"Dataset {spec.name!r} not found, and downloads are switched off ({switch}).\n"
        + (f"The data folder {root} {state}.\n" if state else "")
        + f"Searched:\n{searched}\n"
        f"Fix: copy the four IDX files ({files}) into {root / spec.folder}/"
        + (f", or Keras's {spec.npz_name} into {root}/" if spec.name == "mnist" else "")
        + f"; or point ${paths.DATA_DIR_ENV} (or the notebook parameter data_dir) at a folder that holds them"
        + ("; or install the Debian package dataset-fashion-mnist" if spec.debian_folder else "")
        + "."
    )


def source_problem(source: Source) -> str:
    """What is wrong with a source that holds nothing ("" when it is simply absent): an IDX source is a folder, which
    may be empty or hold other files; an .npz source is a file, which may be a folder or a broken link."""
    if source.path is None:
        return ""
    if source.kind != "idx":
        return path_problem(source.path)
    if source.path.is_dir():
        files = ", ".join(f"{stem}.gz" for stem in IDX_NAMES.values())
        held = sorted(path.name for path in source.path.iterdir())
        if not held:
            return f"is an empty folder: it should hold the four IDX files {files}"
        shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        return f"holds none of the four IDX files {files} (it holds {shown})"
    problem = path_problem(source.path)
    return "is a file, not a folder" if source.path.is_file() else problem


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def path_problem(path: Path) -> str:
    """What is wrong with a path where a data file should be ("" when it is a file or simply absent): a folder, a
    symbolic link that loops or leads nowhere, or something that is not a regular file."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (RuntimeError, OSError) as error:
            if isinstance(error, RuntimeError) or getattr(error, "errno", None) == errno.ELOOP:
                return "is a symbolic link that loops back on itself"
            return f"is a symbolic link to {os.readlink(path)}, which does not exist"
    if path.is_dir():
        return "is a folder, not a file"
    if path.exists() and not path.is_file():
        return "is not a regular file"
    return ""


def _read_source(spec: DatasetSpec, source: Source) -> dict[str, np.ndarray]:
    assert source.path is not None
    if source.kind == "npz":
        return read_npz(source.path)
    arrays = {}
    for split, stem in IDX_NAMES.items():
        path = _idx_file(source.path, stem)
        if path is None:
            for candidate in (source.path / f"{stem}.gz", source.path / stem):
                problem = path_problem(candidate)
                if problem:
                    raise DataError(
                        f"{candidate} {problem} ({source.description} for {spec.name!r}). "
                        f"Fix: put the official file {stem}.gz there in its place."
                    )
            raise DataError(
                f"{source.path / (stem + '.gz')} is missing ({source.description} for {spec.name!r}). "
                f"Fix: copy the official file {stem}.gz there; a source must hold all four files."
            )
        arrays[split] = read_idx(path, EXPECTED_SHAPES[split])
    return arrays


def _verified_dataset(spec: DatasetSpec, arrays: dict[str, np.ndarray], source: Source | str) -> Dataset:
    for split in SPLITS:
        if arrays[split].dtype != np.uint8:
            raise DataError(
                f"{_origin(source, split)} has dtype {arrays[split].dtype}, expected uint8. "
                f"Fix: use the official {spec.name} files."
            )
    digests = {split: idx_sha256(arrays[split]) for split in SPLITS}
    misplaced = {
        split: official
        for split, official in ((split, OFFICIAL_FILES.get(digest)) for split, digest in digests.items())
        if official is not None and official != (spec.name, split)
    }
    if misplaced:
        raise DataError(_misplaced_message(spec, source, misplaced))
    for split in SPLITS:
        array = arrays[split]
        origin = _origin(source, split)
        if array.shape != EXPECTED_SHAPES[split]:
            raise DataError(
                f"{origin} has shape {array.shape}, expected {EXPECTED_SHAPES[split]} for {spec.name!r} "
                f"({shape_difference(EXPECTED_SHAPES[split], array.shape)}). "
                f"Fix: these are not the official {spec.name} files (wrong counts or image size)."
            )
        if digests[split] != spec.sha256[split]:
            raise DataError(
                f"{origin} fails its sha256 check: the content differs from the official {spec.name} release "
                f"({IDX_NAMES[split]}). Fix: replace the file with the official one "
                f"(or check that MNIST and Fashion-MNIST files were not swapped)."
            )
    return Dataset(
        name=spec.name,
        class_names=spec.class_names,
        source=str(source),
        **{split: arrays[split] for split in SPLITS},
    )


def _misplaced_message(spec: DatasetSpec, source: Source | str, misplaced: dict[str, tuple[str, str]]) -> str:
    """Official files under each other's names, each with what it is and which swap put it there."""
    lines, swaps = [], []
    for split, (dataset, official_split) in misplaced.items():
        swap = []
        if dataset != spec.name:
            swap.append(f"{dataset} instead of {spec.name}")
        if split[0] != official_split[0]:  # "x" images, "y" labels
            swap.append("images and labels swapped")
        if split[2:] != official_split[2:]:
            swap.append("train and test swapped")
        swaps += [part for part in swap if part not in swaps]
        lines.append(
            f"  - {_origin(source, split)} is the official {dataset} file {IDX_NAMES[official_split]} "
            f"({official_split}, {', '.join(swap)})"
        )
    others = sorted({dataset for dataset, _ in misplaced.values() if dataset != spec.name})
    if others:
        fix = (
            f"put the official {spec.name} files in their place; these are {' and '.join(others)}'s "
            f"(check that MNIST and Fashion-MNIST files were not swapped)"
        )
    else:
        fix = "rename each file to the name of the official file it is (given above for each), or copy the official files again"
    return (
        f"The {spec.name} files are official files under the wrong names ({'; '.join(swaps)}): their checksums are "
        f"those of other official files.\n" + "\n".join(lines) + f"\nFix: {fix}."
    )


def _origin(source: Source | str, split: str) -> str:
    """Where one split came from, as precisely as the source allows (file, or array in an .npz)."""
    if isinstance(source, Source) and source.kind == "idx" and source.path is not None:
        path = _idx_file(source.path, IDX_NAMES[split])
        return str(path) if path else f"{source.path / IDX_NAMES[split]}"
    if isinstance(source, Source) and source.kind == "npz":
        return f"array {split!r} of {source.path}"
    return f"{split} from {source}"


def _download(spec: DatasetSpec, sources: list[Source], data_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    import keras

    loader = {"fashion_mnist": keras.datasets.fashion_mnist, "mnist": keras.datasets.mnist}[spec.name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:
        searched = "\n".join(f"  - {source}" for source in sources)
        raise DataError(
            f"Dataset {spec.name!r} was not found locally and the download failed ({error}).\nSearched:\n{searched}\n"
            f"Fix: on a machine without internet, copy the files into {paths.resolve_data_dir(data_dir) / spec.folder}/ "
            f"or set ${paths.DATA_DIR_ENV}; set ${paths.OFFLINE_ENV}=1 to skip the download attempt."
        ) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def stratified_indices(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `size` items drawn without replacement, class proportions preserved."""
    classes, counts = np.unique(labels, return_counts=True)
    if not len(classes) <= size <= len(labels):
        raise DataError(
            f"A stratified subset of {size} items needs between {len(classes)} (one per class) and "
            f"{len(labels)} (all items). Fix: choose a size in that range (0 means the full set)."
        )
    quotas = counts * size / len(labels)
    taken = np.maximum(np.floor(quotas).astype(int), 1)
    remainder = size - taken.sum()
    order = np.argsort(-(quotas - np.floor(quotas)), kind="stable")
    step = 1 if remainder > 0 else -1
    position = 0
    while remainder != 0:
        index = order[position % len(order)]
        if step > 0 or taken[index] > 1:
            taken[index] += step
            remainder -= step
        position += 1
    chosen = [rng.choice(np.flatnonzero(labels == label), quota, replace=False) for label, quota in zip(classes, taken)]
    return np.sort(np.concatenate(chosen))


def subset(dataset: Dataset, train_size: int = 0, test_size: int = 0, seed: int = 0) -> Dataset:
    """A class-stratified, seeded subset; a size of 0 keeps that split whole."""
    rng = np.random.default_rng(seed)
    changes = {}
    if train_size:
        index = stratified_indices(dataset.y_train, train_size, rng)
        changes.update(x_train=dataset.x_train[index], y_train=dataset.y_train[index])
    if test_size:
        index = stratified_indices(dataset.y_test, test_size, rng)
        changes.update(x_test=dataset.x_test[index], y_test=dataset.y_test[index])
    return replace(dataset, **changes) if changes else dataset


def split_validation(
    images: np.ndarray, labels: np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Carve a stratified validation set from training data: (x_fit, y_fit, x_val, y_val)."""
    if not 0 < fraction < 1:
        raise DataError(f"validation fraction must lie strictly between 0 and 1, got {fraction}.")
    size = max(int(round(len(labels) * fraction)), len(np.unique(labels)))
    val_index = stratified_indices(labels, size, np.random.default_rng(seed))
    fit_mask = np.ones(len(labels), dtype=bool)
    fit_mask[val_index] = False
    return images[fit_mask], labels[fit_mask], images[val_index], labels[val_index]


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 images (N×28×28) to float32 in [0, 1] with a channel axis (N×28×28×1)."""
    if images.dtype != np.uint8:
        raise DataError(f"scale_images expects uint8 images, got {images.dtype}.")
    scaled = images.astype(np.float32)
    np.divide(scaled, np.float32(255), out=scaled)  # in place: one array, not two (10x faster on 60000 images, same values)
    return scaled[..., np.newaxis]


def load_for_run(params: config.RunParameters) -> Dataset:
    """The dataset a notebook run asks for: loaded, verified, and subset if requested."""
    dataset = load_dataset(params.dataset, params.data_dir)
    return subset(dataset, params.train_size, params.test_size, seed=0)
