"""What the paper's text and claims read, gathered from one run's records: the named values of each dataset, the
findings family, the per-seed tests on the test labels, the stopping rule, serving and the run's cost (`context`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from convlab.analysis import costs
from convlab.experiments import design, protocol
from convlab.paper import claims, family, holding, power_table, primary, runs, values
from convlab.store import records
from convlab.study import config, hypotheses, identities, profiles


@dataclass
class TestData:
    """A dataset's test labels as the run's records saw them, its class names and its test images."""

    test_labels: np.ndarray
    class_names: tuple[str, ...]
    x_test: np.ndarray
    y_test: np.ndarray
    train_counts: np.ndarray  # training images per class


def test_data(run: runs.DatasetRun, data_dir: str | None = None) -> TestData | None:
    """The test split the run's records were evaluated on (a subset run's subset), from the data folder the run used
    (`data_dir`, else the usual lookup), or None where the data are absent. The labels are checked against a record:
    its stored predictions must give its stored accuracy."""
    from convlab.datasets import data

    record = next((group[0] for group in run.groups.values() if group), None)
    if record is None:
        return None
    try:
        dataset = data.load_dataset(run.name, data_dir or None, allow_download=False)
    except Exception as error:  # noqa: BLE001  (a missing or damaged copy: the figures and tests that need it are left out)
        print(f"Note: {run.name} not loaded ({error}); the paper leaves out what needs its test images.")
        return None
    sizes = record["dataset"]["train_size"], record["dataset"]["test_size"]
    full = len(dataset.y_train), len(dataset.y_test)
    dataset = data.subset(dataset, sizes[0] if sizes[0] < full[0] else 0, sizes[1] if sizes[1] < full[1] else 0, seed=0)
    predictions = np.asarray(record["test"]["predictions"])
    if len(predictions) != len(dataset.y_test) or not math.isclose(
        float(np.mean(predictions == dataset.y_test)), record["test"]["accuracy"], abs_tol=1e-9
    ):
        print(
            f"Note: the {run.name} test labels do not match the records' predictions, so the records were made on other "
            "data; the paper leaves out what needs the test images. Build from the run that wrote them, with its data folder."
        )
        return None
    counts = np.bincount(dataset.y_train, minlength=len(dataset.class_names))
    return TestData(dataset.y_test, dataset.class_names, dataset.x_test, dataset.y_test, counts)


def context(root: Path, datasets: Sequence[str], studies: Mapping) -> SimpleNamespace:
    """Everything the text and the claims read: named values, comparisons, per-seed tests, the rule, serving."""
    from convlab.store import runlog

    loaded = runs.load_all(root, datasets)
    folders = {name: runlog.read(root / name).get("parameters", {}).get("data_dir") for name in loaded}
    tests = {name: test_data(run, folders[name]) for name, run in loaded.items()}
    results = family.findings(loaded, lambda name: tests[name].test_labels if tests.get(name) else None)
    named = {}
    for name, run in loaded.items():
        v = values.dataset_values(run, studies[name])
        if tests.get(name) is not None:
            v.update(_hardest_classes(run, tests[name]))
        named[name] = v
    empty = values.Names()
    c = SimpleNamespace(
        runs=loaded,
        tests=tests,
        results=results,
        fm=named.get("fashion_mnist", empty),
        mn=named.get("mnist", empty),
        cf=values.comparisons(results, "fashion_mnist"),
        cm=values.comparisons(results, "mnist"),
        mcnemar=[r for r in results.values() if r.test == "McNemar"],
        primary=primary.decisions(loaded),
        rule=_rule(loaded),
        serving=_serving(root, datasets),
        cost=_run_cost(root, datasets),
    )
    c.pf, c.pm = values.decisions(c.primary, "fashion_mnist"), values.decisions(c.primary, "mnist")
    c.primary_size = values.count(len(c.primary))
    c.primary_held = values.count(int((c.primary["Holm p"] < primary.ALPHA).sum()) if len(c.primary) else 0)
    c.plan = power_table.read_plan()
    c.plan_family_size = values.count(hypotheses.FAMILY_SIZE)
    created = [
        r.get("created", "") for run in loaded.values() for name in hypotheses.primary_models() for r in run.groups.get(name, [])
    ]
    c.planned = bool(created) and min(created) > power_table.written_at()
    c.margin = values.Value(hypotheses.EQUIVALENCE_MARGIN, f"{hypotheses.EQUIVALENCE_MARGIN:g}")
    c.unreachable = any(str(need).startswith("more than") for need in c.plan.get("seeds needed", []))
    tested = set(c.primary["hypothesis"]) if len(c.primary) else set()
    c.untested = [h.statement for h in hypotheses.PRIMARY if h.key not in tested]
    held = holding.holdings(loaded, tests, c.serving)
    c.has = dataclasses.replace(
        held,
        cnn_model=all(holding.cnn_model_file(root, name) for name in config.DATASETS),
        primary=len(c.primary) > 0,
        # curves that cross: a smoke run's tiny sets may never reach the FC network's accuracy
        curves=held.curves and all("efficiency_ratio" in named.get(name, {}) for name in config.DATASETS),
    )
    c.missing = [text for name, text in holding.EXPERIMENTS.items() if not getattr(c.has, name)]
    c.seeds_text = holding.seeds_text(c.has.seeds)
    c.section = holding.Numbering(2 if c.has.reference else 1)
    c.chapter = (lambda n: n) if c.has.serving else (lambda n: n - 1)
    c.published = _published_cost(root)
    full = profiles.PROFILES["full"].seeds
    planned = [len(hypotheses.seeds_for_model(name, full, d)) for name in hypotheses.primary_models() for d in config.DATASETS]
    c.full_seeds = SimpleNamespace(low=min(planned), high=max(planned), exploratory=len(profiles.exploratory_seeds(full)))
    c.serving_images = values.count(int(c.serving.get("images", 0)))
    c.serving_accuracy = c.serving.get("served accuracy (%)", "")
    c.p = _protocol_values(loaded)
    c.serving_difference = _scientific(c.serving.get("largest probability difference", math.nan))
    c.family_size = values.count(sum(r.test == "McNemar" and not math.isnan(r.p) for r in results.values()))
    c.resolved_count = values.count(sum(r.resolved for r in results.values()))
    c.estimates = values.count(sum(r.test == "Welch" for r in results.values()))
    c.kernel_largest = {
        name: values.number(
            max(
                (abs(r.difference) for (d, key), r in results.items() if d == name and key in claims.KERNEL_KEYS),
                default=math.nan,
            ),
            2,
        )
        for name in datasets
    }
    return c


def _published_cost(root: Path) -> SimpleNamespace | None:
    """The published run's training cost, for a run that is not it (the box that lists what `full` adds)."""
    from convlab.study import paths

    published = paths.REPORTS_DIR / "published"
    if root.resolve() == published.resolve() or not published.is_dir():
        return None
    cost = _run_cost(published, config.DATASETS)
    return cost if cost.trainings.raw else None


def _scientific(value: float) -> str:
    """7.2 × 10<sup>−7</sup>, for a reader rather than a parser."""
    if math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa} × 10<sup>{int(exponent)}</sup>".replace("-", "−")


def _protocol_values(loaded: Mapping[str, runs.DatasetRun]) -> values.Names:
    """The training protocol as the records hold it (the CNN's record, then a reference run's), and the rule's limits."""
    found = values.Names()
    record = next((run.groups["cnn"][0] for run in loaded.values() if run.groups.get("cnn")), None)
    if record is not None:
        settings = record["parameters"]
        found["learning_rate"] = values.Value(settings["learning_rate"], f"{settings['learning_rate']:g}")
        found["batch_size"] = values.count(settings["batch_size"])
        found["patience"] = values.count(settings["patience"])
        found["monitor"] = values.Value(0, protocol.MONITOR_WORDS[settings.get("monitor", "val_loss")])
        found["gap_learning_rate"] = next(
            (
                values.Value(r["parameters"]["learning_rate"], f"{r['parameters']['learning_rate']:g}")
                for run in loaded.values()
                for r in run.groups.get("cnn_gap", [])
            ),
            found["learning_rate"],
        )
        found["epoch_cap"] = values.count(settings["epochs"])
        augmented = next((r for run in loaded.values() for r in run.groups.get("cnn_shift4", [])), None)
        if augmented is not None and augmented["parameters"].get("also_wait_for"):
            found["augmented_patience"] = values.count(augmented["parameters"]["patience"])
        found["validation_percent"] = values.number(100 * settings["validation_fraction"], 0)
        seeds = sorted({r["seed"] for run in loaded.values() for r in run.groups.get("cnn", [])})
        found["seeds"] = values.Value(
            len(seeds), ", ".join(map(str, seeds[:-1])) + f" and {seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
        )
    primary = [
        len(group)
        for run in loaded.values()
        for name, group in run.groups.items()
        if group and name in hypotheses.primary_models()
    ]
    if primary and min(primary) < max(primary):  # seeds by the power plan: the fewest any primary model trained on
        found["fewest_primary_seeds"] = values.count(min(primary))
    exploratory = [
        sorted(r["seed"] for r in group)
        for run in loaded.values()
        for name, group in run.groups.items()
        if group and name not in hypotheses.primary_models()
    ]
    if exploratory:
        fewest = min(exploratory, key=len)
        found["exploratory_seeds"] = values.Value(
            len(fewest), ", ".join(map(str, fewest[:-1])) + f" and {fewest[-1]}" if len(fewest) > 1 else str(fewest[0])
        )
    reference = next((r for run in loaded.values() for family_runs in run.reference.values() for r in family_runs), None)
    if reference is not None:
        found["reference_patience"] = values.count(reference["parameters"]["patience"])
        found["reference_min_epochs"] = values.count(reference["parameters"]["min_epochs"])
    found["studies_epochs"] = values.count(protocol.STUDIES_EPOCHS)
    found["premature_percent"] = values.number(100 * protocol.PREMATURE_TOLERANCE, 0)
    found["share_percent"] = values.number(100 * protocol.PREMATURE_SHARE, 0)
    found["premature_points"] = values.number(protocol.PREMATURE_POINTS, 1)
    curve_seeds = sorted(
        {r["seed"] for run in loaded.values() for by_size in run.curves.values() for group in by_size.values() for r in group}
    )
    if curve_seeds:
        found["curve_seeds"] = values.Value(len(curve_seeds), f"{curve_seeds[0]} to {curve_seeds[-1]}")
    shifts = {
        row["shift"]
        for run in loaded.values()
        for probes in run.translation.values()
        for probe in probes
        for row in probe["result"]["rows"]
    }
    if shifts:
        found["max_shift"] = values.count(max(shifts))
    augmented = next((run.groups["cnn_shift4"][0] for run in loaded.values() if run.groups.get("cnn_shift4")), None)
    if augmented is not None:
        found["augmentation_shift"] = values.count(augmented["model"]["shift_augmentation"])
    return found


def _hardest_classes(run: runs.DatasetRun, test: TestData) -> dict:
    found = {}
    for name, key in ((identities.FC, "fc"), ("cnn", "cnn")):
        if not run.groups.get(name):
            continue
        errors = np.mean(
            [
                [100 * np.mean(np.asarray(r["test"]["predictions"])[test.test_labels == k] != k) for k in range(10)]
                for r in run.groups[name]
            ],
            axis=0,
        )
        hardest = int(np.argmax(errors))
        found["class_min"] = values.count(int(test.train_counts.min()))
        found["class_max"] = values.count(int(test.train_counts.max()))
        found["class_min_name"] = values.Value(0, test.class_names[int(np.argmin(test.train_counts))])
        found["class_max_name"] = values.Value(0, test.class_names[int(np.argmax(test.train_counts))])
        found[f"{key}_hardest"] = values.Value(hardest, test.class_names[hardest])
        found[f"{key}_hardest_error"] = values.number(errors[hardest], 1)
        found[f"{key}_easiest_error"] = values.number(errors.min(), 1)
    first = {name: next((r for r in run.groups.get(name, []) if r["seed"] == 0), None) for name in (identities.FC, "cnn")}
    if all(first.values()):
        fc_right = np.asarray(first[identities.FC]["test"]["predictions"]) == test.test_labels
        cnn_right = np.asarray(first["cnn"]["test"]["predictions"]) == test.test_labels
        found["fc_only_errors"] = values.count(int(np.sum(~fc_right & cnn_right)))
        found["cnn_only_errors"] = values.count(int(np.sum(fc_right & ~cnn_right)))
        found["both_errors"] = values.count(int(np.sum(~fc_right & ~cnn_right)))
    return found


def _family_rule(loaded: Mapping[str, runs.DatasetRun]) -> SimpleNamespace:
    """Every candidate rule replayed on every family's long-patience run of both datasets (a family per dataset), the
    rule chosen on them, the runs that reached their cap, and the rule the run's trainings used."""
    by_family = protocol.rule_families({run.title: run.long_runs for run in loaded.values()})
    table = protocol.family_rule_table(by_family)
    chosen = protocol.chosen_rule(table, exempt=protocol.LONG_RULE_FAMILIES)
    long_rule = [label for label in by_family if protocol.exempted(label, protocol.LONG_RULE_FAMILIES)]
    premature = chosen is not None and chosen["monitor"] == "val_loss" and all(
        protocol.is_premature_on(run["history"], chosen["patience"], chosen["monitor"])
        for label in long_rule
        for run in by_family[label]
    )
    used = runs.trained_rule(loaded)
    rates = {run.title: protocol.learning_rate_table(run.long_runs) for run in loaded.values() if run.long_runs}
    rates = {title: table for title, table in rates.items() if not table.empty}
    best_by_rate = pd.concat(list(rates.values()))["best validation accuracy (%)"].groupby(level=0).mean() if rates else None
    return SimpleNamespace(
        table=table,
        chosen=chosen,
        chosen_text=protocol.rule_words(chosen["monitor"], chosen["patience"]) if chosen else "none of the candidates",
        used=used,
        used_text=protocol.rule_words(*used),
        at_cap=[(label, seed) for label, seed in protocol.at_the_cap(by_family)],
        runs=sum(len(group) for group in by_family.values()),
        fewest_seeds=min(len(group) for group in by_family.values()),
        most_seeds=max(len(group) for group in by_family.values()),
        families=len({label.split(", ", 1)[1] for label in by_family}),
        premature={},
        long_rule=long_rule,
        long_rule_premature=bool(long_rule) and premature,
        rates=rates,
        best_gap_rate=float(best_by_rate.idxmax()) if best_by_rate is not None else None,
        by_family=True,
    )


def _rule(loaded: Mapping[str, runs.DatasetRun]) -> SimpleNamespace:
    every_family = set(design.SETTINGS_FAMILY_LABELS)
    if loaded and all(every_family <= set(run.long_runs) for run in loaded.values()):
        return _family_rule(loaded)
    histories = protocol.validation_histories({name: run.reference for name, run in loaded.items() if run.reference})
    if not histories:
        return SimpleNamespace(table=None, chosen=None, chosen_text="", premature={}, runs=0, by_family=False)
    table = protocol.rule_table(histories)
    chosen = protocol.cheapest_rule(table)
    premature = {int(p): int(n) for p, n in zip(table["patience"], table["premature stops"], strict=True)}
    chosen_text = protocol.rule_name(chosen) if chosen else "none of the candidates"
    return SimpleNamespace(
        table=table, chosen=chosen, chosen_text=chosen_text, premature=premature, runs=len(histories), by_family=False
    )


def _serving(root: Path, datasets: Sequence[str]) -> dict:
    for dataset in datasets:
        path = root / dataset / "results" / "serving" / "cnn-seed0-local.json"
        if path.is_file():
            stored = records.read_json(path)
            return stored["comparison"] | {"front end": stored.get("front_end", ""), "dataset": config.DATASET_TITLES[dataset]}
    return {}


def _interval(record: dict) -> tuple[float, float]:
    """A training's start and end (seconds since the epoch): it ended when its record was created."""
    end = datetime.fromisoformat(record["created"]).timestamp()
    return end - float(record["timing"]["train_seconds"]), end


def most_at_once(intervals: Sequence[tuple[float, float]]) -> int:
    """The largest number of intervals that overlap at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals], key=lambda e: (e[0], e[1]))
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def _latency_beside_training(root: Path, datasets: Sequence[str], intervals: Sequence[tuple[float, float]]) -> bool:
    """Whether any FC or CNN latency probe of seed 0 was taken while a training of the run was going on."""
    for dataset in datasets:
        for name in ("cnn", identities.FC):
            path = root / dataset / "results" / "probes" / f"latency_{name}-seed0.json"
            if path.is_file():
                probe = records.read_json(path)
                if probe["result"].get("trainings_at_once", 1) > 1:  # counted while it ran (slots)
                    return True
                taken = datetime.fromisoformat(probe["created"]).timestamp()
                if any(start <= taken <= end for start, end in intervals):
                    return True
    return False


def _run_cost(root: Path, datasets: Sequence[str]) -> SimpleNamespace:
    """The run's trainings: how many, epochs, training hours, how many ran at once at most, what the quick
    profile's share took, and whether the latency probes had the machine to themselves."""
    found = [
        (relative, record) for dataset in datasets for relative, record in costs.training_records(root / dataset / "results")
    ]
    trained = [record for _, record in found]
    quick = [  # the quick profile's trainings: seed 0 of the studies' models, trained in the results folder itself
        record
        for relative, record in found
        if "/" not in relative and record["seed"] == 0 and record["model"]["name"] in (identities.FC, "cnn", "cnn_k5", "cnn_k7")
    ]
    intervals = [_interval(record) for record in trained]
    seconds = sum(r["timing"]["train_seconds"] for r in trained)
    stamp = trained[0]["environment"] if trained else {}
    precisions = sorted({r["parameters"]["precision"] for r in trained if r["model"]["kind"] == "cnn"})
    return SimpleNamespace(
        trainings=values.count(len(trained)),
        epochs=values.count(sum(r["epochs_run"] for r in trained)),
        hours=values.number(seconds / 3600, 1),
        quick_minutes=values.number(sum(r["timing"]["train_seconds"] for r in quick) / 60, 0),
        at_once=values.count(most_at_once(intervals)),
        latency_under_load=_latency_beside_training(root, datasets, intervals),
        cnn_precision=" and ".join(precisions) or "float32",
        cpu=stamp.get("cpu", "unknown"),
        cores=stamp.get("cpu_count", "?"),
        tensorflow=stamp.get("packages", {}).get("tensorflow-cpu") or stamp.get("packages", {}).get("tensorflow", "?"),
    )
