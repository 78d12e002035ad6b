"""The reader's documents: the paper (`convlab.paper`: written prose over the run's records, at most 20 pages) and its
supplement (every executed notebook, the code folded, with the findings family, the paper's claims and the appendix).

    python -m convlab.report.report [--root reports] [--datasets fashion_mnist mnist] [--no-pdf]

writes, atomically, `report.html` and `report.pdf` (the paper; WeasyPrint) and `supplement.html` into the report
tree. The pages need no network: no scripts, figures embedded, the stylesheet inline, the system's fonts.
"""

from __future__ import annotations

import argparse
import html
import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from convlab.analysis import findings
from convlab.report import appendix, doccheck, document, layout, publish
from convlab.store import cache, locking, records, runlog
from convlab.study import config, identities, manifest, paths

TITLE = "What convolutional layers buy over fully connected networks: supplement"
SUPPLEMENT = "supplement.html"
HEADLINE_MODELS = (identities.FC, identities.CNN, "cnn_k5", "cnn_k7")


def chapter_plan(root: Path, datasets: Sequence[str]) -> list[dict]:
    """The chapters in order, then the appendix notebooks: each notebook with executed copies, its number,
    anchor and title, and its copies (dataset → executed notebook; "comparison" for a cross-dataset one)."""
    plan, chapter, appendix_letter = [], 0, iter("BCDEFGH")
    for entry in map(manifest.entry, (*manifest.per_dataset(), *manifest.across_datasets())):  # the run's order
        if entry.per_dataset:
            copies = {d: root / d / f"{entry.name}.ipynb" for d in datasets if (root / d / f"{entry.name}.ipynb").is_file()}
        else:
            path = root / manifest.COMPARISON_FOLDER / f"{entry.name}.ipynb"
            copies = {manifest.COMPARISON_FOLDER: path} if path.is_file() else {}
        if not copies:
            continue
        if entry.report_part == manifest.APPENDIX:
            number = next(appendix_letter)
        else:
            chapter += 1
            number = str(chapter)
        title = f"{number} {_notebook_title(entry.path)}"
        plan.append({"notebook": entry.name, "number": number, "anchor": f"chapter-{number}", "title": title, "copies": copies})
    return plan


def not_in_this_run(plan: Sequence[dict]) -> str:
    """A paragraph naming the experiments this run left out (a quick run's), and the command that adds them ("" if none)."""
    present = {item["notebook"] for item in plan}
    missing = [_notebook_title(manifest.entry(name).path) for name in manifest.names() if name not in present]
    if not missing:
        return ""
    listed = "; ".join(html.escape(title) for title in missing)
    return (
        f'<p class="not-run"><strong>Not in this run.</strong> These experiments need the full profile '
        f"(<code>make report PROFILE=full</code>, every experiment at three seeds): {listed}. Statements that compare "
        "several seeds rest on one seed here and are marked where they fail.</p>"
    )


def _notebook_title(path: Path) -> str:
    """A notebook's level-1 heading, without its number ("03 · Convolutional network" → "Convolutional network")."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else ():
            match = layout.HEADING.match(line)
            if match and len(match.group(1)) == 1:
                return layout.plain_heading(match.group(2))
    return path.stem


def git_state() -> dict:
    """The commit the report was built from and whether its source differed from it.

    The run's own outputs (figures under images/, everything under reports/) are left out of the comparison:
    a run rewrites them, so they would mark every fresh report as modified.
    """

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=paths.PROJECT_DIR, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--", ".", ":(exclude)images", ":(exclude)reports")
    return {"commit": commit or "unknown (not a git checkout)", "dirty": bool(changed) if commit else None}


def studies() -> dict:
    from convlab.study import studies as known

    return known.published()


def key_results_table(results_dir: Path, dataset: str):
    """The headline models of one dataset beside the study's published figures, like for like where the run has
    reference runs: FC and CNN after exactly the studies' 15 epochs (`protocol.studies_protocol`); the other kernel
    sizes, which have no such runs, to early stopping (the protocol column says which)."""
    import numpy as np
    import pandas as pd

    from convlab.analysis import tables
    from convlab.experiments import protocol

    published = studies()[dataset]
    groups = records.load_all_records(results_dir, needed_by="the report's key results")
    reference = protocol.stored_reference_runs(results_dir)
    fixed = {identities.FC: "FC", identities.CNN: "CNN"}
    rows = []
    for name in HEADLINE_MODELS:
        runs = groups.get(name)
        if not runs:
            continue
        matching = protocol.like_for_like(reference, runs[0]["dataset"])
        studies_runs = protocol.studies_protocol(matching).get(fixed.get(name, ""), [])
        if studies_runs:
            accuracy = np.asarray(studies_runs)
            loss = float(np.mean(protocol.studies_protocol(matching, metric="test_loss")[fixed[name]]))
            way = f"{protocol.STUDIES_EPOCHS} epochs, the studies' protocol"
        else:
            accuracy, loss = records.accuracies(runs), sum(r["test"]["loss"] for r in runs) / len(runs)
            way = f"early stopping, patience {runs[0]['parameters']['patience']}"
        spread = f" ± {accuracy.std(ddof=1):.2f}" if len(accuracy) > 1 else ""
        theirs = published["models"].get(name, {})
        approximate = "~" if published["approximate"] else ""
        like_for_like = bool(studies_runs)
        rows.append(
            {
                "model": tables.model_label(runs[0]["model"]),
                "parameters": f"{runs[0]['model']['parameters']:,}",
                "protocol": way,
                "test accuracy (%)": f"{accuracy.mean():.2f}{spread}",
                "seeds": len(accuracy),
                "test loss": f"{loss:.4f}",
                "published accuracy (%)": _published(theirs.get("test_accuracy"), approximate, ".2f"),
                "published loss": _published(theirs.get("test_loss"), approximate, ".4f"),
                "published parameters": _published(theirs.get("parameters"), approximate, ","),
                "difference (points)": _difference(accuracy.mean(), theirs.get("test_accuracy"), approximate)
                if like_for_like
                else "—",
            }
        )
    return pd.DataFrame(rows).set_index("model")


def _published(value, approximate: str, spec: str) -> str:
    """A study's figure as it printed it: "~99" where it gave only an approximate value, else to `spec`."""
    if value is None:
        return "—"
    return f"~{value:g}" if approximate else format(value, spec)


def _difference(ours: float, theirs, approximate: str) -> str:
    """Our mean minus the study's figure, to no more precision than the study gave ("~+0" beside "~99")."""
    if theirs is None:
        return "—"
    return f"~{ours - theirs:+.0f}" if approximate else f"{ours - theirs:+.2f}"


def key_results(root: Path, datasets: Sequence[str], contents: layout.Contents) -> str:
    """The key-results section: one table per dataset, generated from the result records."""
    published = studies()
    sections = [contents.heading(3, "key-results", "The studies reproduced")]
    sections.append(
        "Test accuracy as mean ± standard deviation over the seeds each model was trained with; loss is a mean over "
        "the same seeds. Where the run holds reference runs on the same data, the FC network and the CNN are read "
        "after exactly 15 epochs of the studies' own protocol (Adam at 0.001, batch 32, the last epoch's weights), "
        "and their difference from the published figure compares like with like; a model without such runs is shown "
        "to early stopping (the protocol column says which), and its difference is not computed. The published "
        "columns are the figures printed by the study that used the dataset."
    )
    for dataset in datasets:
        try:
            table = key_results_table(root / dataset / "results", dataset)
        except records.MissingResultError:
            continue
        sections.append(f"\n**{config.DATASET_TITLES[dataset]}**, beside {html.escape(published[dataset]['citation'])}:\n")
        sections.append(table.rename_axis(None).to_html(classes="key-results", border=0))
    return "\n".join(sections)


def title_block(root: Path, datasets: Sequence[str], built: datetime, state: dict) -> str:
    settings = _run_settings(root, datasets)
    dirty = " (working tree modified)" if state["dirty"] else ""
    return (
        f'<header id="title"><h1>{html.escape(TITLE)}</h1>\n<dl>'
        f"<dt>Built</dt><dd>{built:%Y-%m-%d %H:%M} UTC</dd>"
        f"<dt>Commit</dt><dd><code>{html.escape(state['commit'])}</code>{dirty}</dd>"
        f"<dt>Datasets</dt><dd>{', '.join(config.DATASET_TITLES[d] for d in datasets)}</dd>"
        f"<dt>Parameters</dt><dd>{html.escape(settings)}</dd></dl></header>"
    )


def _run_settings(root: Path, datasets: Sequence[str]) -> str:
    """The training settings and data sizes the records show, e.g. "...; seeds 0, 1, 2; batch 128 (FC) and 32 (CNN); ..."."""
    parts_ = []
    for dataset in datasets:
        try:
            groups = records.load_all_records(root / dataset / "results")
        except records.MissingResultError:
            continue
        cnn, fc = groups.get("cnn", [None])[0], groups.get(identities.FC, [None])[0]
        if not cnn or not fc:
            continue
        seeds = ", ".join(str(r["seed"]) for r in groups["cnn"])
        parts_.append(
            f"{config.DATASET_TITLES[dataset]}: {cnn['dataset']['train_size']:,} training and {cnn['dataset']['test_size']:,} "
            f"test images; seeds {seeds}; batch {fc['parameters']['batch_size']} (FC) and {cnn['parameters']['batch_size']} "
            f"(CNN); epoch cap {fc['parameters']['epochs']} (FC) and {cnn['parameters']['epochs']} (CNN), "
            f"patience {cnn['parameters']['patience']}"
        )
    return "; ".join(parts_) or "no training records"


SUPPLEMENT_NOTE = (
    "This supplement holds every notebook of the run as it executed, the code folded under each cell, for the paper "
    "(report.html and report.pdf beside it). The findings table is the paper's: every difference between "
    "configurations as an exploratory estimate with its 95% interval, and the per-seed McNemar tests with Holm's "
    "correction among themselves; the run's decisions are the paper's primary tests. Each notebook's findings "
    "paragraph is rendered again here from the finished run with the paper's values and claims, so its statements are "
    "the paper's; where a notebook's own table tests a difference, that test is exploratory and this table stands."
)


def assemble(root: Path, datasets: Sequence[str], *, built: datetime | None = None, state: dict | None = None, paper=None):
    """The supplement's body (findings, chapters, methods, appendix), its table of contents and its title block.
    `paper` (a `convlab.paper.build.Built`) gives the findings family and the paper's claims."""
    built = built or datetime.now(UTC)
    state = state or git_state()
    contents, figures = layout.Contents(), layout.Figures()
    plan = chapter_plan(root, datasets)
    titles = {**config.DATASET_TITLES, manifest.COMPARISON_FOLDER: appendix.COMPARISON_TITLE}
    body = [contents.heading(2, "findings", "Findings"), f"<p>{html.escape(SUPPLEMENT_NOTE)}</p>"]
    body.append(not_in_this_run(plan))
    if paper is not None:
        body.append(paper.findings)
        body.append(contents.heading(3, "paper-claims", "The paper's claims"))
        body.append(paper.claims_table())
    body.append(CONTENTS_HERE)
    chapters = [item for item in plan if item["number"].isdigit()]
    paragraphs = paper.notebook_findings if paper is not None else None
    for item in chapters:
        body.append(
            layout.chapter_html(item["copies"], titles, item["number"], contents, figures, with_code=True, findings=paragraphs)
        )
    body.append(contents.heading(2, "methods", "Methods"))
    body.append("<p>The methods are the paper's (section 3); these tables give the run's settings.</p>")
    body.append(findings.methods_tables(root, datasets))
    body.append(layout.markdown_to_html(key_results(root, datasets, contents)))
    body.append(layout.markdown_to_html(appendix.section(root, datasets, contents, built, state)))
    for item in plan:
        if not item["number"].isdigit():
            body.append(
                layout.chapter_html(
                    item["copies"], titles, item["number"], contents, figures, with_code=True, findings=paragraphs
                )
            )
    return "\n".join(part for part in body if part), contents, title_block(root, datasets, built, state)


CONTENTS_HERE = "<!-- contents -->"  # after the findings: printed, page one is the findings; on screen, a sidebar


def to_html(body: str, contents: layout.Contents, title: str) -> str:
    """A standalone page: the report's own head and stylesheet, the contents as a sidebar, no scripts."""
    style = (paths.PACKAGE_DIR / "report" / "report.css").read_text(encoding="utf-8")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(TITLE)}</title>\n'
        f"<style>\n{style}\n</style>\n</head>\n<body>\n<main>\n{title}\n{body.replace(CONTENTS_HERE, contents.to_html(), 1)}\n"
        "</main>\n</body>\n</html>\n"
    )


def inputs_key(root: Path, datasets: Sequence[str], state: dict, *, pdf: bool) -> str:
    """sha256 of everything the document shows: executed notebooks, result records, notebook times, the
    studies' figures, the builder and its stylesheet, the commit and whether the tree was dirty."""
    import hashlib

    digest = hashlib.sha256(json.dumps({"datasets": list(datasets), "git": state, "pdf": pdf}, sort_keys=True).encode())
    builder = (
        "report/report.py",
        "report/layout.py",
        "analysis/findings.py",
        "report/appendix.py",
        "report/report.css",
        "study/studies.json",
    )
    files = [paths.PACKAGE_DIR / name for name in builder] + sorted((paths.PACKAGE_DIR / "paper").glob("*.*"))
    files += sorted(path for dataset in datasets for path in (root / dataset / "models").glob("cnn-seed0.keras"))
    files += [path for item in chapter_plan(root, datasets) for path in item["copies"].values()]
    files += records.committed(path for dataset in datasets for path in (root / dataset / "results").rglob("*.json"))
    for path in files:
        digest.update(f"{path}\n".encode() + path.read_bytes())
    for folder in [*datasets, manifest.COMPARISON_FOLDER]:  # the appendix shows each notebook's last execution, and whole runs
        stored = runlog.read(root / folder)
        digest.update(json.dumps([stored.get(kind) for kind in ("runs", "cold", "warm")], sort_keys=True).encode())
    return digest.hexdigest()


def build(root: Path, datasets: Sequence[str], *, pdf: bool = True, force: bool = False) -> list[Path]:
    """Write report.html (code folded), (unless `pdf` is False) report.pdf without the code, and report.json about them.

    Nothing is rebuilt when the inputs are those of the last build and its files are in place (`force`
    rebuilds regardless).
    """
    from convlab.paper import build as paper_build
    from convlab.paper import notebook_findings

    datasets = config.dataset_names(datasets)  # they name folders under root
    built, state = datetime.now(UTC), git_state()
    outputs = [root / name for name in ("report.html", SUPPLEMENT, *(("report.pdf",) if pdf else ()))]
    key = inputs_key(root, datasets, state, pdf=pdf)
    if not force and cache.is_current(records.read_json_if_present(root / "report.json").get("inputs"), key, outputs):
        print("The report's inputs are unchanged since it was built; nothing to do.")
        return []
    about = {"built": built.isoformat(timespec="seconds"), "datasets": list(datasets), "git": state, "inputs": key}
    with records.read_once():  # the paper, the supplement and the appendix read the same records
        paper = paper_build.render(root, datasets, studies(), paper_build.stamp_line(root, datasets, state, built))
        notebook_findings.attach(paper)
        body, contents, title = assemble(root, datasets, built=built, state=state, paper=paper)
    with records.atomic_path(outputs[1]) as temporary:
        temporary.write_text(to_html(body, contents, title), encoding="utf-8")
    with records.atomic_path(outputs[0]) as temporary:
        temporary.write_text(paper.html, encoding="utf-8")
    (root / "report-with-code.html").unlink(missing_ok=True)  # an earlier layout's second file: the code is folded in now
    about["paper"] = {
        "words": paper.words,
        "figures": paper.figures,
        "claims": len({item["claim"] for item in paper.claims}),
        "failed_claims": sorted(set(paper.failed)),
    }
    if pdf:
        about |= document.to_pdf(outputs[0], outputs[2])
    stamp = records.environment_stamp()
    about["machine"] = {key: stamp[key] for key in ("cpu", "cpu_count", "os")}
    return [*outputs, records.write_json(root / "report.json", about)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=paths.REPORTS_DIR, help="the report tree (default: reports/)")
    parser.add_argument("--datasets", nargs="+", default=list(config.DATASETS), choices=config.DATASETS)
    parser.add_argument("--no-pdf", action="store_true", help="HTML only")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument("--publish", action="store_true", help=f"copy a full default run to <root>/{publish.PUBLISHED_FOLDER}/")
    parser.add_argument(
        "--refresh-published",
        action="store_true",
        help=f"rewrite <root>/{publish.PUBLISHED_FOLDER}/'s paper from its own records (the notebooks stay as they ran)",
    )
    args = parser.parse_args(argv)
    try:
        args.root = paths.output_folder(args.root, "--root", paths.REPORTS_DIR)
        with locking.hold(report_folders(args.root, args.datasets), "pass another --root"):
            if args.publish:
                print(f"Published to {publish.publish(args.root, args.datasets)}")
                return 0
            if args.refresh_published:
                target, wanted = args.root / publish.PUBLISHED_FOLDER, document.pdf_wanted(args.no_pdf)
                for path in publish.refresh_published(target, git_state(), pdf=wanted):
                    print(f"  {path}")
                return 0
            for path in build(args.root, args.datasets, pdf=document.pdf_wanted(args.no_pdf), force=args.force):
                print(f"  {path}")
    except (
        publish.NotPublishable,
        doccheck.DocumentProblems,
        locking.FolderLocked,
        config.ParameterError,
        document.PdfUnavailable,
    ) as error:
        print(f"ERROR: {error}")
        return 1
    return 0


def report_folders(root: Path, datasets: Sequence[str]) -> list[Path]:
    """The folders a build reads and writes (locked while it runs): the tree, and its existing report folders."""
    return [root] + [root / name for name in (*datasets, manifest.COMPARISON_FOLDER) if (root / name).is_dir()]


if __name__ == "__main__":
    raise SystemExit(main())
