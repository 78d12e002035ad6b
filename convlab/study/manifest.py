"""The study, declared once: each notebook, its scope, its parameters, the notebooks it reads and what it writes.

The pipeline, the Makefile (through the pipeline's defaults), the report, the publish check and the smoke tests
read `STUDY`; the order of a run follows from the declared inputs (`in_order`). A notebook is stale when its code,
its parameters or anything it reads has changed since it ran (`convlab.run.pipeline`). Standard library only.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from convlab.study import paths

PER_DATASET = "per dataset"  # runs once for each dataset, into reports/<dataset>/
ACROSS_DATASETS = "across datasets"  # runs once, after every dataset's notebooks, into reports/comparison/
CHAPTER, APPENDIX = "chapter", "appendix"  # where the report prints a notebook: a chapter, or in the appendix
COMPARISON_FOLDER = "comparison"  # the executed cross-dataset notebooks, beside the per-dataset report folders

# The parameters every per-dataset notebook takes, in the order of its parameters cell (`convlab.study.parameters`
# declares each one: type, default, help, check, make variable)
WHERE, SIZES, OUTPUTS = ("dataset", "data_dir"), ("train_size", "test_size"), ("output_dir", "images_dir")


def trains(*own: str, after: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The parameters of a notebook that trains: the run's, the profile's, then `own`, the sizes, `after`."""
    return (*WHERE, "profile", "epochs", *own, *SIZES, "batch_size", *after, *OUTPUTS)


AWS = ("aws_region", "role_arn", "aws_bucket", "training_instance", "inference_instance", "training_version")
AWS += ("serving_version", "evaluation_images", "aws_sweep", "kernels", "sweep_seeds")


@dataclass(frozen=True)
class Notebook:
    """One notebook of the study.

    `writes` are glob patterns, relative to the notebook's report folder, of the result files only it writes;
    `reads` names the notebooks whose results it reads, and `reads_files` files relative to the reports root.
    `seeds` names the parameter that holds its training seeds ("" when it trains nothing); `report_part` says
    whether the report prints it as a chapter or in the appendix. `figures` names the figures it files (their
    captions are `convlab.figures.captions.CAPTIONS`'), `comparisons` those of the paper's findings family
    (`convlab.paper.family.COMPARISONS`) that its results add; tests hold both to what the notebook does.
    `trainings` says that it trains models through `workers.train_all` (notebook 06 trains in its own container).
    """

    name: str
    parameters: tuple[str, ...]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    scope: str = PER_DATASET
    seeds: str = ""
    reads_files: tuple[str, ...] = ()
    report_part: str = CHAPTER
    figures: tuple[str, ...] = ()
    comparisons: tuple[str, ...] = ()
    trainings: bool = False  # it trains models through `workers.train_all` (what `make report TRAIN_ON=sagemaker` plans)

    @property
    def path(self):
        return paths.NOTEBOOKS_DIR / f"{self.name}.ipynb"

    @property
    def per_dataset(self) -> bool:
        return self.scope == PER_DATASET

    def writes_file(self, relative: str) -> bool:
        """Whether a file, given relative to the notebook's report folder, is one of its declared results
        (a `*` stays within one folder: "results/*.json" does not match "results/probes/a.json")."""
        parts = relative.split("/")
        return any(
            len(parts) == len(pattern.split("/")) and all(map(fnmatch.fnmatchcase, parts, pattern.split("/")))
            for pattern in self.writes
        )


STUDY: tuple[Notebook, ...] = (
    Notebook(
        "01_eda",
        (*WHERE, *SIZES, *OUTPUTS),
        figures=("class_balance", "samples", "mean_images", "intensity_histogram", "neighbour_correlation", "pixel_std"),
    ),
    Notebook(
        "02_fc_baseline",
        trains("seeds"),
        writes=("results/fc_baseline-seed*.json",),
        seeds="seeds",
        figures=("training_curves", "confusion_matrix", "per_class_accuracy", "dense_weights"),
        trainings=True,
    ),
    Notebook(
        "03_cnn",
        trains("seeds", after=("check_settings",)),
        reads=("02_fc_baseline",),
        writes=("results/cnn-seed*.json", "results/reference/*.json"),
        seeds="seeds",
        figures=("architecture", "training_curves", "confusion_matrix", "per_class_accuracy", "comparison", "gallery")
        + ("probabilities",),
        comparisons=("cnn_vs_fc",),
        trainings=True,
    ),
    Notebook(
        "04_kernel_size_sweep",
        trains("sweep_seeds", "kernels", "variant_seeds"),
        reads=("03_cnn",),
        writes=("results/cnn_k*-seed*.json",),
        seeds="sweep_seeds",
        figures=("accuracy_by_kernel", "accuracy_vs_cost"),
        comparisons=("k5_vs_k3", "k7_vs_k3", "k55_vs_k33", "k77_vs_k33"),
        trainings=True,
    ),
    Notebook(
        "05_filter_visualisation",
        trains("seeds"),
        reads=("02_fc_baseline", "03_cnn"),
        seeds="seeds",
        figures=("filters", "activations_conv1", "activations_conv2", "orientation_tuning", "class_filters", "maximising_inputs"),
    ),
    Notebook(
        "06_sagemaker_deploy",
        (*trains("mode", "model", "seed", after=("latency_repeats",)), *AWS),
        reads=("02_fc_baseline", "03_cnn"),
        writes=("results/serving/*.json",),
        seeds="seed",
        report_part=APPENDIX,
    ),
    Notebook(
        "07_translation",
        trains("probe_seeds", "max_shift", "probe_images", "augmentation_shift"),
        reads=("02_fc_baseline", "03_cnn"),
        writes=(
            "results/cnn_gap-seed*.json",
            "results/cnn_avgpool-seed*.json",
            "results/*_shift*-seed*.json",
            "results/probes/translation_*.json",
        ),
        seeds="probe_seeds",
        figures=("shift_examples", "accuracy_vs_shift"),
        comparisons=("gap_vs_flatten", "gap_vs_fc", "avg_vs_max", "cnn_shift_aug", "fc_shift_aug", "cnn_vs_fc_shifted")
        + ("gap_vs_flatten_shifted", "avg_vs_max_shifted", "cnn_aug_vs_fc_aug_shifted"),
        trainings=True,
    ),
    Notebook(
        "08_pixel_permutation",
        trains("probe_seeds", "permutation_seed"),
        reads=("02_fc_baseline", "03_cnn"),
        writes=("results/*_perm*-seed*.json", "results/*_local*-seed*.json"),
        seeds="probe_seeds",
        figures=("permuted_examples", "accuracy_permuted"),
        comparisons=("cnn_perm", "fc_perm", "cnn_vs_fc_perm"),
        trainings=True,
    ),
    Notebook(
        "09_efficiency",
        (*WHERE, "latency_repeats", *SIZES, *OUTPUTS),
        reads=("02_fc_baseline", "03_cnn", "04_kernel_size_sweep", "07_translation", "08_pixel_permutation"),
        writes=("results/probes/latency_*.json",),
        figures=("efficiency_frontier",),
    ),
    Notebook(
        "11_learning_curves",
        trains("seeds", "curve_sizes"),
        reads=("02_fc_baseline", "03_cnn"),
        writes=("results/curves/*/*-seed*.json",),
        seeds="seeds",
        figures=("learning_curves",),
        trainings=True,
    ),
    Notebook(
        "12_training_protocol",
        trains("seeds"),
        writes=("results/protocol/*.json", "results/protocol/literal/*.json", "results/protocol/lr*/*.json"),
        seeds="seeds",
        report_part=APPENDIX,  # the methods show its stopping-rule table; its details sit in the appendix
        figures=("protocol_trajectories",),
        trainings=True,
    ),
    Notebook(
        "10_dataset_comparison",
        ("datasets", "reports_dir", "images_dir"),
        reads=("02_fc_baseline", "03_cnn", "04_kernel_size_sweep", "09_efficiency", "12_training_protocol"),
        scope=ACROSS_DATASETS,
        reads_files=("bench.json",),  # its appendix shows the latest bench
        figures=("gain_by_dataset",),
    ),
)


class ManifestError(ValueError):
    """The declared study is inconsistent (an unknown input, a cycle, a per-dataset notebook reading a comparison)."""


def entries(study: Sequence[Notebook] | None = None) -> dict[str, Notebook]:
    """The declared notebooks by name, checked: unique names, known inputs, no cycle, scopes that fit."""
    study = STUDY if study is None else study
    by_name = {notebook.name: notebook for notebook in study}
    if len(by_name) != len(study):
        raise ManifestError("Two notebooks of the study share a name: give each entry of convlab.study.manifest.STUDY its own.")
    for notebook in study:
        if notebook.scope not in (PER_DATASET, ACROSS_DATASETS):
            raise ManifestError(f"{notebook.name}: scope {notebook.scope!r} is neither {PER_DATASET!r} nor {ACROSS_DATASETS!r}.")
        for source in notebook.reads:
            if source not in by_name:
                raise ManifestError(f"{notebook.name} reads {source!r}, which the study does not declare.")
            if notebook.per_dataset and not by_name[source].per_dataset:
                raise ManifestError(f"{notebook.name} runs per dataset and cannot read {source}, which runs across datasets.")
    _topological([notebook.name for notebook in study], by_name)
    return by_name


def names(study: Sequence[Notebook] | None = None) -> tuple[str, ...]:
    """Every notebook of the study, in the order a run executes them."""
    return in_order([notebook.name for notebook in (STUDY if study is None else study)])


def entry(name: str) -> Notebook:
    """One declared notebook; an unknown name is an error that lists the declared ones."""
    declared = entries()
    if name not in declared:
        raise paths.ParameterError(f"Unknown notebook {name!r}: choose from {', '.join(names())}.")
    return declared[name]


def in_order(selected: Iterable[str]) -> tuple[str, ...]:
    """The selected notebooks (names checked) in run order: per-dataset ones first, each after the ones it reads,
    ties in declaration order; then the cross-dataset ones."""
    declared = entries()
    chosen = list(dict.fromkeys(selected))
    for name in chosen:
        entry(name)
    ordered = _topological(chosen, declared)
    return tuple(sorted(ordered, key=lambda name: not declared[name].per_dataset))


def _topological(chosen: Sequence[str], declared: dict[str, Notebook]) -> list[str]:
    """Kahn's algorithm over the declared reads among `chosen`, ties broken by declaration order."""
    position = {name: index for index, name in enumerate(declared)}
    pending = {name: {source for source in declared[name].reads if source in chosen} for name in chosen}
    ordered = []
    while pending:
        ready = sorted((name for name, sources in pending.items() if not sources), key=position.__getitem__)
        if not ready:
            raise ManifestError(f"The notebooks {', '.join(sorted(pending))} read each other in a cycle: break it in STUDY.")
        ordered.append(ready[0])
        del pending[ready[0]]
        for sources in pending.values():
            sources.discard(ordered[-1])
    return ordered


def readers_of(name: str) -> tuple[str, ...]:
    """The notebooks that read `name`'s results, directly."""
    return tuple(notebook.name for notebook in entries().values() if name in notebook.reads)


def writer_of(relative: str) -> str | None:
    """The notebook that declares a result file (relative to its report folder) among its outputs, or None."""
    writers = [notebook.name for notebook in entries().values() if notebook.writes_file(relative)]
    if len(writers) > 1:
        raise ManifestError(f"{relative} matches the outputs of {' and '.join(writers)}: make their `writes` patterns disjoint.")
    return writers[0] if writers else None


def per_dataset() -> tuple[str, ...]:
    return tuple(name for name in names() if entry(name).per_dataset)


def across_datasets() -> tuple[str, ...]:
    return tuple(name for name in names() if not entry(name).per_dataset)


def main() -> None:
    """`python -m convlab.study.manifest`: print the notebooks in run order, one line each with scope and inputs."""
    for name in names():
        notebook = entry(name)
        print(f"{name:26} {notebook.scope:16} reads: {', '.join(notebook.reads) or '-'}")


if __name__ == "__main__":
    main()
