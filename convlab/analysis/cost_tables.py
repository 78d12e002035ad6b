"""How the models' costs compare: a sweep's costs relative to its first configuration (`cost_changes`), and which
count of cost the measured times follow across the trained models (`cost_tracking`)."""

from __future__ import annotations

import pandas as pd

from convlab.analysis import tables

COSTS = {"parameters": tables.PARAMETERS, "MACs per image": tables.MACS, "time per epoch": tables.EPOCH_TIME}


def cost_changes(table: pd.DataFrame) -> pd.DataFrame:
    """Each configuration's parameters, MACs per image and time per epoch as a change (%) from the first one's
    (`table`: a `tables.sweep_table`), and the configuration that is cheapest by each cost."""
    reference = table.iloc[0]
    changes = pd.DataFrame(
        {f"{name}, change (%)": 100 * (table[column] / reference[column] - 1) for name, column in COSTS.items()},
        index=table.index,
    )
    cheapest = {name: table[column].idxmin() for name, column in COSTS.items()}
    changes["cheapest by"] = [", ".join(name for name, label in cheapest.items() if label == row) or "—" for row in table.index]
    return changes


def cost_tracking(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation, over the trained models of a `tables.efficiency_table`, of the time per training
    epoch and of the single-image latency with MACs per image and with parameters."""
    from scipy import stats as scipy_stats

    times = {"time per epoch": tables.EPOCH_TIME, "single-image latency": tables.LATENCY_P50}
    counts = {"ρ with MACs": tables.MACS, "ρ with parameters": tables.PARAMETERS}
    rows = {
        label: {name: float(scipy_stats.spearmanr(table[column], table[count]).statistic) for name, count in counts.items()}
        for label, column in times.items()
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = f"over {len(table)} models"
    return frame
