"""The document's body: one chapter per experiment, both datasets side by side, figures numbered and captioned.

A per-dataset notebook ran once for each dataset from the same source, so its executed copies have the same
cells. A chapter prints that source's prose once and, under each code cell, what the cell showed for every
dataset: tables and generated text one dataset after the other (once when they are the same), figures as one
numbered figure with a panel per dataset. The reader's version leaves out the code, the parameter cells and
every log line a cell printed; the version with code folds each cell's code into a `<details>` element.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from convlab.figures import captions

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
NOTEBOOK_TITLE = re.compile(r"^\d+\s*·\s*")
HIDDEN_TAGS = {"parameters", "injected-parameters"}
RUN_CARD_ROW = "| **Runtime** |"  # the table of runtime, inputs and outputs that opens every notebook
HOW_TO_RUN = "Run it from `make report`"  # the paragraph after it (`tests/test_notebooks.py` checks both)


@dataclass
class Contents:
    """The document's numbered headings, in order: (level, anchor, text)."""

    entries: list[tuple[int, str, str]] = field(default_factory=list)

    def heading(self, level: int, anchor: str, text: str) -> str:
        self.entries.append((level, anchor, text))
        return f'\n<h{level} id="{anchor}">{html.escape(text)}</h{level}>\n'

    def to_html(self, deepest: int = 3) -> str:
        """The contents down to `deepest` (2: chapters, 3: their sections)."""
        items = "\n".join(
            f'<li class="toc-{level}"><a href="#{anchor}">{html.escape(text)}</a></li>'
            for level, anchor, text in self.entries
            if level <= deepest
        )
        return f'<nav id="contents"><h2>Contents</h2>\n<ul>\n{items}\n</ul></nav>'


@dataclass
class Figures:
    """The figures numbered so far: (number, anchor, caption, name it was saved under)."""

    entries: list[tuple[int, str, str, str]] = field(default_factory=list)

    def add(self, caption: str, name: str = "") -> tuple[int, str]:
        number = len(self.entries) + 1
        anchor = f"figure-{number}"
        self.entries.append((number, anchor, caption, name))
        return number, anchor


REFERENCE = re.compile(r'<a href="#fig-([\w-]+)">[^<]*</a>')  # prose's `[figure](#fig-<name>)`, resolved per chapter


def resolve_references(chapter: str, numbered: Sequence[tuple[int, str, str, str]]) -> str:
    """A chapter's references to its figures by name made "Figure N" links (unknown names are left as they are)."""
    by_name = {}
    for number, anchor, _, name in numbered:
        by_name.setdefault(name, (number, anchor))

    def link(match: re.Match) -> str:
        found = by_name.get(match.group(1))
        return f'<a href="#{found[1]}">Figure {found[0]}</a>' if found else match.group(0)

    return REFERENCE.sub(link, chapter)


def markdown_to_html(text: str) -> str:
    from nbconvert.filters import markdown2html

    return markdown2html(text)


def plain_heading(text: str) -> str:
    """A heading's text without markdown emphasis and without a notebook's number ("03 · CNN" → "CNN")."""
    return NOTEBOOK_TITLE.sub("", re.sub(r"[`*_]", "", text))


def without_run_card(source: str) -> str:
    """Markdown without the notes for whoever runs the notebook (its run card and how to run it): a reader of the
    report needs neither the runtimes nor the inputs and outputs of a notebook."""
    blocks = re.split(r"\n\s*\n", source)
    kept = [block for block in blocks if RUN_CARD_ROW not in block and not block.lstrip().startswith(HOW_TO_RUN)]
    return "\n\n".join(kept)


def renumber(source: str, number: str, contents: Contents, counter: list[int]) -> str:
    """Markdown whose headings become numbered HTML headings with unique anchors: a notebook's title is chapter
    `number`, its level-2 headings `number.k`; deeper ones keep their text, unnumbered."""
    lines, fenced = [], False
    for line in source.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if not match:
            lines.append(line)
            continue
        level, text = len(match.group(1)), plain_heading(match.group(2))
        if level == 1:
            lines.append(contents.heading(2, f"chapter-{number}", f"{number} {text}"))
        elif level == 2:
            counter[0] += 1
            lines.append(contents.heading(3, f"section-{number}-{counter[0]}", f"{number}.{counter[0]} {text}"))
        else:
            lines.append(f"\n<h4>{html.escape(text)}</h4>\n")
    return "\n".join(lines)


def figure_of(output) -> dict | None:
    """An output's figure: its PNG and the caption and alt text `plots.save` gave it (None: not a figure)."""
    data = output.get("data", {})
    if "image/png" not in data:
        return None
    about = dict(output.get("metadata", {}).get(captions.FIGURE_METADATA, {}))
    return (
        {"png": data["image/png"]}
        | {key: about.get(key, "") for key in ("caption", "alt", "name")}
        | {"full_width": bool(about.get("full_width", False))}
    )


FINDINGS_METADATA = "convlab-findings"  # a notebook's findings paragraph (`convlab.paper.notebook_findings`)


def output_html(output, findings: Mapping[str, str] | None = None) -> str:
    """A non-figure output as HTML ("" for log lines: streams are left out). A notebook's findings paragraph is
    replaced by `findings[notebook]` where given: the finished run's paragraph, rendered with the paper."""
    if output.output_type == "stream":
        return ""
    if output.output_type == "error":
        return f'<pre class="error">{html.escape(output.ename)}: {html.escape(output.evalue)}</pre>'
    data = output.get("data", {})
    notebook = output.get("metadata", {}).get("text/markdown", {}).get(FINDINGS_METADATA)
    if notebook and findings and notebook in findings:
        return f'<div class="output findings prose">{markdown_to_html(findings[notebook])}</div>'
    if "text/html" in data:
        return f'<div class="output">{data["text/html"]}</div>'
    if "text/markdown" in data:
        return f'<div class="output">{markdown_to_html(data["text/markdown"])}</div>'
    if "text/plain" in data:
        return f"<pre>{html.escape(data['text/plain'])}</pre>"
    return ""


def is_compact(item: str, columns: int = 4, rows: int = 14, characters: int = 900) -> bool:
    """Whether an output fits half the page's width and stays short: a table of at most `columns` columns and `rows`
    rows, or text of at most `characters` characters (the datasets' outputs then stand side by side)."""
    text = re.sub(r"<[^>]+>", "", item)
    if "<table" not in item:
        return len(text) <= characters
    first_row = re.search(r"<tr[^>]*>(.*?)</tr>", item, re.DOTALL)
    width = len(re.findall(r"<t[hd][\s>]", first_row.group(1))) if first_row else 0
    return width <= columns and len(re.findall(r"<tr[\s>]", item)) <= rows + 1 and len(text) <= 4 * characters


WIDE_ASPECT = 2.9  # panels at least this much wider than tall stand one above the other, at the page's width
# (as do the panels of a figure whose caption entry asks for the full width: `figures.Caption.full_width`)


def png_aspect(png: str | bytes) -> float:
    """Width over height of a PNG (base64 text or bytes), read from its IHDR header."""
    data = base64.b64decode("".join(png.split())[:64]) if isinstance(png, str) else png[:24]
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return width / height if height else 1.0


def figure_html(panels: Sequence[tuple[str, dict]], figures: Figures) -> str:
    """One numbered figure: a panel per (label, figure), one caption (the first panel's)."""
    caption = next((figure["caption"] for _, figure in panels if figure["caption"]), "")
    number, anchor = figures.add(caption, next((figure.get("name", "") for _, figure in panels), ""))
    lettered = len(panels) > 1
    cells = []
    for index, (label, figure) in enumerate(panels):
        png = figure["png"] if isinstance(figure["png"], str) else base64.b64encode(figure["png"]).decode()
        alt = html.escape(f"{figure['alt'] or caption}{f' ({label})' if label else ''}", quote=True)
        tag = f"({'abcdefgh'[index]}) {label}" if lettered else label
        cells.append(
            f'<div class="panel"><img src="data:image/png;base64,{png.strip()}" alt="{alt}">'
            + (f'<p class="panel-label">{html.escape(tag)}</p>' if tag else "")
            + "</div>"
        )
    text = html.escape(caption) if caption else '<span class="missing-caption">no caption</span>'
    wide = lettered and (
        any(figure.get("full_width") for _, figure in panels)
        or min(png_aspect(figure["png"]) for _, figure in panels) >= WIDE_ASPECT
    )
    return (
        f'<figure id="{anchor}" class="panels-{len(panels)}{" stacked" if wide else ""}">{"".join(cells)}'
        f"<figcaption><strong>Figure {number}.</strong> {text}</figcaption></figure>"
    )


def code_cell_html(
    cells: Mapping[str, object],
    titles: Mapping[str, str],
    figures: Figures,
    *,
    with_code: bool,
    findings: Mapping[str, str] | None = None,
) -> str:
    """What one code cell showed for every dataset (`cells`: dataset → executed cell), code folded when `with_code`."""
    first = next(iter(cells.values()))
    parts = []
    if with_code and first.source.strip():
        code = html.escape(first.source)
        parts.append(f'<details class="code"><summary>Code</summary><pre><code>{code}</code></pre></details>')
    shown = {dataset: [output_html(o, findings) for o in cell.outputs if figure_of(o) is None] for dataset, cell in cells.items()}
    shown = {dataset: [item for item in items if item] for dataset, items in shown.items()}
    if len({tuple(items) for items in shown.values()}) == 1 or len(cells) == 1:
        parts += next(iter(shown.values()))
    else:
        blocks = []
        for dataset, items in shown.items():
            if items:
                label = f'<p class="dataset-label">{html.escape(titles[dataset])}</p>'
                blocks.append(f'<div class="dataset">{label}{"".join(items)}</div>')
        compact = len(blocks) > 1 and all(is_compact(item) for items in shown.values() for item in items)
        parts.append(f'<div class="side-by-side">{"".join(blocks)}</div>' if compact else "".join(blocks))
    drawn = {dataset: [f for f in map(figure_of, cell.outputs) if f] for dataset, cell in cells.items()}
    counts = {len(found) for found in drawn.values()}
    label = (lambda dataset: titles[dataset]) if len(cells) > 1 else (lambda dataset: "")
    if len(counts) == 1:
        for index in range(counts.pop()):
            parts.append(figure_html([(label(dataset), found[index]) for dataset, found in drawn.items()], figures))
    else:
        parts += [figure_html([(label(dataset), figure)], figures) for dataset, found in drawn.items() for figure in found]
    return "\n".join(parts)


def is_empty_section(rows: Sequence[Sequence[object]], index: int) -> bool:
    """Whether markdown row `index` is a bare heading whose code cells, up to the next markdown cell, show a reader
    nothing (a "Setup" that only loads data): the chapter leaves such a heading out, and its folded code joins the
    section before it, so the HTML and the PDF number their sections alike."""
    source = rows[index][0].source.strip()
    if "\n" in source or not HEADING.match(source):
        return False
    for cells in rows[index + 1 :]:
        if cells[0].cell_type == "markdown":
            break
        if any(figure_of(output) or output_html(output) for cell in cells for output in cell.get("outputs", [])):
            return False
    return True


def aligned(notebooks: Mapping[str, object]) -> bool:
    """Whether executed copies of one notebook have the same cells (same kinds, same markdown)."""
    shapes = {tuple((c.cell_type, c.source if c.cell_type == "markdown" else "") for c in nb.cells) for nb in notebooks.values()}
    return len(shapes) == 1


def chapter_html(
    executed: Mapping[str, Path],
    titles: Mapping[str, str],
    number: str,
    contents: Contents,
    figures: Figures,
    *,
    with_code: bool,
    findings: Mapping[str, str] | None = None,
) -> str:
    """One notebook's chapter from its executed copies (dataset → executed notebook), datasets side by side."""
    import nbformat

    notebooks = {dataset: nbformat.read(path, as_version=4) for dataset, path in executed.items()}
    if not aligned(notebooks):  # copies from different sources: one after the other, whole
        first, *rest = notebooks
        body = [chapter_html({first: executed[first]}, titles, number, contents, figures, with_code=with_code, findings=findings)]
        return "\n".join(body + [_whole(executed[name], titles[name], figures, with_code, findings) for name in rest])
    counter, parts, first_figure = [0], [], len(figures.entries)
    rows = list(zip(*(nb.cells for nb in notebooks.values())))
    for index, cells in enumerate(rows):
        by_dataset = dict(zip(notebooks, cells))
        cell = cells[0]
        if cell.cell_type == "markdown" and is_empty_section(rows, index):
            continue
        if cell.cell_type == "markdown":
            prose = markdown_to_html(renumber(without_run_card(cell.source), number, contents, counter))
            parts.append(f'<div class="prose">{prose}</div>')
        elif cell.cell_type == "code" and not (set(cell.metadata.get("tags", [])) & HIDDEN_TAGS and not with_code):
            if "injected-parameters" not in cell.metadata.get("tags", []):
                parts.append(code_cell_html(by_dataset, titles, figures, with_code=with_code, findings=findings))
    return resolve_references("\n".join(part for part in parts if part), figures.entries[first_figure:])


def _whole(path: Path, title: str, figures: Figures, with_code: bool, findings: Mapping[str, str] | None = None) -> str:
    """A notebook's outputs alone, under its dataset's title (when its copies differ in their cells)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    parts = [f'<p class="dataset-label">{html.escape(title)}</p>']
    for cell in notebook.cells:
        if cell.cell_type == "code" and not set(cell.metadata.get("tags", [])) & HIDDEN_TAGS:
            parts.append(code_cell_html({title: cell}, {title: ""}, figures, with_code=with_code, findings=findings))
    return "\n".join(parts)
