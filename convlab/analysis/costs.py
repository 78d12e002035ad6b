"""What a run cost, read from its result records: runs, epochs, core-minutes and FLOP of training per model family.

Every training process uses one core (`records.thread_setting`), so a run's training seconds are core-seconds.
A training's FLOP are 6 × its multiply-accumulates per image × the images it fitted × its epochs: 2 FLOP per
multiply-accumulate forward, about twice the forward pass backward (`TRAINING_FLOPS_PER_MAC`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from convlab.store import records

TRAINING_FLOPS_PER_MAC = 6
FULL_RUN_FLOP_BUDGET = 1.55e15  # a published run's training FLOP at most (1.3 times the 1.19e15 of the run before it)

FAMILY_RULES = (  # (the folder the record lies in, a pattern on the model name, the family), the first that matches
    ("protocol/literal", r".*", "the studies' literal protocol (FC and CNN, 15 epochs)"),
    ("protocol", r"(fc_baseline|cnn)$", "reference runs (FC and CNN, patience 10)"),
    ("protocol", r".*", "long-patience runs of the other families"),
    ("reference", r".*", "settings check (FC and CNN under the gpu profile's settings)"),
    ("curves", r"fc_baseline$", "learning curves: FC"),
    ("curves", r"cnn$", "learning curves: CNN"),
    ("", r"fc_baseline$", "FC"),
    ("", r"cnn$", "CNN"),
    ("", r"cnn_k\d+$", "CNN, other first-layer kernels"),
    ("", r"cnn_k\d+-\d+$", "CNN, kernel changed in both layers"),
    ("", r"cnn_gap$", "CNN, GAP head"),
    ("", r"cnn_avgpool$", "CNN, average pooling"),
    ("", r".*_shift\d+$", "shift-augmented (FC and CNN)"),
    ("", r".*_perm\d+$", "pixel-permuted (FC and CNN)"),
    ("", r"cnn_local\d*$", "CNN, locally connected first layer"),
)
OTHER = "other"


def family_of(relative: str, model_name: str) -> str:
    """The family of a record at `relative` (its path under results/) of the model `model_name`."""
    where = relative.rsplit("/", 1)[0] if "/" in relative else ""
    for folder, pattern, family in FAMILY_RULES:
        inside = where == folder or (folder and folder == where.split("/")[0] and folder != "protocol")
        if inside and re.match(pattern, model_name):
            return family
    return OTHER


def training_flops(record: dict) -> float:
    """The FLOP of one training: 6 × multiply-accumulates per image × images fitted × epochs run."""
    return float(TRAINING_FLOPS_PER_MAC * record["macs_per_image"] * record["parameters"]["fit_size"] * record["epochs_run"])


def run_flops(results_dirs: Sequence[str | Path]) -> float:
    """The training FLOP of every record under the given results folders."""
    return sum(training_flops(record) for results_dir in results_dirs for _, record in training_records(results_dir))


def training_records(results_dir: str | Path) -> list[tuple[str, dict]]:
    """Every complete training record under a results folder, subfolders included, with its relative path."""
    root = Path(results_dir)
    found = []
    for path in records.committed(sorted(root.rglob("*-seed*.json"))):
        try:
            found.append((path.relative_to(root).as_posix(), records.read_record(path)))
        except records.MissingResultError:
            continue
    return found


def cost_table(results_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """Per family over the given datasets' results folders: runs, epochs, core-minutes of training and their share."""
    rows = []
    for results_dir in results_dirs:
        for relative, record in training_records(results_dir):
            rows.append(
                {
                    "family": family_of(relative, record["model"]["name"]),
                    "epochs": record["epochs_run"],
                    "core-minutes": record["timing"]["train_seconds"] / 60,
                    "FLOP": training_flops(record),
                }
            )
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    table = frame.groupby("family").agg(
        runs=("epochs", "size"), epochs=("epochs", "sum"), **{"core-minutes": ("core-minutes", "sum"), "FLOP": ("FLOP", "sum")}
    )
    table["epochs per run"] = table["epochs"] / table["runs"]
    table["share of training (%)"] = 100 * table["core-minutes"] / table["core-minutes"].sum()
    table = table.sort_values("core-minutes", ascending=False)
    table.loc["all"] = [
        table["runs"].sum(),
        table["epochs"].sum(),
        table["core-minutes"].sum(),
        table["FLOP"].sum(),
        table["epochs"].sum() / table["runs"].sum(),
        100.0,
    ]
    return table.astype({"runs": int, "epochs": int})
