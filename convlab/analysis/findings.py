"""The supplement's methods tables: the profiles, the stopping rules replayed on the reference runs, and the
half-width of each comparison's Welch interval (the smallest difference its seeds resolve). The findings
family and its verdicts are the paper's (`convlab.paper.family`)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from convlab.analysis import protocol_tables, stats, tables
from convlab.store import records
from convlab.study import config


def dataset_groups(root: Path, datasets: Sequence[str]) -> dict[str, records.RecordGroups]:
    """Each dataset's training records by model name (an empty dict where there are none)."""
    found = {}
    for dataset in datasets:
        try:
            found[dataset] = records.load_all_records(root / dataset / "results")
        except records.MissingResultError:
            found[dataset] = {}
    return found


RESOLVABLE_NOTE = "The smallest difference each comparison's seeds resolve: the half-width of its 95% Welch interval, in points."


def stopping_rule_table(root: Path, datasets: Sequence[str]) -> str:
    """The candidate stopping rules replayed on every reference run of the datasets ("" when there are none)."""
    from convlab.experiments import protocol

    reference = {dataset: protocol.stored_reference_runs(root / dataset / "results") for dataset in datasets}
    histories = protocol.validation_histories(reference)
    if not histories:
        return ""
    table = protocol.rule_table(histories).reset_index()
    shown = table.assign(
        **{
            "premature stops": [
                f"{n} of {runs} ({100 * share:.0f}%)"
                for n, runs, share in zip(table["premature stops"], table["runs"], table["premature share"])
            ],
            "mean epochs per run": table["mean epochs per run"].map(lambda value: f"{value:.1f}"),
        }
    )[["rule", "premature stops", "mean epochs per run"]]
    chosen = protocol.cheapest_rule(protocol.rule_table(histories))
    note = (
        f"Candidate stopping rules replayed on the {len(histories)} reference runs of both datasets; the cheapest with at "
        f"most 5% premature stops is {protocol.rule_name(chosen) if chosen else 'none of them'}."
    )
    return f"<p>{html.escape(note)}</p>" + shown.to_html(index=False, border=0, classes="compact")


def methods_tables(root: Path, datasets: Sequence[str]) -> str:
    """The profiles, and the half-width each comparison's seeds give on each dataset."""
    parts = [protocol_tables.profile_table().reset_index().to_html(index=False, border=0, classes="compact")]
    parts.append(stopping_rule_table(root, datasets))
    groups = dataset_groups(root, datasets)
    columns = {}
    for dataset, found in groups.items():
        if found:
            table = tables.resolution_table(found)
            columns[config.DATASET_TITLES[dataset]] = {
                label: f"{row[tables.HALF_WIDTH]:.2f} ({row[stats.SEEDS]} seeds)" for label, row in table.iterrows()
            }
    if columns:
        import pandas as pd

        resolvable = pd.DataFrame(columns).rename_axis("comparison").reset_index().fillna("—")
        parts.append(f"<p>{RESOLVABLE_NOTE}</p>")
        parts.append(resolvable.to_html(index=False, border=0, classes="compact"))
    return "\n".join(parts)
