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
PUBLISHED_MODELS = ("cnn-seed0.keras",)  # per dataset: what the paper's figures of the first layer run


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
        for model in PUBLISHED_MODELS:  # the figures that run a model draw from these when the paper is rebuilt
            if (root / dataset / "models" / model).is_file():
                (staging / dataset / "models").mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / dataset / "models" / model, staging / dataset / "models" / model)
    if (root / "bench.json").is_file():
        shutil.copy2(root / "bench.json", staging / "bench.json")
    previous = target.with_name(f".{target.name}.old")
    shutil.rmtree(previous, ignore_errors=True)
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
    return target


def refresh_paper(target: Path, paper, pdf: bool = True) -> list[Path]:
    """Rewrite a published paper from its own records after a change to the text, the claims or the figures: the
    paper (HTML and PDF), the two sections of the supplement that the paper's build gives (the findings family and
    the paper's claims), and the paper's entry in report.json. The notebooks of the supplement are the run's own and
    stay as they executed. `paper` is the build (`convlab.paper.build.Built`) rendered from `target`."""
    import re

    from convlab.report import document

    supplement = (target / "supplement.html").read_text(encoding="utf-8")
    sections = {
        r'<table class="findings">.*?</table>': paper.findings,
        r'<table class="paper-claims">.*?</table>': paper.claims_table(),
    }
    for pattern, replacement in sections.items():
        supplement, replaced = re.subn(pattern, lambda _match, new=replacement: new, supplement, count=1, flags=re.DOTALL)
        if replaced != 1:
            raise NotPublishable(f"The published supplement has no section matching {pattern!r} to refresh.")
    about = records.read_json(target / "report.json")
    about["paper"] = {
        "words": paper.words,
        "figures": paper.figures,
        "claims": len({item["claim"] for item in paper.claims}),
        "failed_claims": sorted(set(paper.failed)),
        "refreshed": True,
    }
    written = []
    for name, text in (("report.html", paper.html), ("supplement.html", supplement)):
        with records.atomic_path(target / name) as temporary:
            temporary.write_text(text, encoding="utf-8")
        written.append(target / name)
    if pdf:
        about |= document.to_pdf(target / "report.html", target / "report.pdf")
        written.append(target / "report.pdf")
    written.append(records.write_json(target / "report.json", about))
    return written


def refresh_published(target: Path, state: dict, *, pdf: bool = True) -> list[Path]:
    """The published paper rendered again from the published records (`refresh_paper`); `state` is the checkout's."""
    from convlab.paper import build, notebook_findings
    from convlab.study import studies

    with records.read_once():
        stamp = build.stamp_line(target, config.DATASETS, state)
        paper = notebook_findings.attach(build.render(target, config.DATASETS, studies.published(), stamp))
    return refresh_paper(target, paper, pdf=pdf)
