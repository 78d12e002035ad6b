"""The studies' protocol trained literally: every one of the 60,000 training images, no held-out set, exactly 15 epochs,
Adam at 1e-3, batch 32, the last epoch's weights, float32; FC and CNN on the exploratory share of a run's seeds, kept
in `results/protocol/literal/`, and set beside the studies' published figures.

Records come in as dicts (`fit.fit`); this module imports no TensorFlow unless a run trains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from convlab.datasets import data
from convlab.experiments.protocol import (
    STUDIES_BATCH,
    STUDIES_EPOCHS,
    STUDIES_LEARNING_RATE,
    by_family,
    reference_configs,
    stored_reference_runs,
)
from convlab.study import config, identities, profiles
from convlab.training import precision

if TYPE_CHECKING:
    from convlab.store import records

FOLDER = "protocol/literal"  # under results/ and models/


def literal_settings(model_config, params: config.RunParameters):
    """The studies' protocol as they state it: every training image (no held-out set), exactly 15 epochs (fewer only
    under an explicit smaller `epochs`, a smoke test's), Adam at 1e-3, batch 32, the last weights, float32, tested
    after every epoch."""
    from convlab.training import fit

    return fit.TrainingConfig(
        epochs=min(STUDIES_EPOCHS, params.epochs),
        batch_size=STUDIES_BATCH,
        learning_rate=STUDIES_LEARNING_RATE,
        validation_fraction=0.0,
        patience=0,
        test_each_epoch=True,
        precision=precision.FLOAT32,
    )


def train_literal_runs(dataset: data.Dataset, params: config.RunParameters, seeds: tuple[int, ...]) -> records.RecordGroups:
    """FC and CNN under the studies' literal protocol (`literal_settings`) on the exploratory share of `seeds`."""
    from convlab.training import workers

    configs = reference_configs(params.dataset)
    tasks = [
        (family, workers.Task(c, dataset, seed, literal_settings(c, params), FOLDER, needs_model=False))
        for family, c in configs.items()
        for seed in profiles.exploratory_seeds(seeds)
    ]
    return by_family(tasks, workers.train_all([task for _, task in tasks], params), configs)


def stored_literal_runs(results_dir) -> records.RecordGroups:
    """The literal-protocol runs stored under a report folder's results/ (FC and CNN; empty when there are none)."""
    return stored_reference_runs(results_dir, FOLDER)


def literal_table(runs: records.RecordGroups, published: dict) -> pd.DataFrame:
    """FC and CNN under the studies' literal protocol (`literal_settings`: 60,000 images, 15 epochs, the last weights)
    beside the study's figures: test accuracy and loss over seeds, and each seed's figures."""
    names = {"FC": identities.FC, "CNN": identities.CNN}
    rows = []
    for family, family_runs in runs.items():
        if not family_runs:
            continue
        accuracies = [100 * run["test"]["accuracy"] for run in family_runs]
        losses = [run["test"]["loss"] for run in family_runs]
        theirs = published["models"].get(names[family], {})
        rows.append(
            {
                "model": family,
                "training images": family_runs[0]["parameters"]["fit_size"],
                "epochs": family_runs[0]["epochs_run"],
                "seeds": len(family_runs),
                "accuracy (%)": float(np.mean(accuracies)),
                "accuracy std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
                "test loss": float(np.mean(losses)),
                "test loss std": float(np.std(losses, ddof=1)) if len(losses) > 1 else 0.0,
                "published accuracy (%)": theirs.get("test_accuracy"),
                "published loss": theirs.get("test_loss"),
            }
        )
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()
