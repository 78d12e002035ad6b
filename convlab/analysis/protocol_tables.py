"""How the runs were trained and stopped: each run's stopping epoch against its cap, the profiles' settings, and the
effect of training under another profile's settings.
"""

from __future__ import annotations

import pandas as pd

from convlab.analysis import stats
from convlab.analysis.tables import MODEL, SEED, with_confidence
from convlab.experiments import design
from convlab.store import records
from convlab.study import profiles

# Rows and columns read outside the functions that build them.
CNN_MINUS_FC_GAIN = "CNN − FC gain"  # a row of `settings_effects`
REFERENCE_SETTINGS = "reference settings"
RUN_SETTINGS = "run settings"
EPOCHS_RUN = "epochs run"
EPOCH_CAP = "epoch cap"
BEST_EPOCH = "best epoch"
CAP_BOUND = "ended at the cap"


def settings_effects(
    chosen: records.RecordGroups, reference: records.RecordGroups, confidence: float = stats.DEFAULT_CONFIDENCE
) -> pd.DataFrame:
    """Each model under the run's training settings against the reference settings, and the CNN's gain under both.

    `chosen` and `reference` map `FC_BASELINE` and `CNN` to runs with the same seeds. The gain row
    compares the per-seed gains (CNN − FC of the same seed) under the two settings.
    """
    rows = [
        {"quantity": f"{name} accuracy"} | stats.paired_effect(reference[name], chosen[name], confidence)
        for name in (design.FC_BASELINE, design.CNN)
    ]
    gains = {
        label: records.accuracies(runs[design.CNN]) - records.accuracies(runs[design.FC_BASELINE])
        for label, runs in (("ref", reference), ("run", chosen))
    }
    low, high = stats.welch_difference_interval(gains["run"], gains["ref"], confidence)
    low_column, high_column = stats.interval_columns(confidence)
    rows.append(
        {
            "quantity": CNN_MINUS_FC_GAIN,
            stats.ORIGINAL: f"{gains['ref'].mean():+.2f} ± {gains['ref'].std(ddof=1):.2f}",
            stats.CHANGED: f"{gains['run'].mean():+.2f} ± {gains['run'].std(ddof=1):.2f}",
            stats.DIFFERENCE: float(gains["run"].mean() - gains["ref"].mean()),
            low_column: low,
            high_column: high,
            stats.WELCH_P: stats.welch_test(gains["run"], gains["ref"])["p_value"],
            stats.SEEDS: f"{len(gains['ref'])} / {len(gains['run'])}",
        }
    )
    table = pd.DataFrame(rows).set_index("quantity")
    table = table.rename(columns={stats.ORIGINAL: REFERENCE_SETTINGS, stats.CHANGED: RUN_SETTINGS}).round(4)
    return with_confidence(table, confidence)


def training_stops(groups: records.RecordGroups) -> pd.DataFrame:
    """How each run ended: epochs run, its cap, its best epoch, and whether the cap ended it.

    Early stopping ends a run `patience` epochs after its best one; a run that reached its cap sooner after its
    best epoch was still improving (or had only just stopped) when the cap ended it.
    """
    rows = []
    for group, runs in groups.items():
        for record in runs:
            cap, patience = record["parameters"]["epochs"], record["parameters"]["patience"]
            ran = record.get("epochs_run", len(record["history"]["loss"]))
            best = record.get("best_epoch", ran)
            rows.append(
                {MODEL: group, SEED: record["seed"], EPOCHS_RUN: ran, EPOCH_CAP: cap, BEST_EPOCH: best}
                | {CAP_BOUND: bool(ran >= cap and ran - best < patience)}
            )
    return pd.DataFrame(rows, columns=[MODEL, SEED, EPOCHS_RUN, EPOCH_CAP, BEST_EPOCH, CAP_BOUND])


def stops_by_model(stops: pd.DataFrame) -> pd.DataFrame:
    """Per model of `training_stops`: its runs, and how many of them the epoch cap ended."""
    table = stops.groupby(MODEL, sort=False)[CAP_BOUND].agg(["size", "sum"]).astype(int)
    return table.rename(columns={"size": "runs", "sum": CAP_BOUND})


def cap_bound_runs(stops: pd.DataFrame) -> pd.DataFrame | None:
    """The rows of `training_stops` that the epoch cap ended; None when there are none (nothing to show)."""
    bound = stops[stops[CAP_BOUND]]
    return bound if len(bound) else None


def profile_table() -> pd.DataFrame:
    """One row per profile: its seeds, batch sizes, epoch caps, patience and purpose."""
    rows = [
        {
            "profile": p.name,
            "seeds": ", ".join(map(str, p.seeds)),
            "batch, CNN / FC": f"{p.batch_size} / {p.fc_batch_size}",
            "epoch cap, CNN / FC": f"{p.cnn_epochs} / {p.epochs}",
            "patience": p.patience,
            "meant for": p.purpose,
        }
        for p in profiles.PROFILES.values()
    ]
    return pd.DataFrame(rows).set_index("profile")
