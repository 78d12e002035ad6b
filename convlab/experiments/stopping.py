"""Stopping rules replayed on recorded runs: where a candidate rule (a monitor and a patience) would stop, what it would
keep, and which rule the long-patience runs of `convlab.experiments.protocol` choose.

Early stopping does not change a run before it stops, so each candidate rule is simulated on the validation record of
a run trained with a longer patience. A stop is premature when the epoch it keeps has a validation loss more than
`PREMATURE_TOLERANCE` above the run's lowest (or a validation accuracy more than `PREMATURE_POINTS` below its highest).
Records come in as dicts; this module imports no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from convlab.store import records

PREMATURE_TOLERANCE = 0.02  # a kept validation loss more than 2% above the reference minimum is a premature stop
PREMATURE_SHARE = 0.05  # the most premature stops a chosen rule may have
CANDIDATE_PATIENCES = (1, 2, 3, 4, 5, 6, 8)


@dataclass(frozen=True)
class Stop:
    """Where a patience rule stops a run: the epoch it stops after, and the best epoch and validation loss it keeps."""

    epochs: int
    best_epoch: int
    best_loss: float


def simulate(val_loss: list[float], patience: int, higher_is_better: bool = False) -> Stop:
    """Keras's `EarlyStopping(patience)` on a run's validation losses (or, `higher_is_better`, accuracies), epochs
    counted from 1.

    An epoch improves when its value is better than the best so far; training stops after `patience` epochs without
    improvement, or at the last recorded epoch. `best_loss` is the kept epoch's value of the monitored quantity.
    """
    sign = -1.0 if higher_is_better else 1.0
    best, best_epoch = float("inf"), 0
    for epoch, value in enumerate(val_loss, start=1):
        if epoch == 1 or sign * value < best:  # Keras counts the first epoch as an improvement, whatever its value
            best, best_epoch = sign * value, epoch
        elif epoch - best_epoch >= patience:
            return Stop(epoch, best_epoch, sign * best)
    return Stop(len(val_loss), best_epoch, sign * best)


# The monitors a rule may watch, and when a rule's kept epoch counts as a premature stop under each: its validation
# loss more than PREMATURE_TOLERANCE (relative) above the run's lowest, or its validation accuracy more than
# PREMATURE_POINTS below the run's highest.
MONITORS = ("val_loss", "val_accuracy")
MONITOR_WORDS = {"val_loss": "validation loss", "val_accuracy": "validation accuracy"}  # as the text names them


def rule_words(monitor: str, patience: int) -> str:
    """A rule as the text names it: "validation loss, patience 4"."""
    return f"{MONITOR_WORDS[monitor]}, patience {patience}"


PREMATURE_POINTS = 0.2


def is_premature_on(history: dict, patience: int, monitor: str) -> bool:
    """Whether a rule watching `monitor` with this patience stops a recorded run before its best."""
    values = history[monitor]
    if monitor == "val_loss":
        return is_premature(values, patience)
    kept = simulate(values, patience, higher_is_better=True).best_loss
    return 100 * (max(values) - kept) > PREMATURE_POINTS


def family_rule_table(
    runs: records.RecordGroups, patiences: tuple[int, ...] = CANDIDATE_PATIENCES, monitors: tuple[str, ...] = MONITORS
) -> pd.DataFrame:
    """Each candidate rule (monitor × patience) replayed on every family's long-patience runs: per family, its runs,
    premature stops and share, mean epochs, and the mean validation accuracy (%) of the epochs it keeps."""
    rows = []
    for monitor in monitors:
        for patience in patiences:
            for family, family_runs in runs.items():
                histories = [run["history"] for run in family_runs if monitor in run["history"]]
                if not histories:
                    continue
                stops = [simulate(h[monitor], patience, monitor != "val_loss") for h in histories]
                premature = [is_premature_on(h, patience, monitor) for h in histories]
                rows.append(
                    {
                        "monitor": monitor,
                        "patience": patience,
                        "family": family,
                        "runs": len(histories),
                        "premature stops": int(sum(premature)),
                        "premature share": float(np.mean(premature)),
                        "mean epochs per run": float(np.mean([stop.epochs for stop in stops])),
                        "kept validation accuracy (%)": float(
                            np.mean([100 * h["val_accuracy"][stop.best_epoch - 1] for h, stop in zip(histories, stops)])
                        ),
                    }
                )
    return pd.DataFrame(rows)


def chosen_rule(table: pd.DataFrame, share: float = PREMATURE_SHARE, exempt: tuple[str, ...] = ()) -> dict | None:
    """The stopping rule read off `family_rule_table`, on validation data alone: for each monitor, the cheapest patience
    (fewest mean epochs over all runs, then the smaller) with at most `share` premature stops in every family; of
    those, the monitor whose kept epochs have the higher mean validation accuracy. None when no rule qualifies.
    `exempt`: family labels ("CNN, shift-augmented") that train with a rule of their own, left out of the choice."""
    table = table[~table["family"].map(lambda family: exempted(family, exempt))] if exempt and not table.empty else table
    if table.empty:
        return None
    candidates = []
    for (monitor, patience), rows in table.groupby(["monitor", "patience"]):
        if (rows["premature share"] <= share + 1e-12).all():
            weights = rows["runs"] / rows["runs"].sum()
            candidates.append(
                {
                    "monitor": monitor,
                    "patience": int(patience),
                    "mean epochs per run": float((rows["mean epochs per run"] * weights).sum()),
                    "kept validation accuracy (%)": float((rows["kept validation accuracy (%)"] * weights).sum()),
                }
            )
    if not candidates:
        return None
    cheapest = {}
    for candidate in sorted(candidates, key=lambda c: (c["mean epochs per run"], c["patience"])):
        cheapest.setdefault(candidate["monitor"], candidate)
    return max(cheapest.values(), key=lambda c: (c["kept validation accuracy (%)"], -c["mean epochs per run"]))


def exempted(family: str, exempt: tuple[str, ...]) -> bool:
    """Whether a family label of `family_rule_table` ("MNIST, CNN, shift-augmented") is one of the `exempt` families."""
    return any(family == label or family.endswith(f", {label}") for label in exempt)


def at_the_cap(runs: records.RecordGroups) -> list[tuple[str, int]]:
    """The (family, seed) of every long-patience run that ran to its epoch cap without its rule stopping it."""
    return [
        (family, run["seed"])
        for family, family_runs in runs.items()
        for run in family_runs
        if run["epochs_run"] >= run["parameters"]["epochs"]
    ]


def is_premature(val_loss: list[float], patience: int, tolerance: float = PREMATURE_TOLERANCE) -> bool:
    """Whether the rule keeps a validation loss more than `tolerance` above the run's minimum."""
    return simulate(val_loss, patience).best_loss > (1 + tolerance) * min(val_loss)


def rule_name(patience: int) -> str:
    return f"patience {patience}"


def rule_table(histories: list[list[float]], patiences: tuple[int, ...] = CANDIDATE_PATIENCES) -> pd.DataFrame:
    """Each candidate rule over the reference runs' validation losses: premature share and mean epochs per run."""
    rows = []
    for patience in patiences:
        stops = [simulate(history, patience) for history in histories]
        premature = [is_premature(history, patience) for history in histories]
        rows.append(
            {
                "patience": patience,
                "rule": rule_name(patience),
                "runs": len(histories),
                "premature stops": int(sum(premature)),
                "premature share": float(np.mean(premature)) if histories else float("nan"),
                "mean epochs per run": float(np.mean([stop.epochs for stop in stops])) if histories else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("rule")


def cheapest_rule(table: pd.DataFrame, share: float = PREMATURE_SHARE) -> int | None:
    """The patience of the cheapest rule (fewest mean epochs, then the smaller patience) with at most `share` premature
    stops, or None when no candidate qualifies."""
    allowed = table[table["premature share"] <= share + 1e-12]
    if allowed.empty:
        return None
    return int(allowed.sort_values(["mean epochs per run", "patience"]).iloc[0]["patience"])
