"""Groups of configurations trained together: the kernel-size sweep and its variant."""

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
