"""One document for graders: every executed notebook in order, behind a title block, a table of contents,
generated key results, and followed by a reproducibility appendix.

    python -m convlab.report [--root reports] [--datasets fashion_mnist mnist] [--no-pdf]

writes, atomically, `report.html` (code hidden), `report-with-code.html` and `report.pdf` (WeasyPrint)
into the report tree. The HTML needs no network: it has no scripts, figures are embedded, the
stylesheet is inline and uses the system's fonts.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from convlab import appendix, cache, config, document, locking, manifest, paths, publish, records, runlog

TITLE = "What convolutional layers buy over fully connected networks"
STUDIES_FILE = paths.PACKAGE_DIR / "studies.json"
HEADLINE_MODELS = ("fc_baseline", "cnn", "cnn_k5", "cnn_k7")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
NOTEBOOK_TITLE = re.compile(r"^\d+\s*·\s*")


@dataclass
class Contents:
    """The document's numbered headings, in order: (level, anchor, text)."""

    entries: list[tuple[int, str, str]] = field(default_factory=list)

    def heading(self, level: int, anchor: str, text: str) -> str:
        self.entries.append((level, anchor, text))
        return f'\n<h{level} id="{anchor}">{html.escape(text)}</h{level}>\n'

    def to_html(self, deepest: int = 3) -> str:
        """The contents down to `deepest` (2: parts, 3: notebooks, 4: their sections)."""
        items = "\n".join(
            f'<li class="toc-{level}"><a href="#{anchor}">{html.escape(text)}</a></li>'
            for level, anchor, text in self.entries
            if level <= deepest
        )
        return f'<nav id="contents"><h2>Contents</h2>\n<ul>\n{items}\n</ul></nav>'


def parts(root: Path, datasets: Sequence[str]) -> list[tuple[str, list[Path]]]:
    """(part title, executed notebooks in order) per dataset, then the cross-dataset part; absent notebooks are skipped."""
    found = [
        (config.DATASET_TITLES[dataset], [root / dataset / f"{name}.ipynb" for name in manifest.per_dataset()])
        for dataset in datasets
    ]
    found.append(
        (appendix.COMPARISON_TITLE, [root / manifest.COMPARISON_FOLDER / f"{name}.ipynb" for name in manifest.across_datasets()])
    )
    return [(title, [path for path in files if path.is_file()]) for title, files in found if any(p.is_file() for p in files)]


def _inline_markdown(text: str) -> str:
    """A heading's text without its markdown (backticks, emphasis)."""
    return re.sub(r"[`*_]", "", text)


def renumber_markdown(source: str, number: str, contents: Contents, counter: list[int]) -> str:
    """Markdown with its headings replaced by numbered HTML headings that carry unique anchors.

    A notebook's level-1 heading becomes section `number`, its level-2 headings `number.k`;
    deeper headings keep their text, one level lower, unnumbered.
    """
    lines, fenced = [], False
    for line in source.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if not match:
            lines.append(line)
            continue
        level, text = len(match.group(1)), _inline_markdown(match.group(2))
        if level == 1:
            lines.append(contents.heading(3, f"s{number.replace('.', '-')}", f"{number} {NOTEBOOK_TITLE.sub('', text)}"))
        elif level == 2:
            counter[0] += 1
            sub = f"{number}.{counter[0]}"
            lines.append(contents.heading(4, f"s{sub.replace('.', '-')}", f"{sub} {NOTEBOOK_TITLE.sub('', text)}"))
        else:
            lines.append(f"\n<h5>{html.escape(text)}</h5>\n")
    return "\n".join(lines)


def notebook_cells(path: Path, number: str, contents: Contents, *, with_code: bool) -> list:
    """The cells of one executed notebook, headings renumbered; without code, stderr output is left out too."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    counter = [0]
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = renumber_markdown(cell.source, number, contents, counter)
        elif cell.cell_type == "code":
            tags = set(cell.metadata.get("tags", []))
            if not with_code and tags & {"parameters", "injected-parameters"}:
                continue
            if not with_code:
                cell.outputs = [output for output in cell.outputs if output.get("name") != "stderr"]
        cells.append(cell)
    return cells


def markdown_cell(text: str):
    import nbformat

    return nbformat.v4.new_markdown_cell(text)


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
    return json.loads(STUDIES_FILE.read_text(encoding="utf-8"))["studies"]


def key_results_table(results_dir: Path, dataset: str):
    """The headline models of one dataset: cost and test metrics over seeds, beside the study's published figures."""
    import pandas as pd

    from convlab import tables

    published = studies()[dataset]
    groups = records.load_all_records(results_dir, needed_by="the report's key results")
    rows = []
    for name in HEADLINE_MODELS:
        runs = groups.get(name)
        if not runs:
            continue
        accuracy = records.accuracies(runs)
        spread = f" ± {accuracy.std(ddof=1):.2f}" if len(runs) > 1 else ""
        theirs = published["models"].get(name, {})
        approximate = "~" if published["approximate"] else ""
        rows.append(
            {
                "model": tables.model_label(runs[0]["model"]),
                "parameters": f"{runs[0]['model']['parameters']:,}",
                "MACs per image": f"{runs[0]['macs_per_image']:,}",
                "test accuracy (%)": f"{accuracy.mean():.2f}{spread}",
                "seeds": len(runs),
                "test loss": f"{sum(r['test']['loss'] for r in runs) / len(runs):.4f}",
                "training time (s)": f"{sum(r['timing']['train_seconds'] for r in runs) / len(runs):.0f}",
                "published accuracy (%)": f"{approximate}{theirs['test_accuracy']:.2f}" if "test_accuracy" in theirs else "—",
                "published loss": f"{approximate}{theirs['test_loss']:.4f}" if "test_loss" in theirs else "—",
                "published parameters": f"{approximate}{theirs['parameters']:,}" if "parameters" in theirs else "—",
                "difference (points)": f"{accuracy.mean() - theirs['test_accuracy']:+.2f}" if "test_accuracy" in theirs else "—",
            }
        )
    return pd.DataFrame(rows).set_index("model")


def key_results(root: Path, datasets: Sequence[str], contents: Contents) -> str:
    """The key-results section: one table per dataset, generated from the result records."""
    published = studies()
    sections = [contents.heading(2, "key-results", "Key results")]
    sections.append(
        "Test accuracy as mean ± standard deviation over the seeds each model was trained with; loss and training "
        "time are means over the same seeds. The published columns are the figures printed by the study that used "
        "the dataset; the difference is this report's mean minus the published figure."
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
        cnn, fc = groups.get("cnn", [None])[0], groups.get("fc_baseline", [None])[0]
        if not cnn or not fc:
            continue
        seeds = ", ".join(str(r["seed"]) for r in groups["cnn"])
        parts_.append(
            f"{config.DATASET_TITLES[dataset]}: {cnn['dataset']['train_size']:,} training and {cnn['dataset']['test_size']:,} "
            f"test images; seeds {seeds}; batch {fc['parameters']['batch_size']} (FC) and {cnn['parameters']['batch_size']} "
            f"(CNN); at most {fc['parameters']['epochs']} epochs (FC) and {cnn['parameters']['epochs']} (CNN), "
            f"patience {cnn['parameters']['patience']}"
        )
    return "; ".join(parts_) or "no training records"


def assemble(root: Path, datasets: Sequence[str], *, with_code: bool, built: datetime | None = None, state: dict | None = None):
    """The whole report as one notebook, its table of contents and its title block."""
    import nbformat

    built = built or datetime.now(UTC)
    state = state or git_state()
    contents = Contents()
    cells = [markdown_cell(key_results(root, datasets, contents))]
    for part_number, (title, notebooks) in enumerate(parts(root, datasets), start=1):
        cells.append(markdown_cell(contents.heading(2, f"part-{part_number}", f"{part_number} {title}")))
        for notebook_number, path in enumerate(notebooks, start=1):
            cells += notebook_cells(path, f"{part_number}.{notebook_number}", contents, with_code=with_code)
    cells.append(markdown_cell(appendix.section(root, datasets, contents, built, state)))
    for index, cell in enumerate(cells):
        cell.id = f"cell-{index}"  # notebooks share cell ids; the document needs unique ones
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"title": TITLE})
    return notebook, contents, title_block(root, datasets, built, state)


def to_html(notebook, contents: Contents, title: str, *, with_code: bool) -> str:
    """A standalone page: nbconvert's cell markup inside the report's own head and stylesheet, no scripts."""
    import nbconvert

    exporter = nbconvert.HTMLExporter(
        template_name="basic",
        exclude_input=not with_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )
    body, _ = exporter.from_notebook_node(notebook)
    style = (paths.PACKAGE_DIR / "report.css").read_text(encoding="utf-8")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(TITLE)}</title>\n'
        f"<style>\n{style}\n</style>\n</head>\n<body>\n{title}\n{contents.to_html()}\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def inputs_key(root: Path, datasets: Sequence[str], state: dict, *, pdf: bool) -> str:
    """sha256 of everything the document shows: executed notebooks, result records, notebook times, the
    studies' figures, the builder and its stylesheet, the commit and whether the tree was dirty."""
    import hashlib

    digest = hashlib.sha256(json.dumps({"datasets": list(datasets), "git": state, "pdf": pdf}, sort_keys=True).encode())
    files = [paths.PACKAGE_DIR / name for name in ("report.py", "report.css", "studies.json")]
    files += [path for _, notebooks in parts(root, datasets) for path in notebooks]
    files += records.committed(path for dataset in datasets for path in (root / dataset / "results").rglob("*.json"))
    for path in files:
        digest.update(f"{path}\n".encode() + path.read_bytes())
    for folder in [*datasets, manifest.COMPARISON_FOLDER]:  # the appendix shows each notebook's last execution, and whole runs
        stored = runlog.read(root / folder)
        digest.update(json.dumps([stored.get(kind) for kind in ("runs", "cold", "warm")], sort_keys=True).encode())
    return digest.hexdigest()


def build(root: Path, datasets: Sequence[str], *, pdf: bool = True, force: bool = False) -> list[Path]:
    """Write report.html, report-with-code.html, (unless `pdf` is False) report.pdf, and report.json about them.

    Nothing is rebuilt when the inputs are those of the last build and its files are in place (`force`
    rebuilds regardless); the PDF is printed in a second process while the version with code is built.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    datasets = config.dataset_names(datasets)  # they name folders under root
    built, state = datetime.now(UTC), git_state()
    outputs = [root / name for name in ("report.html", "report-with-code.html", *(("report.pdf",) if pdf else ()))]
    key = inputs_key(root, datasets, state, pdf=pdf)
    if not force and cache.is_current(records.read_json_if_present(root / "report.json").get("inputs"), key, outputs):
        print("The report's inputs are unchanged since it was built; nothing to do.")
        return []
    about = {"built": built.isoformat(timespec="seconds"), "datasets": list(datasets), "git": state, "inputs": key}
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as printer:
        printing = None
        for with_code, target in ((False, outputs[0]), (True, outputs[1])):
            notebook, contents, title = assemble(root, datasets, with_code=with_code, built=built, state=state)
            page = to_html(notebook, contents, title, with_code=with_code)
            with records.atomic_path(target) as temporary:
                temporary.write_text(page, encoding="utf-8")
            if pdf and not with_code:
                printing = printer.submit(document.to_pdf, target, outputs[2])
        if printing is not None:
            about |= printing.result()
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
    args = parser.parse_args(argv)
    try:
        args.root = paths.output_folder(args.root, "--root", paths.REPORTS_DIR)
        with locking.hold(report_folders(args.root, args.datasets), "pass another --root"):
            if args.publish:
                print(f"Published to {publish.publish(args.root, args.datasets)}")
                return 0
            for path in build(args.root, args.datasets, pdf=document.pdf_wanted(args.no_pdf), force=args.force):
                print(f"  {path}")
    except (publish.NotPublishable, locking.FolderLocked, config.ParameterError, document.PdfUnavailable) as error:
        print(f"ERROR: {error}")
        return 1
    return 0


def report_folders(root: Path, datasets: Sequence[str]) -> list[Path]:
    """The folders a build reads and writes (locked while it runs): the tree, and its existing report folders."""
    return [root] + [root / name for name in (*datasets, manifest.COMPARISON_FOLDER) if (root / name).is_dir()]


if __name__ == "__main__":
    raise SystemExit(main())
