"""The training protocol, chosen by measurement: reference runs, the stopping rules simulated on them, the studies' own.

A reference run trains the FC network or the CNN with patience `REFERENCE_PATIENCE`, up to `REFERENCE_CAP` epochs and
never fewer than `STUDIES_EPOCHS`, and records its validation loss and its test loss and accuracy after every epoch.
Two things are read off those trajectories:

- **The stopping rule.** Early stopping does not change the trajectory before it stops, so each candidate rule is
  simulated on the recorded validation losses: where it would stop, and the best validation loss it would keep. A
  stop is premature when that loss is more than `PREMATURE_TOLERANCE` above the reference run's own minimum. The
  rule every family trains with (`profiles.PATIENCE`) is the cheapest candidate (fewest epochs per run) whose share
  of premature stops is at most `PREMATURE_SHARE`; the report checks this on every run that has reference runs.
- **The studies' protocol.** Adam at 1e-3, batch 32, exactly `STUDIES_EPOCHS` epochs, the last epoch's weights: the
  test accuracy after epoch 15 of a reference run is that result, because the run's first 15 epochs are the same.

Records come in as dicts (`fit.fit`); this module imports no TensorFlow unless a run trains.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from convlab.datasets import data
from convlab.experiments import design
from convlab.experiments.stopping import (  # noqa: F401  (the protocol's rules, re-exported for its readers)
    CANDIDATE_PATIENCES,
    MONITOR_WORDS,
    MONITORS,
    PREMATURE_POINTS,
    PREMATURE_SHARE,
    PREMATURE_TOLERANCE,
    Stop,
    at_the_cap,
    cheapest_rule,
    chosen_rule,
    exempted,
    family_rule_table,
    is_premature,
    is_premature_on,
    rule_name,
    rule_table,
    rule_words,
    simulate,
)
from convlab.study import config, identities
from convlab.training import precision

if TYPE_CHECKING:
    from convlab.store import records

REFERENCE_PATIENCE = 10
STUDIES_EPOCHS = 15
STUDIES_LEARNING_RATE = 1e-3
STUDIES_BATCH = 32
FOLDER = "protocol"  # under results/ and models/: the reference runs
FAMILIES = ("FC", "CNN")
GAP_LEARNING_RATES = (3e-3,)  # besides the studies' 1e-3: the GAP head's candidate rates in its long-patience runs
# The families that train with the long-patience runs' own rule (patience `REFERENCE_PATIENCE`, stopping only once
# neither validation loss nor validation accuracy improved; `profiles.AUGMENTED_PATIENCE`), left out of the choice of
# the rule every other family trains with. Their shifts are drawn afresh every epoch, and their validation loss
# plateaus for longer than any candidate patience waits: the rule chosen on the other families stopped each of their
# long runs, on both datasets, more than 2% above its lowest validation loss.
LONG_RULE_FAMILIES = (design.FC_SHIFT_AUGMENTED, design.CNN_SHIFT_AUGMENTED)


def reference_configs(dataset: str) -> dict:
    """The studies' two models (`models.ModelConfig` by family), whose reference runs decide the protocol."""
    from convlab.training import models

    return {"FC": models.fc_baseline_config(dataset), "CNN": models.cnn_config(dataset)}


def family_configs(dataset: str) -> dict:
    """One configuration of every other family the run trains (`plans.settings_families`): its long-patience run
    is the evidence that the stopping rule stops none of them early."""
    from convlab.experiments import plans

    return {family: c for family, c in plans.settings_families(dataset).items() if family not in FAMILIES}


def reference_settings(model_config, params: config.RunParameters):
    """A reference run's settings: the studies' optimiser and batch, patience 10 up to the profile's cap (120), at least
    15 epochs, and not stopped while either validation loss or validation accuracy improved within the patience,
    tested after every epoch; CNNs in the run's training precision (`precision.training_precision`), like
    every CNN. An explicit `epochs` or `batch_size` (a smoke test's) caps or sets these as it does every run's."""
    from convlab.training import fit

    cap = params.cnn_epochs if model_config.kind == "cnn" else params.epochs
    return fit.TrainingConfig(
        epochs=cap,
        batch_size=params.batch_size if model_config.kind == "cnn" else params.fc_batch_size,
        learning_rate=STUDIES_LEARNING_RATE,
        patience=REFERENCE_PATIENCE,
        min_epochs=min(STUDIES_EPOCHS, cap),
        test_each_epoch=True,
        also_wait_for="val_accuracy",  # so that a rule watching validation accuracy can be replayed on it too
        precision=precision.training_precision() if model_config.kind == "cnn" else precision.FLOAT32,
    )


def train_reference_runs(dataset: data.Dataset, params: config.RunParameters, seeds: tuple[int, ...]) -> records.RecordGroups:
    """Every long-patience run of this dataset (each trained at most once, side by side), by family: every family on
    the first of `seeds` (one run per family and dataset: the issue's evidence, at a twelfth of the run's budget)."""
    from convlab.training import workers

    configs = reference_configs(params.dataset) | family_configs(params.dataset)
    tasks = [
        (family, workers.Task(c, dataset, seed, reference_settings(c, params), FOLDER, needs_model=False))
        for family, c in configs.items()
        for seed in seeds[:1]
    ]
    gap = configs[design.CNN_GAP]
    for rate in GAP_LEARNING_RATES:  # the GAP head learns slowly at 1e-3: faster rates, judged on validation data
        label = gap_rate_label(rate)
        configs[label] = gap
        settings = replace(reference_settings(gap, params), learning_rate=rate)
        task = workers.Task(gap, dataset, seeds[0], settings, f"{FOLDER}/{rate_folder(rate)}", needs_model=False)
        tasks.append((label, task))
    return by_family(tasks, workers.train_all([task for _, task in tasks], params), configs)


def gap_rate_label(rate: float) -> str:
    """The family label of the GAP head's long run at another rate, as `stored_long_runs` reads it back."""
    return f"{design.CNN_GAP}, learning rate {rate:g}"


def rate_folder(rate: float) -> str:
    """Where a long-patience run at another learning rate is kept, under results/protocol/ ("lr0.003")."""
    return f"lr{rate:g}"


def learning_rate_table(runs: records.RecordGroups) -> pd.DataFrame:
    """The GAP head's long-patience runs at each learning rate: epochs run, the epoch of the lowest validation loss and
    the best validation accuracy (%), the figures a rate is chosen by (validation data only)."""
    rows = []
    for label, rate in [(design.CNN_GAP, STUDIES_LEARNING_RATE)] + [(gap_rate_label(r), r) for r in GAP_LEARNING_RATES]:
        for run in runs.get(label, []):
            history = run["history"]
            rows.append(
                {
                    "learning rate": rate,
                    "seed": run["seed"],
                    "epochs run": run["epochs_run"],
                    "lowest validation loss at epoch": int(np.argmin(history["val_loss"])) + 1,
                    "best validation accuracy (%)": 100 * max(history["val_accuracy"]),
                    "reached the cap": run["epochs_run"] >= run["parameters"]["epochs"],
                }
            )
    return pd.DataFrame(rows).set_index("learning rate") if rows else pd.DataFrame()


def by_family(tasks: list[tuple], trained: list[dict], configs: dict) -> records.RecordGroups:
    """Trained records grouped by the family label of their (label, task) pair, every family of `configs` present."""
    runs: records.RecordGroups = {family: [] for family in configs}
    for (family, _), record in zip(tasks, trained):
        runs[family].append(record)
    return runs


def stored_reference_runs(results_dir, folder: str = FOLDER) -> records.RecordGroups:
    """The FC network's and the CNN's runs stored in `folder` under a report folder's results/ (by family; empty when
    there are none): the reference runs, or those of another protocol kept beside them (`literal.FOLDER`)."""
    from convlab.store import records

    try:
        found = records.load_all_records(Path(results_dir) / folder)
    except records.MissingResultError:
        return {}
    names = {identities.FC: "FC", identities.CNN: "CNN"}
    return {names[name]: runs for name, runs in found.items() if name in names}


def stored_long_runs(results_dir) -> records.RecordGroups:
    """Every family's long-patience runs stored under a report folder's results/protocol/, by family label
    (`design.family_of`); those at another learning rate (`rate_folder`) as "<family>, learning rate <rate>"."""
    from convlab.store import records

    found: records.RecordGroups = {}
    folders = [(Path(results_dir) / FOLDER, None)]
    folders += [(Path(results_dir) / FOLDER / rate_folder(rate), rate) for rate in GAP_LEARNING_RATES]
    for folder, rate in folders:
        try:
            by_name = records.load_all_records(folder)
        except records.MissingResultError:
            continue
        for group in by_name.values():
            label = design.family_of(group[0]["model"])
            found.setdefault(label if rate is None else f"{label}, learning rate {rate:g}", []).extend(group)
    return found


def rule_families(long_runs_by_title: dict[str, records.RecordGroups]) -> records.RecordGroups:
    """The long runs a stopping rule is chosen on, a family per dataset ("MNIST, CNN"), from each dataset's
    `stored_long_runs` by its title; the GAP head's runs at other rates choose its rate, not the rule."""
    rate_labels = {gap_rate_label(rate) for rate in GAP_LEARNING_RATES}
    return {
        f"{title}, {label}": group
        for title, families in long_runs_by_title.items()
        for label, group in families.items()
        if label not in rate_labels
    }


def validation_histories(runs_by_dataset: dict[str, records.RecordGroups]) -> list[list[float]]:
    """The validation-loss trajectory of every reference run, over datasets and families."""
    return [run["history"]["val_loss"] for runs in runs_by_dataset.values() for family in runs.values() for run in family]


def follows_the_studies(run: dict, dataset: dict | None = None) -> bool:
    """Whether a reference run's first `STUDIES_EPOCHS` epochs are a run of the studies' protocol: their learning
    rate and batch, at least 15 epochs recorded, and (where given) the same data as the run it is set beside."""
    settings = run["parameters"]
    return (
        settings["learning_rate"] == STUDIES_LEARNING_RATE
        and settings["batch_size"] == STUDIES_BATCH
        and len(run["history"].get("test_accuracy", [])) >= STUDIES_EPOCHS
        and (dataset is None or run["dataset"] == dataset)
    )


def studies_protocol(
    runs: records.RecordGroups, epochs: int = STUDIES_EPOCHS, metric: str = "test_accuracy"
) -> dict[str, list[float]]:
    """Per family, each seed's test accuracy (%) (or loss) after exactly `epochs` epochs: the studies' protocol.
    Runs shorter than `epochs` (a smoke test's) are left out."""
    scale = 100 if metric == "test_accuracy" else 1
    return {
        family: [scale * run["history"][metric][epochs - 1] for run in family_runs if len(run["history"][metric]) >= epochs]
        for family, family_runs in runs.items()
    }


def kept_by_rule(run: dict, patience: int) -> dict:
    """What a patience rule would have given this run: its stop, the epoch it keeps, that epoch's test accuracy (%)."""
    history = run["history"]
    stop = simulate(history["val_loss"], patience)
    return {
        "epochs": stop.epochs,
        "kept epoch": stop.best_epoch,
        "test accuracy": 100 * history["test_accuracy"][stop.best_epoch - 1],
    }


def runs_table(runs: records.RecordGroups, patience: int, epochs: int = STUDIES_EPOCHS) -> pd.DataFrame:
    """One row per reference run: its length, the epoch of its lowest validation loss, the validation loss after
    `epochs` epochs relative to that minimum, and its test accuracy after `epochs` epochs and under the rule."""
    rows = []
    for family, family_runs in runs.items():
        for run in family_runs:
            history = run["history"]
            losses = history["val_loss"]
            kept = kept_by_rule(run, patience)
            at = min(epochs, len(losses))
            rows.append(
                {
                    "model": family,
                    "seed": run["seed"],
                    "epochs run": len(losses),
                    "lowest validation loss at epoch": int(np.argmin(losses)) + 1,
                    f"validation loss after {at} epochs, above its lowest (%)": 100 * (losses[at - 1] / min(losses) - 1),
                    f"test accuracy after {at} epochs (%)": 100 * history["test_accuracy"][at - 1],
                    f"test accuracy, {rule_name(patience)} (%)": kept["test accuracy"],
                    f"epochs, {rule_name(patience)}": kept["epochs"],
                }
            )
    return pd.DataFrame(rows).set_index(["model", "seed"])


def trajectory_frame(runs: records.RecordGroups) -> pd.DataFrame:
    """One row per family, seed and epoch: training, validation and test loss, validation and test accuracy (%)."""
    rows = []
    for family, family_runs in runs.items():
        for run in family_runs:
            history = run["history"]
            for index, test_loss in enumerate(history["test_loss"]):
                rows.append(
                    {
                        "family": family,
                        "seed": run["seed"],
                        "epoch": index + 1,
                        "training loss": history["loss"][index],
                        "validation loss": history["val_loss"][index],
                        "test loss": test_loss,
                        "test accuracy": 100 * history["test_accuracy"][index],
                    }
                )
    return pd.DataFrame(rows)


def prediction_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """The Student-t prediction interval for one more run, from the seeds' runs (NaN with fewer than two)."""
    from scipy import stats as scipy_stats

    sample = np.asarray(values, dtype=float)
    if len(sample) < 2:
        return float("nan"), float("nan")
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=len(sample) - 1) * sample.std(ddof=1) * np.sqrt(1 + 1 / len(sample)))
    return float(sample.mean()) - half, float(sample.mean()) + half


def reproduction_table(runs: records.RecordGroups, published: dict, patience: int, epochs: int = STUDIES_EPOCHS) -> pd.DataFrame:
    """FC and CNN under the studies' protocol (exactly `epochs` epochs, last weights) beside the study's figures.

    `published` is the study's entry of `studies.json` ("models" by record name, "approximate"). The prediction
    interval is where one more run of ours would land with 95% probability: a published single run outside it
    differs by more than seed noise.
    """
    names = {"FC": identities.FC, "CNN": identities.CNN}
    at_epochs = studies_protocol(runs, epochs)
    losses = studies_protocol(runs, epochs, "test_loss")
    rows = []
    for family, accuracies in at_epochs.items():
        if not accuracies:
            continue
        theirs = published["models"].get(names[family], {})
        low, high = prediction_interval(accuracies)
        rule = [kept_by_rule(run, patience)["test accuracy"] for run in runs[family]]
        rows.append(
            {
                "model": family,
                "parameters": runs[family][0]["model"]["parameters"],
                "seeds": len(accuracies),
                f"{epochs} epochs: accuracy (%)": float(np.mean(accuracies)),
                "std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else float("nan"),
                "one run, 95% prediction interval": (round(low, 2), round(high, 2)),
                f"{epochs} epochs: test loss": float(np.mean(losses[family])),
                "published accuracy (%)": theirs.get("test_accuracy", float("nan")),
                "published loss": theirs.get("test_loss", float("nan")),
                "published parameters": theirs.get("parameters"),
                f"{rule_name(patience)}: accuracy (%)": float(np.mean(rule)),
                "approximate": bool(published.get("approximate")),
            }
        )
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


def overfitting(runs: records.RecordGroups, epochs: int = STUDIES_EPOCHS) -> pd.DataFrame:
    """Per family, means over seeds: the epoch of the lowest validation loss, and after `epochs` epochs how far the
    validation and test losses stand above their lowest and how far training loss has fallen below validation loss."""
    rows = []
    for family, family_runs in runs.items():
        usable = [run["history"] for run in family_runs if len(run["history"]["val_loss"]) >= epochs]
        if not usable:
            continue
        rows.append(
            {
                "model": family,
                "lowest validation loss at epoch": float(np.mean([np.argmin(h["val_loss"]) + 1 for h in usable])),
                f"validation loss after {epochs} epochs, above its lowest (%)": float(
                    np.mean([100 * (h["val_loss"][epochs - 1] / min(h["val_loss"]) - 1) for h in usable])
                ),
                f"test loss after {epochs} epochs, above its lowest (%)": float(
                    np.mean([100 * (h["test_loss"][epochs - 1] / min(h["test_loss"]) - 1) for h in usable])
                ),
                f"training loss after {epochs} epochs, as a share of validation loss": float(
                    np.mean([h["loss"][epochs - 1] / h["val_loss"][epochs - 1] for h in usable])
                ),
                f"best test accuracy minus accuracy after {epochs} epochs (points)": float(
                    np.mean([100 * (max(h["test_accuracy"]) - h["test_accuracy"][epochs - 1]) for h in usable])
                ),
            }
        )
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


def published_study(dataset: str) -> dict:
    """The study's published figures for a dataset (`studies.json`: citation, "approximate", "models" by record name)."""
    import json

    from convlab.study import paths

    return json.loads((paths.PACKAGE_DIR / "study" / "studies.json").read_text(encoding="utf-8"))["studies"][dataset]


def like_for_like(reference: records.RecordGroups, dataset: dict) -> records.RecordGroups:
    """The reference runs that follow the studies' protocol on this data (`follows_the_studies`), by family."""
    return {family: [run for run in runs if follows_the_studies(run, dataset)] for family, runs in reference.items()}
