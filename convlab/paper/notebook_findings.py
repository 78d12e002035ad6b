"""Each notebook's findings paragraph, from the paper's findings layer: the same records, values, claims and family.

`findings.md` holds one short Jinja2-Markdown section per notebook (`## 03_cnn`), written like `paper.md` and
reading the same names (`fm`, `mn`, `cf`, `cm`, `c`, `has`, `holds`). A notebook shows its paragraph with `show`,
rendered from the records present when it runs (a run in progress may lack the other dataset's or later notebooks'
records: the paragraph then says so). The supplement renders every paragraph again from the finished run, with the
paper's context, so its verdicts are the paper's.
"""

from __future__ import annotations

import re
from pathlib import Path

from convlab.paper import build, context
from convlab.study import config, paths

TEXT = Path(__file__).resolve().parent / "findings.md"
METADATA = "convlab-findings"  # a displayed paragraph's output metadata: the notebook it belongs to
NOT_YET = (
    "*The findings across both datasets are written when the run holds both datasets' records; the paper and the "
    "supplement give them for the finished run.*"
)


def sections() -> dict[str, str]:
    """Each notebook's template, by notebook name."""
    parts = re.split(r"^## (\d\d_\w+)\s*$", TEXT.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def render(notebook: str, c) -> tuple[str, list[dict]]:
    """A notebook's paragraph as Markdown, and the claims it checked, from a paper context `c`."""
    template = sections().get(notebook)
    if template is None:
        raise KeyError(f"convlab/paper/findings.md has no section for {notebook}.")
    renderer = build.Renderer(c, {})
    text = build.render_fragment(template, c, renderer)
    return re.sub(r"[ \t]+\n", "\n", text).strip() or NOT_YET, renderer.checked


def attach(paper: build.Built) -> build.Built:
    """Every notebook's paragraph rendered from the paper's own context, and their claims added to the paper's
    (the same predicates on the same records, so the supplement's verdicts are the paper's)."""
    for notebook in sections():
        paper.notebook_findings[notebook], checked = render(notebook, paper.context)
        paper.claims += checked
    paper.failed = sorted({item["claim"] for item in paper.claims if not item["holds"]})
    return paper


def show(notebook: str, results_dir: str | Path) -> None:
    """Display a notebook's paragraph from the records of the run it belongs to (`results_dir`: its results folder)."""
    from IPython.display import display

    from convlab.study import studies as known

    root = paths.reports_root(Path(results_dir).resolve().parent.parent)
    c = context.context(root, config.DATASETS, known.published())
    try:
        text, _ = render(notebook, c)
    except LookupError:  # the run does not hold what the paragraph reads yet
        text = NOT_YET
    display({"text/markdown": text}, raw=True, metadata={"text/markdown": {METADATA: notebook}})
