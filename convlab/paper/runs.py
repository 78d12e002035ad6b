"""The records of one run, loaded once: per dataset its trainings, reference runs, probes and learning curves."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from convlab.experiments import design, literal, protocol
from convlab.store import records
from convlab.study import config, identities, profiles

CURVE_FAMILIES = {design.FC: identities.FC, design.CNN: "cnn"}


@dataclass(frozen=True)
class DatasetRun:
    """Everything one dataset's folder of a run holds for the paper."""

    name: str
    title: str
    groups: records.RecordGroups  # model name -> its records, one per seed
    reference: records.RecordGroups  # "FC" / "CNN" -> reference runs (patience 10, 15 epochs at least)
    translation: dict[str, list[dict]] = field(default_factory=dict)  # model name -> translation probe per seed
    latency: dict[str, dict] = field(default_factory=dict)  # model name -> latency probe result (seed 0)
    curves: dict[str, dict[int, list[dict]]] = field(default_factory=dict)  # "FC" / "CNN" -> size -> records
    literal: records.RecordGroups = field(default_factory=dict)  # "FC" / "CNN" -> the studies' literal protocol's runs
    long_runs: records.RecordGroups = field(default_factory=dict)  # family label -> its long-patience runs

    def has(self, *names: str) -> bool:
        return all(self.groups.get(name) for name in names)

    def accuracies(self, name: str):
        return records.accuracies(self.groups[name])

    def parameters(self, name: str) -> int:
        return int(self.groups[name][0]["model"]["parameters"])


def trained_rule(loaded) -> tuple[str, int]:
    """The monitor and patience the run's trainings used (its CNN records'), else the declared ones."""
    trained = next((r["parameters"] for run in loaded.values() for r in run.groups.get("cnn", [])), {})
    return trained.get("monitor", "val_loss"), int(trained.get("patience", profiles.PATIENCE))


def _test_set(record: dict) -> tuple:
    described = record["dataset"]
    return described["test_size"], described.get("sha256", {}).get("x_test"), described.get("sha256", {}).get("y_test")


def newest_test_set(groups: records.RecordGroups) -> records.RecordGroups:
    """The records evaluated on the test set of the newest one. A folder that holds an earlier run of other data
    (a subset run, then a run on the full data, part way through) holds records whose predictions are of other
    test images: they are not compared with the new ones, and wait to be replaced by the notebooks that train them."""
    everyone = [record for group in groups.values() for record in group]
    if not everyone:
        return groups
    current = _test_set(max(everyone, key=lambda record: record.get("created", "")))
    kept = {name: [record for record in group if _test_set(record) == current] for name, group in groups.items()}
    return {name: group for name, group in kept.items() if group}


def load(root: Path, dataset: str) -> DatasetRun:
    """One dataset's records under `root` (an empty run where it has none)."""
    results = root / dataset / "results"
    try:
        groups = newest_test_set(records.load_all_records(results))
    except records.MissingResultError:
        groups = {}
    translation: dict[str, list[dict]] = {}
    latency: dict[str, dict] = {}
    for path in sorted((results / "probes").glob("*.json")) if (results / "probes").is_dir() else ():
        if records.is_temporary(path):
            continue
        probe = records.read_probe(path)
        if probe["probe"] == "translation":
            translation.setdefault(probe["model"], []).append(probe)
        elif probe["probe"] == "latency" and probe["seed"] == 0:
            latency[probe["model"]] = probe["result"]
    return DatasetRun(
        name=dataset,
        title=config.DATASET_TITLES[dataset],
        groups=groups,
        reference=protocol.stored_reference_runs(results) if (results / "protocol").is_dir() else {},
        translation=translation,
        latency=latency,
        curves=_curves(results, groups),
        literal=literal.stored_literal_runs(results) if (results / literal.FOLDER).is_dir() else {},
        long_runs=protocol.stored_long_runs(results) if (results / "protocol").is_dir() else {},
    )


def _curves(results: Path, groups: records.RecordGroups) -> dict[str, dict[int, list[dict]]]:
    """FC and CNN by training-set size, the full set's runs included; empty without curve runs."""
    found: dict[str, dict[int, list[dict]]] = {label: {} for label in CURVE_FAMILIES}
    for folder in sorted((results / design.CURVES_FOLDER).glob("n*")):
        try:
            by_name = records.load_all_records(folder)
        except records.MissingResultError:
            continue
        for label, name in CURVE_FAMILIES.items():
            if by_name.get(name):
                found[label][by_name[name][0]["dataset"]["train_size"]] = by_name[name]
    for label, name in CURVE_FAMILIES.items():
        if groups.get(name) and found[label]:
            found[label][groups[name][0]["dataset"]["train_size"]] = groups[name]
    return found if all(len(sizes) > 1 for sizes in found.values()) else {}


def load_all(root: Path, datasets=config.DATASETS) -> dict[str, DatasetRun]:
    return {dataset: load(root, dataset) for dataset in datasets}
