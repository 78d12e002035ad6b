"""The experiments' design, without TensorFlow: the labels of the record groups that the plans train, the notebooks
pass in and the tables and prose look up, and the learning curves' sizes, seeds and folders.

`plans` trains what this names; `convlab.analysis.tables` re-exports the labels for the notebooks.
"""

from __future__ import annotations

# Labels of the record groups.
FC = "FC"
CNN = "CNN"
FC_BASELINE = "FC baseline"
CNN_GAP = "CNN, GAP head"
FC_SHIFT_AUGMENTED = "FC, shift-augmented"
CNN_SHIFT_AUGMENTED = "CNN, shift-augmented"
FC_PERMUTED = "FC, permuted"
CNN_PERMUTED = "CNN, permuted"
CNN_AVERAGE_POOLING = "CNN, average pooling"
CNN_LOCAL = "CNN, locally connected first layer"
KERNEL_SIZES_FAMILY = "CNN, other kernel sizes"
SAME_SETTINGS = "same settings"  # a column of ``plans.settings_by_family``

# The learning curves' design.
CURVES_FOLDER = "curves"  # under results/ and models/: one folder per size, n<size>; the full set's runs stay in place
SMALL_SIZE = 3000  # sizes up to this are cheap and noisy: they get `EXTRA_SMALL_SEEDS` more seeds
EXTRA_SMALL_SEEDS = 2


def subset_sizes(requested: tuple[int, ...], available: int) -> tuple[int, ...]:
    """The requested sizes smaller than the training set at hand (the whole set is the run's own point)."""
    return tuple(size for size in requested if size < available)


def seeds_for(size: int, seeds: tuple[int, ...]) -> tuple[int, ...]:
    """The seeds of one subset size: the run's, and `EXTRA_SMALL_SEEDS` more (the next integers) up to `SMALL_SIZE` images."""
    if size > SMALL_SIZE:
        return seeds
    return seeds + tuple(range(max(seeds) + 1, max(seeds) + 1 + EXTRA_SMALL_SEEDS))


def folder_for(size: int) -> str:
    """Where the runs on a subset of `size` images are kept, under results/ and models/."""
    return f"{CURVES_FOLDER}/n{size}"
