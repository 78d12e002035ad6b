"""Groups of configurations trained together: the kernel-size sweep, its variant, and the inductive-bias probes."""

from __future__ import annotations

from dataclasses import replace

from convlab import config, data, models, training


def kernel_configs(dataset: str, kernel_sizes: tuple[int, ...]) -> dict[str, models.ModelConfig]:
    """The CNN with each first-layer kernel size, labelled "k×k" (3×3 is the CNN of 03_cnn)."""
    return {f"{size}×{size}": models.cnn_config(dataset, size) for size in kernel_sizes}


def both_layer_configs(dataset: str, kernel_sizes: tuple[int, ...]) -> dict[str, models.ModelConfig]:
    """The variant that uses the same k×k kernel in both convolutions (3×3 is the CNN itself, so it is left out)."""
    return {f"{size}×{size} both": models.cnn_config(dataset, size, size) for size in kernel_sizes if size != 3}


def train_groups(
    configs: dict[str, models.ModelConfig],
    dataset: data.Dataset,
    params: config.RunParameters,
    seeds: tuple[int, ...] | None = None,
) -> dict[str, list[dict]]:
    """Every configuration with every seed (the run's seeds unless given), each trained at most once."""
    run = params if seeds is None else replace(params, seeds=seeds)
    return {label: training.train_seeds(model_config, dataset, run) for label, model_config in configs.items()}


def translation_configs(dataset: str, augmentation_shift: int) -> dict[str, models.ModelConfig]:
    """The models whose accuracy under translation is compared: the studies' two, a GAP-head CNN, and both shift-augmented."""
    fc, cnn = models.fc_baseline_config(dataset), models.cnn_config(dataset)
    return {
        "FC": fc,
        "CNN": cnn,
        "CNN, GAP head": models.variant(cnn, head="gap"),
        "FC, shift-augmented": models.variant(fc, shift_augmentation=augmentation_shift),
        "CNN, shift-augmented": models.variant(cnn, shift_augmentation=augmentation_shift),
    }


def permutation_configs(dataset: str, permutation_seed: int) -> dict[str, models.ModelConfig]:
    """The studies' two models on the original pixels and on pixels shuffled by one fixed permutation."""
    fc, cnn = models.fc_baseline_config(dataset), models.cnn_config(dataset)
    return {
        "FC": fc,
        "FC, permuted": models.variant(fc, pixel_permutation=permutation_seed),
        "CNN": cnn,
        "CNN, permuted": models.variant(cnn, pixel_permutation=permutation_seed),
    }


def model_label(model: dict) -> str:
    """A readable label for a record's model configuration (e.g. "CNN 5×5/3×3, GAP head")."""
    if model["kind"] == "fc":
        label = "FC " + "→".join(str(units) for units in (784, *model["hidden_units"], model["num_classes"]))
    else:
        label = "CNN " + "/".join(f"{size}×{size}" for size in model["kernel_sizes"])
    if model.get("head", "flatten") != "flatten":
        label += f", {model['head'].upper()} head"
    if model.get("shift_augmentation"):
        label += f", shift-augmented ±{model['shift_augmentation']}"
    if model.get("pixel_permutation") is not None:
        label += ", permuted pixels"
    return label
