"""Groups of configurations trained together: the kernel-size sweep, its variant, and the inductive-bias probes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from convlab.datasets import data
from convlab.experiments import design
from convlab.store import records
from convlab.study import config, profiles
from convlab.training import fit, models, saved, workers


def kernel_configs(dataset: str, kernel_sizes: tuple[int, ...]) -> dict[str, models.ModelConfig]:
    """The CNN with each first-layer kernel size, labelled "k×k" (3×3 is the CNN of 03_cnn)."""
    return {f"{size}×{size}": models.cnn_config(dataset, size) for size in kernel_sizes}


def both_layer_configs(dataset: str, kernel_sizes: tuple[int, ...], trained_only: bool = False) -> dict[str, models.ModelConfig]:
    """The variant that uses the same k×k kernel in both convolutions (3×3 is the CNN itself, so it is left out);
    `trained_only`: only the sizes the run trains (`design.BOTH_LAYER_SIZES_TRAINED`), the others being costed only."""
    return {
        f"{size}×{size} both": models.cnn_config(dataset, size, size)
        for size in kernel_sizes
        if size != 3 and (not trained_only or size in design.BOTH_LAYER_SIZES_TRAINED)
    }


def train_groups(
    configs: dict[str, models.ModelConfig],
    dataset: data.Dataset,
    params: config.RunParameters,
    seeds: tuple[int, ...] | None = None,
) -> records.RecordGroups:
    """Every configuration with its seeds, each trained at most once: `seeds` when given, else the run's seeds for a
    model of a primary hypothesis as the power plan counts them and their exploratory share for any other model
    (`hypotheses.seeds_for_model`)."""
    tasks = [
        (label, workers.Task(model_config, dataset, seed))
        for label, model_config in configs.items()
        for seed in (params.seeds_of(model_config.name) if seeds is None else seeds)
    ]
    groups = _grouped(tasks, workers.train_all([task for _, task in tasks], params))
    return {label: groups.get(label, []) for label in configs}


def _grouped(labelled: list[tuple], trained: list[dict]) -> records.RecordGroups:
    """Records grouped by label, in the order of `labelled` (label, task) pairs."""
    groups: records.RecordGroups = {}
    for (label, _), record in zip(labelled, trained):
        groups.setdefault(label, []).append(record)
    return groups


REFERENCE_FOLDER = "reference"  # under results/ and models/: runs under another profile's training settings


def reference_settings(model_config: models.ModelConfig, params: config.RunParameters, profile: str) -> fit.TrainingConfig:
    """The training settings that `profile` gives this model, by the same rule as the run's own (`training_config_for`)."""
    other = profiles.PROFILES[profile]
    as_profile = replace(
        params,
        epochs=other.epochs,
        cnn_epochs=other.cnn_epochs,
        batch_size=other.batch_size,
        fc_batch_size=other.fc_batch_size,
        patience=other.patience,
    )
    return fit.training_config_for(as_profile, model_config)


def reference_runs(
    configs: dict[str, models.ModelConfig],
    dataset: data.Dataset,
    params: config.RunParameters,
    *,
    train: bool,
    profile: str = "gpu",
) -> records.RecordGroups:
    """The configurations under `profile`'s training settings with the seeds the run gives each (`params.seeds_of`).

    Where those settings are the run's own, the run's records serve; otherwise the runs are kept
    in `results/reference/`. Trained now (or reused) when `train`; otherwise only what is stored,
    and an empty dict when any seed is missing.
    """
    runs = {}
    for label, model_config in configs.items():
        settings = reference_settings(model_config, params, profile)
        folder = "" if settings == fit.training_config_for(params, model_config) else REFERENCE_FOLDER
        if train:
            tasks = [workers.Task(model_config, dataset, seed, settings, folder) for seed in params.seeds_of(model_config.name)]
            runs[label] = workers.train_all(tasks, params)
            continue
        stored = [
            saved.stored_run(
                model_config.name,
                seed,
                fit.cache_key(model_config, dataset, seed, settings),
                params.results_dir / folder,
                params.models_dir / folder,
            )
            for seed in params.seeds_of(model_config.name)
        ]
        if not all(stored):
            return {}
        runs[label] = stored
    return runs


def settings_families(dataset: str) -> dict[str, models.ModelConfig]:
    """One configuration of each model family the report compares.

    A run's training settings depend on a model's kind and head alone (`fit.training_config_for`),
    so these stand for every kernel size, shift and permutation of their family.
    """
    fc, cnn = models.fc_baseline_config(dataset), models.cnn_config(dataset)
    return {
        design.FC: fc,
        design.FC_SHIFT_AUGMENTED: models.variant(fc, shift_augmentation=4),
        design.FC_PERMUTED: models.variant(fc, pixel_permutation=0),
        design.CNN: cnn,
        design.KERNEL_SIZES_FAMILY: models.cnn_config(dataset, 7),
        design.CNN_GAP: models.variant(cnn, head="gap"),
        design.CNN_AVERAGE_POOLING: models.variant(cnn, pooling="average"),
        design.CNN_SHIFT_AUGMENTED: models.variant(cnn, shift_augmentation=4),
        design.CNN_PERMUTED: models.variant(cnn, pixel_permutation=0),
        design.CNN_LOCAL: models.variant(cnn, locally_connected=1),
    }


def describe_training(settings: fit.TrainingConfig) -> str:
    """A training configuration in a few words: "batch 32, ≤120 epochs, patience 3, learning rate 0.001, float32"."""
    cap = f"batch {settings.batch_size}, ≤{settings.epochs} epochs"
    return f"{cap}, patience {settings.patience}, learning rate {settings.learning_rate:g}, {settings.precision}"


def settings_by_family(params: config.RunParameters, reference_profile: str = "gpu") -> pd.DataFrame:
    """Each family's training settings in this run and under `reference_profile`, and whether they are the same."""
    rows = []
    for family, model_config in settings_families(params.dataset).items():
        run = fit.training_config_for(params, model_config)
        reference = reference_settings(model_config, params, reference_profile)
        rows.append(
            {
                "model family": family,
                f"this run ({params.profile})": describe_training(run),
                f"{reference_profile} profile": describe_training(reference),
                design.SAME_SETTINGS: run == reference,
            }
        )
    return pd.DataFrame(rows).set_index("model family")


def settings_reference(
    configs: dict[str, models.ModelConfig],
    dataset: data.Dataset,
    params: config.RunParameters,
    *,
    train: bool,
    reference_profile: str = "gpu",
) -> records.RecordGroups | None:
    """The runs of `configs` under `reference_profile`'s settings, for `protocol_tables.settings_effects` to hold against the
    run's own.

    None when the run uses that profile itself or the same settings for every configuration (nothing to compare),
    or when the reference runs are neither stored nor to be trained.
    """
    same = all(reference_settings(c, params, reference_profile) == fit.training_config_for(params, c) for c in configs.values())
    if params.profile == reference_profile or same:
        return None
    return reference_runs(configs, dataset, params, train=train, profile=reference_profile) or None


def class_probabilities(runs: dict[str, dict], images, models_dir) -> dict:
    """Each trained run's (label → record) predicted class probabilities for `images` (uint8, N×28×28)."""
    scaled = data.scale_images(images)
    return {label: saved.load_trained_model(run, models_dir).predict(scaled, verbose=0) for label, run in runs.items()}


def translation_configs(dataset: str, augmentation_shift: int) -> dict[str, models.ModelConfig]:
    """The models whose accuracy under translation is compared: the studies' two, a GAP-head CNN, a CNN with average
    pooling, and both shift-augmented."""
    fc, cnn = models.fc_baseline_config(dataset), models.cnn_config(dataset)
    return {
        design.FC: fc,
        design.CNN: cnn,
        design.CNN_GAP: models.variant(cnn, head="gap"),
        design.CNN_AVERAGE_POOLING: models.variant(cnn, pooling="average"),
        design.FC_SHIFT_AUGMENTED: models.variant(fc, shift_augmentation=augmentation_shift),
        design.CNN_SHIFT_AUGMENTED: models.variant(cnn, shift_augmentation=augmentation_shift),
    }


def permutation_configs(dataset: str, permutation_seed: int) -> dict[str, models.ModelConfig]:
    """The studies' two models on the original pixels and on pixels shuffled by one fixed permutation."""
    fc, cnn = models.fc_baseline_config(dataset), models.cnn_config(dataset)
    return {
        design.FC: fc,
        design.FC_PERMUTED: models.variant(fc, pixel_permutation=permutation_seed),
        design.CNN: cnn,
        design.CNN_PERMUTED: models.variant(cnn, pixel_permutation=permutation_seed),
    }


def locality_configs(dataset: str) -> dict[str, models.ModelConfig]:
    """The CNN and its twin whose first layer is locally connected: the same windows, no weight sharing there.

    Only the first layer: with both layers locally connected an epoch took 7.4 times the CNN's on Fashion-MNIST and
    2.9 times on MNIST (docs/performance.md), beyond a full run's budget; with the first only, 1.2 and 1.0 times.
    """
    cnn = models.cnn_config(dataset)
    return {design.CNN: cnn, design.CNN_LOCAL: models.variant(cnn, locally_connected=1)}


def train_curves(
    configs: dict[str, models.ModelConfig],
    full_runs: records.RecordGroups,
    dataset: data.Dataset,
    params: config.RunParameters,
    sizes: tuple[int, ...],
) -> dict[str, dict[int, list[dict]]]:
    """Each configuration on stratified subsets of the training set (`design.seeds_for` the exploratory seeds each: the
    curves are exploratory), and on the whole set.

    The whole set's point is `full_runs`, the report's own runs of the same configurations; the subsets' runs are kept
    under `results/curves/n<size>/`. Every subset is drawn once (seed 0) and shared by all models and seeds, and its
    validation split is taken from it.
    """
    available = len(dataset.y_train)
    tasks = []
    for size in design.subset_sizes(sizes, available):
        subset = data.subset(dataset, train_size=size, seed=0)
        for label, model_config in configs.items():
            tasks += [
                ((label, size), workers.Task(model_config, subset, seed, subfolder=design.folder_for(size)))
                for seed in design.seeds_for(size, profiles.exploratory_seeds(params.seeds))
            ]
    by_point = _grouped(tasks, workers.train_all([task for _, task in tasks], params))
    trained: dict[str, dict[int, list[dict]]] = {label: {} for label in configs}
    for (label, size), group in by_point.items():
        trained[label][size] = group
    for label in configs:
        trained[label][available] = full_runs[label]
    return trained


def load_kernel_sweep(results_dir: str | Path, dataset: str, needed_by: str) -> records.RecordGroups:
    """The first-layer kernel sweep's records, by kernel label, for the kernel sizes that were run."""
    groups = {}
    for size in range(1, 29, 2):
        try:
            name = models.cnn_config(dataset, size).name
        except ValueError:  # a kernel this large does not fit this dataset's architecture
            continue
        if any(Path(results_dir).glob(f"{name}-seed*.json")):
            groups[f"{size}×{size}"] = records.load_records(results_dir, name, needed_by=needed_by)
    if len(groups) < 2:
        raise records.MissingResultError(
            f"{needed_by} needs the kernel-size sweep's records in {results_dir}. Run 04_kernel_size_sweep first."
        )
    return groups
