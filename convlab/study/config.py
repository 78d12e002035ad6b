"""Run parameters: the datasets, and the checks that turn a notebook's parameters into `RunParameters`.

Folders are in `convlab.study.paths`, profiles in `convlab.study.profiles`, the notebooks in `convlab.study.manifest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from convlab.study import hypotheses, identities, manifest, profiles
from convlab.study.paths import IMAGES_DIR, REPORTS_DIR, ParameterError, output_folder, resolve_data_dir
from convlab.study.profiles import AUTO, PROFILES, or_profile, resolve_profile

DATASETS = ("fashion_mnist", "mnist")
DATASET_TITLES = identities.DATASET_TITLES  # as the text names them
NUM_CLASSES = 10
IMAGE_SIDE = 28
SPLIT_SIZES = {"train_size": 60000, "test_size": 10000}  # images in each split, the same for both datasets


def dataset_names(values: Sequence[str]) -> tuple[str, ...]:
    """Dataset names as given, each checked against `DATASETS` (they become folder names)."""
    unknown = [name for name in values if name not in DATASETS]
    if unknown:
        raise ParameterError(f"Unknown dataset(s) {unknown}: choose from {', '.join(DATASETS)}.")
    return tuple(values)


def as_int(name: str, value: object, minimum: int, fix: str = "") -> int:
    """An integer from an int or its text (papermill's -p); `fix` tells what to set instead (a default is derived)."""
    fix = fix or f"set {name} to a whole number ≥ {minimum}"
    if isinstance(value, bool):
        raise ParameterError(f"{name} must be an integer, got the boolean {value!r}: {fix}.")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ParameterError(f"{name} must be an integer, got {value!r}: {fix}.") from None
    if number < minimum:
        raise ParameterError(f"{name} must be at least {minimum}, got {number}: {fix}.")
    return number


def _int_list(name: str, value: object, minimum: int, fix: str) -> tuple[int, ...]:
    """Integers from an int, a list, or text such as "0,1,2" (papermill's -p); `fix` tells what to give instead."""
    if isinstance(value, int) and not isinstance(value, bool):
        items: Sequence[object] = [value]
    elif isinstance(value, str):
        items = [part for part in value.replace(" ", ",").split(",") if part]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise ParameterError(f"{name} must be a list of integers or a comma-separated string, got {value!r}: {fix}.")
    return tuple(as_int(f"each of {name}", item, minimum, fix) for item in items)


def parse_kernel_sizes(value: object) -> tuple[int, ...]:
    """Odd kernel sizes from 1 to 28, e.g. "3,5,7"."""
    sizes = _int_list("kernels", value, 1, f"give kernels as odd whole numbers from 1 to {IMAGE_SIDE}, e.g. kernels='3,5,7'")
    if not sizes:
        raise ParameterError("kernels is empty: give at least one kernel size, e.g. kernels='3,5,7'.")
    for size in sizes:
        if size % 2 == 0 or size > IMAGE_SIDE:
            raise ParameterError(
                f"Kernel size {size} is invalid: use odd sizes from 1 to {IMAGE_SIDE} (odd sizes keep 'same' padding symmetric)."
            )
    if len(set(sizes)) != len(sizes):
        raise ParameterError(f"kernels has duplicates {list(sizes)}: name each kernel size once, e.g. kernels='3,5,7'.")
    return sizes


def parse_optional_seeds(value: object) -> tuple[int, ...]:
    """Like `parse_seeds`, but an empty value means "none"."""
    return () if value in ("", None, [], ()) else parse_seeds(value)


DEFAULT_CURVE_SIZES = (300, 1000, 3000, 10000, 30000)  # training images per learning-curve point, besides the full set


def parse_curve_sizes(value: object) -> tuple[int, ...]:
    """Training-set sizes of the learning curves, e.g. "300,1000,3000"; "auto" (or empty) gives `DEFAULT_CURVE_SIZES`."""
    if str(value).strip().lower() in {"", AUTO}:
        return DEFAULT_CURVE_SIZES
    largest = SPLIT_SIZES["train_size"]
    fix = f"give curve_sizes as whole numbers from {10 * NUM_CLASSES} to {largest}, e.g. curve_sizes='300,1000,3000'"
    sizes = _int_list("curve_sizes", value, 10 * NUM_CLASSES, fix)
    if not sizes:
        raise ParameterError(f"curve_sizes is empty: {fix}, or 'auto'.")
    if len(set(sizes)) != len(sizes) or max(sizes) > SPLIT_SIZES["train_size"]:
        raise ParameterError(f"curve_sizes={list(sizes)} repeats a size or exceeds the training split: {fix}.")
    return tuple(sorted(sizes))


NONE = "none"


def parse_variant_seeds(value: object, profile: str) -> tuple[int, ...]:
    """Seeds of an optional, exploratory experiment: "none" trains nothing; "auto" (or empty) the exploratory share of
    the profile's seeds (`profiles.exploratory_seeds`), none in a profile that keeps to the studies' experiments
    (quick); else as `parse_seeds`."""
    if str(value).strip().lower() == NONE:
        return ()
    if or_profile(value, None) is None:
        chosen = resolve_profile(profile)
        return profiles.exploratory_seeds(chosen.seeds) if chosen.every_notebook else ()
    return parse_seeds(value)


def parse_max_shift(value: object) -> tuple[int, ...]:
    """The test shifts 0, 1, …, `value` pixels (at least 1, less than the image side)."""
    largest = as_int("max_shift", value, 1, f"set max_shift to a whole number from 1 to {IMAGE_SIDE - 1}")
    if largest >= IMAGE_SIDE:
        raise ParameterError(f"max_shift={largest} moves a {IMAGE_SIDE}-pixel image out of the frame: use 1 to {IMAGE_SIDE - 1}.")
    return tuple(range(largest + 1))


def parse_augmentation_shift(value: object) -> int:
    """The largest random shift (pixels) of the augmented training runs: 1 to a quarter of the image side."""
    shift = as_int("augmentation_shift", value, 1, f"set augmentation_shift to a whole number from 1 to {IMAGE_SIDE // 4}")
    if shift > IMAGE_SIDE // 4:
        raise ParameterError(
            f"augmentation_shift={shift} would push much of each object out of the frame: use 1 to {IMAGE_SIDE // 4} pixels."
        )
    return shift


def parse_flag(name: str, value: object) -> bool:
    """A yes/no parameter from a bool or text as papermill's -p passes it ("1", "true", "yes", "0", "false", "no", "")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ParameterError(f"{name}={value!r} is not a yes/no value: use True or False (or 1 / 0).")


DEPLOY_MODES = ("local", "aws")
MODEL_NAMES = (identities.CNN, identities.FC)  # the configurations 06 trains and serves (the entry script's --model)


def parse_mode(value: object) -> str:
    """Where notebook 06 runs: "local" (offline, the default) or "aws" (an AWS account; it costs money)."""
    mode = str(value).strip().lower()
    if mode not in DEPLOY_MODES:
        raise ParameterError(f"mode={value!r} is not a mode: use 'local' (offline) or 'aws' (needs role_arn and aws_region).")
    return mode


def parse_model_name(value: object) -> str:
    """The configuration notebook 06 trains and serves: one of `MODEL_NAMES`."""
    name = str(value).strip().lower()
    if name not in MODEL_NAMES:
        raise ParameterError(f"model={value!r} is not a configuration 06 serves: use {' or '.join(map(repr, MODEL_NAMES))}.")
    return name


def parse_datasets(value: object) -> tuple[str, ...]:
    """Dataset names from "fashion_mnist,mnist" (at least two, for a comparison)."""
    names = tuple(dict.fromkeys(part.strip().lower().replace("-", "_") for part in str(value).split(",") if part.strip()))
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        raise ParameterError(f"Unknown dataset(s) {unknown} in datasets={value!r}: choose from {', '.join(DATASETS)}.")
    if len(names) < 2:
        raise ParameterError(
            f"datasets={value!r} names {len(names)} dataset(s): a comparison needs two, e.g. 'fashion_mnist,mnist'."
        )
    return names


def comparison_images_dir(images_dir: object, notebook: str) -> Path:
    """Where a cross-dataset notebook writes its figures: <images_dir or images/>/comparison/<notebook>."""
    base = output_folder(images_dir, "images_dir", IMAGES_DIR)
    return base / manifest.COMPARISON_FOLDER / manifest.entry(notebook).name


def parse_seeds(value: object) -> tuple[int, ...]:
    """Seeds from an int, a list of ints, or a string such as "0,1,2" (papermill -p)."""
    seeds = _int_list("seeds", value, 0, "give seeds as whole numbers ≥ 0, e.g. seeds='0,1,2'")
    if not seeds:
        raise ParameterError("seeds is empty: give at least one seed, e.g. seeds='0' or seeds='0,1,2'.")
    if len(set(seeds)) != len(seeds):
        raise ParameterError(
            f"seeds has duplicates {list(seeds)}: each seed would train the same model twice; "
            f"name each seed once, e.g. seeds='0,1,2'."
        )
    return seeds


def seeds_or_profile(value: object, profile: str) -> tuple[int, ...]:
    """Seeds from a parameter such as "0,1,2"; "auto" (or empty) gives the profile's seeds."""
    return parse_seeds(or_profile(value, resolve_profile(profile).seeds))


_AUTO_FIX = "set {0} to a whole number ≥ 1, e.g. {0}={1}, or to 'auto' for the profile's value"


@dataclass(frozen=True)
class RunParameters:
    """The validated parameters of one notebook run."""

    dataset: str
    data_dir: Path
    epochs: int
    seeds: tuple[int, ...]
    train_size: int
    test_size: int
    batch_size: int
    output_dir: Path
    images_dir: Path
    profile: str = "full"  # the defaults below are that profile's
    patience: int = PROFILES["full"].patience
    cnn_epochs: int = PROFILES["full"].cnn_epochs
    fc_batch_size: int = PROFILES["full"].fc_batch_size

    @classmethod
    def from_notebook(
        cls,
        *,
        notebook: str,
        dataset: object,
        data_dir: object = "",
        profile: object = AUTO,
        epochs: object = AUTO,
        seeds: object = AUTO,
        train_size: object = 0,
        test_size: object = 0,
        batch_size: object = AUTO,
        output_dir: object = "",
        images_dir: object = "",
    ) -> RunParameters:
        """Validate a notebook's parameters (papermill may pass any of them as strings).

        `epochs`, `seeds` and `batch_size` left at "auto" take the profile's values; an explicit
        `epochs` caps every model, CNNs included, and an explicit `batch_size` holds for every model.
        """
        name = str(dataset).strip().lower().replace("-", "_")
        if name not in DATASETS:
            raise ParameterError(f"Unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}.")
        manifest.entry(notebook)
        output = output_folder(output_dir, "output_dir", REPORTS_DIR / name)
        images = output_folder(images_dir, "images_dir", IMAGES_DIR)
        chosen = resolve_profile(profile)
        explicit_epochs, explicit_batch = or_profile(epochs, None), or_profile(batch_size, None)
        epochs_fix, batch_fix = _AUTO_FIX.format("epochs", 15), _AUTO_FIX.format("batch_size", 32)
        most_epochs = as_int("epochs", chosen.epochs if explicit_epochs is None else explicit_epochs, 1, epochs_fix)
        return cls(
            dataset=name,
            data_dir=resolve_data_dir(str(data_dir) if data_dir else None),
            epochs=most_epochs,
            seeds=parse_seeds(or_profile(seeds, chosen.seeds)),
            train_size=_subset_size("train_size", train_size),
            test_size=_subset_size("test_size", test_size),
            batch_size=as_int("batch_size", chosen.batch_size if explicit_batch is None else explicit_batch, 1, batch_fix),
            output_dir=output,
            images_dir=images / name / notebook,
            profile=chosen.name,
            patience=chosen.patience,
            cnn_epochs=chosen.cnn_epochs if explicit_epochs is None else most_epochs,
            fc_batch_size=as_int("batch_size", chosen.fc_batch_size if explicit_batch is None else explicit_batch, 1, batch_fix),
        )

    @property
    def by_power(self) -> bool:
        """Whether primary models train on the seeds the power plan gives them (`profiles.Profile.by_power`)."""
        return PROFILES[self.profile].by_power

    def seeds_of(self, name: str) -> tuple[int, ...]:
        """The seeds this run trains a stored model on (`hypotheses.seeds_for_model`: by the power plan for a primary
        model where the profile plans by power, the exploratory share for any other)."""
        return hypotheses.seeds_for_model(name, self.seeds, self.dataset, self.by_power)

    @property
    def results_dir(self) -> Path:
        return self.output_dir / "results"

    @property
    def models_dir(self) -> Path:
        return self.output_dir / "models"

    def to_dict(self) -> dict:
        values = asdict(self)
        return {key: str(value) if isinstance(value, Path) else value for key, value in values.items()}


def _subset_size(name: str, value: object) -> int:
    """A stratified subset's size: 0 (the whole split), or from one image per class to the whole split."""
    largest = SPLIT_SIZES[name]
    fix = f"set {name} to 0 (the full set) or to a whole number from {NUM_CLASSES} to {largest}"
    size = as_int(name, value, 0, fix)
    if 0 < size < NUM_CLASSES:
        raise ParameterError(
            f"{name}={size} is smaller than the {NUM_CLASSES} classes: a stratified subset needs at least one image "
            f"per class; {fix}."
        )
    if size > largest:
        raise ParameterError(f"{name}={size} is larger than the {largest} images of the split: {fix}.")
    return size
