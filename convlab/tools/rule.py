"""The stopping rule and the GAP head's rate, read off the long-patience runs of both datasets before a full run.

Every candidate rule (`stopping.MONITORS` × `stopping.CANDIDATE_PATIENCES`) is replayed on every family's long run
(a family per dataset); the rule chosen on them (`stopping.chosen_rule`) is set beside the one the profiles declare
(`profiles.MONITOR`, `profiles.PATIENCE`), with the runs that reached their cap, the GAP head's runs at each rate, and
the epoch factor of the chosen rule against the declared one (what `python -m convlab.tools.budget --epoch-factor`
takes). The paper reads the same records the same way (`paper.context`).

    python -m convlab.tools.rule [reports]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from convlab.experiments import protocol, stopping
from convlab.study import config, profiles


def long_runs(root: Path, datasets=config.DATASETS) -> dict[str, dict]:
    """Each dataset's long runs by family label (`protocol.stored_long_runs`); datasets without any left out."""
    found = {dataset: protocol.stored_long_runs(root / dataset / "results") for dataset in datasets}
    return {dataset: runs for dataset, runs in found.items() if runs}


def by_family(runs: dict[str, dict]) -> dict[str, list[dict]]:
    """The runs the rule is chosen on (`protocol.rule_families`): "<dataset title>, <family>"."""
    return protocol.rule_families({config.DATASET_TITLES[dataset]: families for dataset, families in runs.items()})


def epoch_factor(families: dict[str, list[dict]], chosen: dict, declared: tuple[str, int]) -> float:
    """Mean epochs per run under the chosen rule over those under the declared one, replayed on the same runs."""

    def mean_epochs(monitor: str, patience: int) -> float:
        histories = [run["history"] for group in families.values() for run in group]
        return float(np.mean([stopping.simulate(h[monitor], patience, monitor != "val_loss").epochs for h in histories]))

    return mean_epochs(chosen["monitor"], chosen["patience"]) / mean_epochs(*declared)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    root = Path(arguments[0] if arguments else "reports")
    runs = long_runs(root)
    if not runs:
        print(f"No long-patience runs under {root}: run 12_training_protocol with the full profile first.")
        return 1
    families = by_family(runs)
    table = stopping.family_rule_table(families)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 400):
        print(f"Long-patience runs under {root}: {sum(map(len, families.values()))} in {len(families)} families.")
        print(
            table.pivot_table(
                index=["monitor", "patience"],
                values=["premature stops", "mean epochs per run"],
                aggfunc={"premature stops": "sum", "mean epochs per run": "mean"},
            )
        )
        premature = table[table["premature stops"] > 0]
        print("Families with a premature stop, by rule:")
        print(premature.groupby(["monitor", "patience"])["family"].apply(", ".join).to_string())
        for dataset, found in runs.items():
            rates = protocol.learning_rate_table(found)
            if not rates.empty:
                print(f"The GAP head's long runs on {config.DATASET_TITLES[dataset]}:")
                print(rates.to_string())
    capped = stopping.at_the_cap(families)
    print(f"Runs at their cap: {capped or 'none'}")
    chosen = stopping.chosen_rule(table, exempt=protocol.LONG_RULE_FAMILIES)
    exempt = table[table["family"].map(lambda family: stopping.exempted(family, protocol.LONG_RULE_FAMILIES))]
    if not exempt.empty:
        print("Families that train with the long runs' own rule (left out of the choice), premature stops by rule:")
        print(exempt.pivot_table(index=["monitor", "patience"], columns="family", values="premature stops").to_string())
    declared = (profiles.MONITOR, profiles.PATIENCE)
    print(f"Declared: {declared[0]}, patience {declared[1]}.")
    if chosen is None:
        print("No candidate rule has at most 5% premature stops in every family.")
        return 1
    epochs = chosen["mean epochs per run"]
    print(f"Chosen on these runs: {chosen['monitor']}, patience {chosen['patience']} ({epochs:.1f} epochs per run).")
    ruled = {label: group for label, group in families.items() if not stopping.exempted(label, protocol.LONG_RULE_FAMILIES)}
    print(f"Epoch factor of the chosen rule against the declared one: {epoch_factor(ruled, chosen, declared):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
