"""Tables of the translation probe beyond accuracy by shift (`tables.shift_table`): the share of its unshifted
accuracy each model keeps at a shift (`retained`), and max against average pooling (`pooling_table`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from convlab.analysis import stats, tables
from convlab.experiments import design
from convlab.store import records


def retained(frame: pd.DataFrame, shift: int) -> pd.DataFrame:
    """Per model (rows) and direction (columns): the mean accuracy over seeds at `shift` (or at the largest probed
    shift below it) as a share (%) of the unshifted mean (`frame`: a `probes.translation_frame`)."""
    shift = max(probed for probed in frame["shift"].unique() if probed <= shift)
    means = frame.groupby(["model", "direction", "shift"], sort=False)["accuracy"].mean()
    table = (100 * means.xs(shift, level="shift") / means.xs(0, level="shift")).unstack("direction")
    models = list(dict.fromkeys(frame["model"]))
    table = table.reindex(index=models, columns=list(dict.fromkeys(frame["direction"])))
    table.columns.name = f"kept at {shift} px (%)"
    return table


def kept_per_seed(frame: pd.DataFrame, model: str, shift: int) -> np.ndarray:
    """Per seed: accuracy at `shift` (horizontal and vertical averaged) as a share (%) of the unshifted accuracy."""
    rows = frame[(frame["model"] == model) & frame["direction"].isin(("horizontal", "vertical"))]
    by_seed = rows.groupby(["seed", "shift"])["accuracy"].mean().unstack("shift")
    return (100 * by_seed[shift] / by_seed[0]).to_numpy()


def pooling_table(
    frame: pd.DataFrame, groups: records.RecordGroups, confidence: float = stats.DEFAULT_CONFIDENCE
) -> pd.DataFrame:
    """Max against average pooling: test accuracy (%), and the share of it kept at shifts of 1 and 2 pixels
    (horizontal and vertical averaged), each with the average − max difference and its Welch interval.

    `frame` is a `probes.translation_frame` over `groups`, which hold `design.CNN` and `design.CNN_AVERAGE_POOLING`.
    """
    low, high = stats.interval_columns(confidence)
    samples = {
        tables.TEST_ACCURACY: {name: records.accuracies(groups[name]) for name in (design.CNN, design.CNN_AVERAGE_POOLING)}
    }
    for shift in (1, 2):
        if shift in set(frame["shift"]):
            samples[f"share kept at {shift} px (%)"] = {
                name: kept_per_seed(frame, name, shift) for name in (design.CNN, design.CNN_AVERAGE_POOLING)
            }
    rows = {}
    for label, by_model in samples.items():
        maximum, average = by_model[design.CNN], by_model[design.CNN_AVERAGE_POOLING]
        interval = stats.welch_interval(average, maximum, confidence)
        rows[label] = {
            "max pooling": float(np.mean(maximum)),
            "average pooling": float(np.mean(average)),
            stats.SEEDS: f"{len(maximum)} and {len(average)}",
            stats.DIFFERENCE: interval["difference"],
            low: interval["difference"] - interval["half_width"],
            high: interval["difference"] + interval["half_width"],
        }
    table = pd.DataFrame.from_dict(rows, orient="index").round(4)
    table.index.name = "average − max pooling"
    return tables.with_confidence(table, confidence)
