"""The report's reproducibility appendix: versions, hardware, data checksums, seeds and settings, machines, run times."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from convlab.analysis import stats
from convlab.experiments import design
from convlab.store import records, runlog
from convlab.study import config, manifest, paths
from convlab.training import precision

if TYPE_CHECKING:
    from convlab.report.layout import Contents

COMPARISON_TITLE = "Both datasets"  # the title of the cross-dataset part


MACHINES_CAPTION = (
    "The machines that trained the runs this report reads. A run is bit-identical when it is repeated on the "
    "same machine with the same library build; on another CPU the same run agrees within seed noise."
)


RUNS_CAPTION = (
    "Whole runs, over every folder: the latest that started with nothing stored (cold) and the latest "
    "that executed notebooks without training (warm). Elapsed runs from the first notebook's start to the last "
    "one's end and splits into the time in which at least one model was training and the rest; the datasets "
    "run side by side and train in several processes, so the summed times exceed the elapsed one."
)


def section(root: Path, datasets: Sequence[str], contents: Contents, built: datetime, state: dict) -> str:
    """Versions, hardware, data and checksums, seeds, parameters, notebook times, commit."""
    import pandas as pd

    sections = [contents.heading(2, "appendix", "Appendix"), contents.heading(3, "provenance", "A Provenance")]
    stamp = records.environment_stamp()
    for dataset in datasets:
        try:
            groups = records.load_all_records(root / dataset / "results")
        except records.MissingResultError:
            continue
        record = next(iter(groups.values()))[0]
        stamp = record["environment"]
        described = record["dataset"]
        sections.append(f"\n**{config.DATASET_TITLES[dataset]}**: {html.escape(paths.without_folders(described['source']))}\n")
        sections.append(
            pd.DataFrame({"sha256 of the decompressed payload": described["sha256"]}).to_html(border=0, classes="compact")
        )
        seeds = pd.DataFrame(
            {
                name: {
                    "seeds": ", ".join(str(r["seed"]) for r in runs),
                    "epochs run": ", ".join(str(r["epochs_run"]) for r in runs),
                    "settings": "batch {batch_size}, ≤{epochs} epochs, patience {patience}, {precision}".format(
                        **{"precision": "float32"} | runs[0]["parameters"]
                    ),
                }
                for name, runs in groups.items()
            }
        ).T
        sections.append(seeds.to_html(border=0, classes="compact"))
        timings = _notebook_times(root / dataset)
        if timings is not None:
            sections.append(timings.to_html(border=0, classes="compact"))
    timings = _notebook_times(root / manifest.COMPARISON_FOLDER)
    if timings is not None:
        sections.append(f"\n**{COMPARISON_TITLE}**\n")
        sections.append(timings.to_html(border=0, classes="compact"))
    compared = precision_table(root, datasets)
    if compared is None and trained_in_bfloat16(root, datasets):
        sections += [
            contents.heading(3, "training-precision", "Training precision"),
            "\nThe CNNs of this run trained in bfloat16, and no float32 run of the same models, seeds and training "
            "settings is stored beside them, so this run has no precision check.\n",
        ]
    if compared is not None:
        within = int(compared["within seed noise"].eq("yes").sum())
        sections += [
            contents.heading(3, "training-precision", "Training precision"),
            f"\n{PRECISION_CAPTION} In {within} of the {len(compared)} comparisons the {precision_interval(compared)} "
            f"of the difference holds 0. The float32 runs were trained on {_reference_machines(datasets)}.\n",
            compared.to_html(border=0, classes="compact", index=False),
        ]
    captioned = {MACHINES_CAPTION: training_machines(root, datasets), RUNS_CAPTION: run_totals(root, datasets)}
    for caption, table in captioned.items():
        if table is not None:
            sections += [f"\n{caption}\n", table.to_html(border=0, classes="compact")]
    environment = {
        "Python": stamp.get("python"),
        "OS": stamp.get("os"),
        "CPU": f"{stamp.get('cpu')} ({stamp.get('cpu_count')} cores)",
        "GPU seen by TensorFlow": ", ".join(stamp.get("gpus") or []) or "none (trained on the CPU)",
        "oneDNN kernels": stamp.get("onednn", "not recorded"),
        "TensorFlow threads": stamp.get("threads", "not recorded"),
        "commit": state["commit"] + (" (working tree modified)" if state["dirty"] else ""),
        "report built": f"{built:%Y-%m-%d %H:%M} UTC",
    }
    packages = sorted(stamp.get("packages", {}).items())
    environment["packages"] = ", ".join(f"{name} {version}" for name, version in packages)
    sections.insert(2, pd.Series(environment, name="value").to_frame().to_html(border=0, classes="compact"))
    return "\n".join(sections)


PRECISION_CAPTION = (
    "Where the CPU computes bfloat16 natively, the CNNs train in bfloat16 mixed precision (float32 weights; every "
    "stored model, evaluation and figure is float32); the FC networks train in float32, where bfloat16 saved no time. "
    "The table sets each CNN's test accuracy beside a float32 run of the same model, data, seeds and settings "
    "(reports/reference/float32), and lists the epochs each seed ran before early stopping."
)


def trained_in_bfloat16(root: Path, datasets: Sequence[str]) -> bool:
    """Whether any stored run of these datasets trained in bfloat16."""
    for dataset in datasets:
        try:
            groups = records.load_all_records(root / dataset / "results")
        except records.MissingResultError:
            continue
        if any(run["parameters"].get("precision") == precision.BFLOAT16 for runs in groups.values() for run in runs):
            return True
    return False


def precision_table(root: Path, datasets: Sequence[str]):
    """`precision.precision_check` of every dataset's runs against the float32 reference runs, or None."""
    import pandas as pd

    tables = []
    for dataset in datasets:
        table = precision_check(root / dataset / "results", precision.REFERENCE_DIR / dataset)
        if table is not None:
            tables.append(table.assign(dataset=config.DATASET_TITLES[dataset]))
    if not tables:
        return None
    table = pd.concat(tables, ignore_index=True)
    return table[["dataset", *[column for column in table.columns if column != "dataset"]]]


def precision_interval(table) -> str:
    """The interval column's name, as a phrase ("95% Welch interval")."""
    column = next(column for column in table.columns if column.endswith("interval"))
    return column.replace("interval", "Welch interval")


def _reference_machines(datasets: Sequence[str]) -> str:
    machines = set()
    for dataset in datasets:
        for path in sorted((precision.REFERENCE_DIR / dataset).glob("*-seed*.json")):
            machines.add(records.machine_of(records.read_record(path).get("environment", {})))
    return "; ".join(sorted(machines)) or "an unrecorded machine"


def training_machines(root: Path, datasets: Sequence[str]):
    """How many stored runs of each dataset each machine trained (CPU, cores, vector instruction sets), or None."""
    import pandas as pd

    counts: dict[str, dict[str, int]] = {}
    for dataset in datasets:
        for path in sorted((root / dataset / "results").rglob("*-seed*.json")):
            try:
                record = records.read_record(path)
            except records.MissingResultError:
                continue
            machine = records.machine_of(record.get("environment", {}))
            column = counts.setdefault(machine, {})
            column[config.DATASET_TITLES[dataset]] = column.get(config.DATASET_TITLES[dataset], 0) + 1
    if not counts:
        return None
    return pd.DataFrame(counts).T.fillna(0).astype(int).rename_axis("machine")


def _notebook_times(folder: Path):
    """Per notebook, its last execution: when it finished, wall time, training time and models trained."""
    import pandas as pd

    rows = {}
    for notebook, run in runlog.read(folder).get("runs", {}).items():
        trained, training_seconds, _ = runlog.trained_during(folder, run)
        rows[notebook] = {
            "finished (UTC)": run.get("finished", "—").replace("T", " ").split("+")[0],
            "wall time (s)": run["seconds"],
            "training (s)": training_seconds,
            "models trained": trained,
        }
    return pd.DataFrame(rows).T if rows else None


def run_totals(root: Path, datasets: Sequence[str]):
    """Per kind of run (cold, warm): notebooks executed, elapsed time, and how much of it went to training."""
    import pandas as pd

    rows = {}
    for kind in ("cold", "warm"):
        run = runlog.whole_run(root, [*datasets, manifest.COMPARISON_FOLDER], kind)
        if run:
            rows[kind] = {
                "finished (UTC)": run["finished"].replace("T", " ").split("+")[0],
                "notebooks executed": run["notebooks"],
                "elapsed (min)": round(run["elapsed_seconds"] / 60, 1),
                "some model training (min)": round(run["training_wall_seconds"] / 60, 1),
                "no model training (min)": round(run["outside_training_seconds"] / 60, 1),
                "notebook time, summed (min)": round(run["notebook_seconds"] / 60, 1),
                "training, summed over processes (min)": round(run["training_seconds"] / 60, 1),
            }
    return pd.DataFrame(rows).T if rows else None


def precision_check(results_dir: str | Path, reference_dir: str | Path, confidence: float = 0.95):
    """Per model (and learning-curve size), the run's test accuracy against a float32 run's with the same seeds.

    Compares only where both hold the same model, dataset, seeds and training settings apart from the
    precision; None when nothing qualifies (a subset run, or a run that trained in float32 itself).
    """
    import pandas as pd

    rows = []
    results_dir, reference_dir = Path(results_dir), Path(reference_dir)
    for folder in _record_folders(results_dir):
        try:
            run, float32_run = records.load_all_records(results_dir / folder), records.load_all_records(reference_dir / folder)
        except records.MissingResultError:
            continue
        for name, runs in run.items():
            reference = float32_run.get(name, [])
            if _comparable(runs, reference):
                rows.append(_comparison(name, folder, runs, reference, confidence))
    return pd.DataFrame(rows) if rows else None


def _record_folders(results_dir: Path) -> list[Path]:
    """The run's own folder and its learning-curve folders (curves/n<size>)."""
    return [Path("."), *sorted(p.relative_to(results_dir) for p in (results_dir / design.CURVES_FOLDER).glob("n*"))]


def _comparison(name: str, folder: Path, runs: list[records.ResultRecord], reference: list[dict], confidence: float) -> dict:
    ours, theirs = records.accuracies(runs), records.accuracies(reference)
    low, high = stats.welch_difference_interval(ours, theirs, confidence)
    return {
        "model": name,
        "training images": runs[0]["parameters"]["fit_size"] + runs[0]["parameters"]["validation_size"],
        "seeds": len(runs),
        "float32 (%)": round(float(theirs.mean()), 2),
        f"{runs[0]['parameters']['precision']} (%)": round(float(ours.mean()), 2),
        "difference (points)": round(float(ours.mean() - theirs.mean()), 2),
        f"{confidence:.0%} interval": f"[{low:.2f}, {high:.2f}]",
        "epochs run (float32 → this run)": f"{_epochs(reference)} → {_epochs(runs)}",
        "within seed noise": "yes" if low <= 0 <= high else "no",
    }


def _comparable(runs: list[records.ResultRecord], reference: list[dict]) -> bool:
    """Same seeds, dataset and settings but the precision, and a run that did not train in float32 itself."""
    if not reference or sorted(r["seed"] for r in runs) != sorted(r["seed"] for r in reference):
        return False
    ours, theirs = runs[0], reference[0]
    settings = {key: value for key, value in ours["parameters"].items() if key != "precision"}
    return (
        ours["parameters"].get("precision", precision.FLOAT32) != precision.FLOAT32
        and theirs["parameters"].get("precision", precision.FLOAT32) == precision.FLOAT32
        and {**ours["dataset"], "source": None} == {**theirs["dataset"], "source": None}
        and ours["model"] == theirs["model"]
        and settings == {key: value for key, value in theirs["parameters"].items() if key != "precision"}
    )


def _epochs(runs: list[records.ResultRecord]) -> str:
    return ", ".join(str(r["epochs_run"]) for r in sorted(runs, key=lambda r: r["seed"]))
