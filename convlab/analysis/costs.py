"""What a run cost, read from its result records: runs, epochs and core-minutes of training per model family.

Every training process uses one core (`records.thread_setting`), so a run's training seconds are core-seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from convlab.store import records

FAMILY_RULES = (  # (where the record lies, a pattern on the model name, the family), the first that matches
    ("protocol", r".*", "reference runs (FC and CNN, patience 10)"),
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
)
OTHER = "other"


def family_of(relative: str, model_name: str) -> str:
    """The family of a record at `relative` (its path under results/) of the model `model_name`."""
    top = relative.split("/")[0] if "/" in relative else ""
    for folder, pattern, family in FAMILY_RULES:
        if folder == top and re.match(pattern, model_name):
            return family
    return OTHER


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
                }
            )
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    table = frame.groupby("family").agg(
        runs=("epochs", "size"), epochs=("epochs", "sum"), **{"core-minutes": ("core-minutes", "sum")}
    )
    table["epochs per run"] = table["epochs"] / table["runs"]
    table["share of training (%)"] = 100 * table["core-minutes"] / table["core-minutes"].sum()
    table = table.sort_values("core-minutes", ascending=False)
    table.loc["all"] = [
        table["runs"].sum(),
        table["epochs"].sum(),
        table["core-minutes"].sum(),
        table["epochs"].sum() / table["runs"].sum(),
        100.0,
    ]
    return table.astype({"runs": int, "epochs": int})
