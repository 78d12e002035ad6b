"""Publishing: the latest full run (report and result records) copied to reports/published/, after a check."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from convlab.report import doccheck
from convlab.run import pipeline
from convlab.store import records, runlog
from convlab.study import config, manifest, profiles

PUBLISHED_FOLDER = "published"


PUBLISHED_FILES = ("report.html", "report.pdf", "supplement.html", "report.json")


DEFAULT_SIZES = {("train_size", "0"), ("test_size", "0")}  # what `make report` passes when no subset is asked for
# Where files are, not what the run computes (the data are checked against their checksums wherever they are read)
LOCATIONS = ("dataset", "output_dir", "reports_dir", *pipeline.FOLDER_PARAMETERS)


class NotPublishable(RuntimeError):
    """The report tree does not hold a full run with default parameters."""


def check_publishable(root: Path, datasets: Sequence[str]) -> None:
    """Refuse anything but a full-data run of every notebook on both datasets, with a profile that runs every notebook
    (`profiles.FULL_PROFILES`) and otherwise default parameters."""
    problems = []
    if set(datasets) != set(config.DATASETS):
        problems.append(f"it covers {', '.join(datasets)}, not both datasets")
    for dataset in datasets:
        stored = runlog.read(root / dataset)
        if not stored:
            problems.append(f"{dataset} has no pipeline record")
            continue
        runs = stored.get("runs", {})
        missing = [notebook for notebook in manifest.per_dataset() if notebook not in runs]
        if missing:
            problems.append(f"{dataset} lacks {', '.join(missing)}")
        for notebook, run in runs.items():
            chosen = {
                key: value
                for key, value in run["parameters"].items()
                if key not in LOCATIONS
                and (key, str(value)) not in DEFAULT_SIZES
                and not (key == "profile" and str(value) in profiles.FULL_PROFILES)
            }
            if str(run["parameters"].get("profile", "")) not in profiles.FULL_PROFILES:
                problems.append(f"{dataset}/{notebook} ran without PROFILE=full (or gpu)")
            if chosen:
                problems.append(f"{dataset}/{notebook} ran with non-default parameters {chosen}")
        for record in records.load_all_records(root / dataset / "results").values():
            sizes = (record[0]["dataset"]["train_size"], record[0]["dataset"]["test_size"])
            if sizes != (60_000, 10_000):
                problems.append(f"{dataset} was trained on a subset ({sizes[0]} / {sizes[1]} images)")
                break
    if problems:
        raise NotPublishable("Not a full default run, so it is not published: " + "; ".join(problems) + ".")


def publish(root: Path, datasets: Sequence[str], target: Path | None = None) -> Path:
    """Copy the report and its result records to `reports/published/`: a full default run only, whose document
    passes the full check (`doccheck`: every figure captioned, no machine path, every claim holding)."""

    check_publishable(root, datasets)
    doccheck.require(root, full=True)
    target = target or root / PUBLISHED_FOLDER
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in PUBLISHED_FILES:
        shutil.copy2(root / name, staging / name)
    for dataset in datasets:
        shutil.copytree(root / dataset / "results", staging / dataset / "results", ignore=shutil.ignore_patterns(".*"))
        shutil.copy2(runlog.path_of(root / dataset), runlog.path_of(staging / dataset))
    if (root / "bench.json").is_file():
        shutil.copy2(root / "bench.json", staging / "bench.json")
    previous = target.with_name(f".{target.name}.old")
    shutil.rmtree(previous, ignore_errors=True)
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
    return target
