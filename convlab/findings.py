"""Page one and the methods: the findings as numbers with their intervals, read from the result records.

Each finding is a comparison the report makes, one column per dataset: the difference of mean test accuracy
over seeds with its Welch interval (`tables.resolution_table`), whether the seeds resolve it, and the chapter
that measures it; then the parameter counts and the learning curves' data efficiency. Nothing here is worded
from the numbers, so nothing here needs a claim check: the chapters interpret, with their checked claims.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from convlab import config, curves, records, stats, tables

# The chapter (notebook) that measures each headline comparison
SOURCE_OF = {
    "CNN − FC": "03_cnn",
    "5×5 − 3×3 first kernel": "04_kernel_size_sweep",
    "7×7 − 3×3 first kernel": "04_kernel_size_sweep",
    "GAP head − flatten head": "07_translation",
    "average − max pooling": "07_translation",
    "CNN, permuted − original pixels": "08_pixel_permutation",
    "FC, permuted − original pixels": "08_pixel_permutation",
}


def interval_text(difference: float, half_width: float, resolved: bool) -> str:
    """ "+2.3 [1.9, 2.8]" (95% Welch interval), "not resolved" added when the interval holds 0."""
    places = stats.decimals_for(half_width)
    if math.isnan(half_width):
        return f"{difference:+.{places}f} (one seed: no interval)"
    low, high = difference - half_width, difference + half_width
    text = f"{difference:+.{places}f} [{low:+.{places}f}, {high:+.{places}f}]"
    return text if resolved else f"{text}, not resolved"


def dataset_groups(root: Path, datasets: Sequence[str]) -> dict[str, dict[str, list[dict]]]:
    """Each dataset's training records by model name (an empty dict where there are none)."""
    found = {}
    for dataset in datasets:
        try:
            found[dataset] = records.load_all_records(root / dataset / "results")
        except records.MissingResultError:
            found[dataset] = {}
    return found


def curve_runs(results_dir: Path, groups: Mapping[str, list[dict]]) -> dict[str, dict[int, list[dict]]]:
    """The learning curves' runs (FC and CNN by training-set size, the full set's included), as `curves.curve_table`
    takes them; empty when a dataset has no curve runs."""
    names = {tables.FC: "fc_baseline", tables.CNN: "cnn"}
    runs: dict[str, dict[int, list[dict]]] = {label: {} for label in names}
    for folder in sorted((results_dir / curves.CURVES_FOLDER).glob("n*")):
        try:
            by_name = records.load_all_records(folder)
        except records.MissingResultError:
            continue
        for label, name in names.items():
            if by_name.get(name):
                runs[label][by_name[name][0]["dataset"]["train_size"]] = by_name[name]
    for label, name in names.items():
        if groups.get(name) and runs[label]:
            runs[label][groups[name][0]["dataset"]["train_size"]] = groups[name]
    return runs if all(len(sizes) > 1 for sizes in runs.values()) else {}


def findings_rows(root: Path, datasets: Sequence[str]) -> list[dict]:
    """One row per finding: its label, the chapter notebook, and each dataset's text."""
    groups = dataset_groups(root, datasets)
    rows = []
    resolution = {dataset: tables.resolution_table(found) for dataset, found in groups.items() if found}
    for label, _, _ in tables.HEADLINE_PAIRS:
        cells = {}
        for dataset, table in resolution.items():
            if label in table.index:
                row = table.loc[label]
                cells[dataset] = interval_text(row[stats.DIFFERENCE], row[tables.HALF_WIDTH], bool(row[tables.RESOLVED]))
        if cells:
            rows.append({"finding": f"{label}, test accuracy (points)", "notebook": SOURCE_OF[label], "cells": cells})
    counts = {
        dataset: f"{found['fc_baseline'][0]['model']['parameters']:,} and {found['cnn'][0]['model']['parameters']:,}"
        for dataset, found in groups.items()
        if found.get("fc_baseline") and found.get("cnn")
    }
    if counts:
        rows.insert(1, {"finding": "parameters, FC and CNN", "notebook": "03_cnn", "cells": counts})
    efficiency = {}
    for dataset, found in groups.items():
        runs = curve_runs(root / dataset / "results", found)
        if runs:
            measured = curves.data_efficiency(curves.curve_table(runs), tables.CNN, tables.FC)
            if measured["challenger_needs"]:
                needs, full = measured["challenger_needs"], measured["full_size"]
                efficiency[dataset] = f"{measured['ratio']:.1f}× fewer ({needs:,.0f} of {full:,})"
    if efficiency:
        finding = "training images the CNN needs to match the FC network's full-set accuracy"
        rows.append({"finding": finding, "notebook": "11_learning_curves", "cells": efficiency})
    return rows


def findings_html(
    root: Path, datasets: Sequence[str], chapter_anchor: Mapping[str, str], chapter_title: Mapping[str, str]
) -> str:
    """The findings table: one row per finding, one column per dataset, and the chapter it comes from."""
    rows = findings_rows(root, datasets)
    if not rows:
        return "<p>No training records: the findings appear once the notebooks have run.</p>"
    head = "".join(f"<th>{html.escape(config.DATASET_TITLES[d])}</th>" for d in datasets)
    body = []
    for row in rows:
        cells = "".join(f"<td>{html.escape(row['cells'].get(d, '—'))}</td>" for d in datasets)
        anchor = chapter_anchor.get(row["notebook"])
        where = f'<a href="#{anchor}">{html.escape(chapter_title[row["notebook"]])}</a>' if anchor else "—"
        body.append(f"<tr><td>{html.escape(row['finding'])}</td>{cells}<td>{where}</td></tr>")
    return (
        f'<table class="findings"><thead><tr><th>finding</th>{head}<th>chapter</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


FINDINGS_NOTE = (
    "Differences are in percentage points of test accuracy, the first model's mean over seeds minus the second's, "
    'with the 95% Welch interval in brackets. "Not resolved" means the interval holds zero: these seeds cannot '
    "tell that difference from seed noise. Each row links to the chapter that measures it and interprets it."
)


METHODS = """
**Seeds and training.** Every configuration is trained with each of the profile's seeds (table below) on
the full training set, less a validation split of 10% that is the same for every run, with Adam at a
learning rate of 0.001 and batches of 32, the studies' settings, for every model family. Training stops when
the validation loss has not fallen for `patience` epochs and keeps the weights of the best epoch; the epoch
cap only bounds a run that never stops (the appendix lists any that reached it).

**The stopping rule.** The patience was chosen by measurement. Reference runs of the FC network and the CNN
(the run's seeds, on each dataset) trained with patience 10 and never fewer than 15 epochs, recording their
validation loss and their test metrics after every epoch. Each candidate patience was replayed on their
validation losses; a stop is premature when the validation loss it keeps is more than 2% above the lowest
the run reached. The report trains with the cheapest patience, in epochs per run, whose premature stops are
at most 5% of the reference runs (table below). The same runs give the studies' own protocol, a fixed 15
epochs and the last epoch's weights, which the key-results table compares with the studies' figures. Each run is deterministic:
seeded, with TensorFlow's deterministic kernels and one thread per pool, so it repeats bit for bit on the
same machine. On a CPU that computes bfloat16 natively the CNNs train in bfloat16 mixed precision (float32
weights), elsewhere in float32; the FC networks always train in float32, and every stored model, evaluation
and figure is float32. The appendix gives each run's precision and, where float32 runs of the same model, seeds
and settings are stored, sets each CNN trained in bfloat16 beside them.

**Statistics.** A difference of mean accuracy between two configurations is given with Welch's t interval
(scipy's `confidence_interval` of Welch's test), which does not assume equal variances and keeps its
coverage with three to five seeds per group; a bootstrap over so few seeds would not. Where two given
models are compared on the same test images, the comparison is McNemar's exact test on the images that
one model classifies correctly and the other does not. The half-width of an interval is the smallest
difference those seeds resolve; a difference is printed with one decimal when that half-width is 0.15
points or more, else with two.
"""


RESOLVABLE_NOTE = "The smallest difference each comparison's seeds resolve: the half-width of its 95% Welch interval, in points."


def stopping_rule_table(root: Path, datasets: Sequence[str]) -> str:
    """The candidate stopping rules replayed on every reference run of the datasets ("" when there are none)."""
    from convlab import protocol

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
    parts = [tables.profile_table().reset_index().to_html(index=False, border=0, classes="compact")]
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
