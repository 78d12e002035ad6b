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
# The families whose training settings can differ (`plans.settings_families`, in that order): each has a long run.
SETTINGS_FAMILY_LABELS = (
    FC,
    FC_SHIFT_AUGMENTED,
    FC_PERMUTED,
    CNN,
    KERNEL_SIZES_FAMILY,
    CNN_GAP,
    CNN_AVERAGE_POOLING,
    CNN_SHIFT_AUGMENTED,
    CNN_PERMUTED,
    CNN_LOCAL,
)

# The both-layer kernel variants that train (exploratory, on the exploratory seeds). 7×7 in both layers is left to the
# cost table: on Fashion-MNIST it needs 5.2 times the CNN's multiply-accumulates, 2e14 training FLOP at three seeds,
# more than the run's budget leaves for an exploratory question that the 5×5 variant already asks.
BOTH_LAYER_SIZES_TRAINED = (5,)


def family_of(model: dict) -> str:
    """The family label of a stored model (a record's "model" entry): what its training settings depend on, so that
    one long-patience run speaks for every kernel size, shift and permutation of its family."""
    if model["kind"] == "fc":
        if model.get("shift_augmentation"):
            return FC_SHIFT_AUGMENTED
        return FC_PERMUTED if model.get("pixel_permutation") is not None else FC
    changed = [
        (model.get("head") == "gap", CNN_GAP),
        (model.get("pooling") == "average", CNN_AVERAGE_POOLING),
        (bool(model.get("shift_augmentation")), CNN_SHIFT_AUGMENTED),
        (model.get("pixel_permutation") is not None, CNN_PERMUTED),
        (bool(model.get("locally_connected")), CNN_LOCAL),
        (list(model.get("kernel_sizes", [3, 3])) != [3, 3], KERNEL_SIZES_FAMILY),
    ]
    return next((label for is_changed, label in changed if is_changed), CNN)


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
