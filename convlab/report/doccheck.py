"""The built document checked as a reader gets it: opens from disk, leaks nothing, every figure numbered, claims listed.

    python -m convlab.report.doccheck [--root reports] [--full]

reads `<root>/report.html` (the paper), `<root>/supplement.html` and `<root>/report.json` and lists every problem:
- a script, or a reference to the network (`src`/`href` to http(s) or `//`, CSS `@import` or `url()` to the web);
- an absolute path of the build machine (this checkout, the home and temporary folders, or any path under
  /home, /tmp, /work, /root, /Users or /mnt), or a template leak (an unfilled `{placeholder}`, a doubled
  word such as "epochs epochs", `None` or `nan` in a table cell), in the text a reader sees (folded code aside);
- a figure without its number, caption or alt text, or figures numbered out of order;
- in the supplement, no table of the paper's claims (`id="paper-claims"`, the claims the paper and the notebooks'
  findings paragraphs checked); with `--full` (the published run), a claim in it that does not hold;
- in the paper, whatever the run: a value printed as "nan" or "n/a", or a failed-claim marker (the text fits every run);
- with `--full`, a claim of the paper that fails on the run, a paper of more than 20 PDF pages or 12 figures, and
  "nan" or "n/a" in the supplement;
- a PDF page with content past its right or bottom margin (from report.json, when the PDF was printed).

A subset run trains on a few images for one epoch, so its claims may fairly fail (the paper then prints what the run
shows instead): only `--full` requires every claim to hold. `make publish` runs the full check, and CI the subset
check on its `make report`.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from convlab.study import paths

MACHINE_ROOTS = ("home", "tmp", "work", "root", "Users", "mnt")
MACHINE_PATH = re.compile(r"(?<![\w.:/~-])/(?:" + "|".join(MACHINE_ROOTS) + r")/[\w.@-]+")
PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*(?:[:!][^{}\s]*)?\}")
DOUBLED_WORD = re.compile(r"(?<![\w-])([A-Za-z]{3,})\s+\1\b")  # "epochs epochs"; not "Fashion-MNIST MNIST"
EMPTY_CELL = re.compile(r"<td>\s*(None|nan)\s*</td>")  # Python's and pandas' missing values ("NaN" may be a label)
NETWORK = (
    re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE),
    re.compile(r"@import", re.IGNORECASE),
    re.compile(r"""url\(\s*["']?(?:https?:)?//""", re.IGNORECASE),
)
FIGURE = re.compile(r'<figure id="figure-(\d+)"[^>]*>(.*?)</figure>', re.DOTALL)
CLAIMS_TABLE = '<table class="paper-claims">'  # the supplement's table of the paper's claims: claim, rule, holds


class DocumentProblems(RuntimeError):
    """The built document fails its check; the message lists every problem."""


def reader_text(page: str) -> str:
    """The page less what a reader does not read as prose: folded code, embedded images, the stylesheet."""
    page = re.sub(r"<details class=\"code\">.*?</details>", "", page, flags=re.DOTALL)
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=\s]+", "data:", page)


def machine_paths() -> list[str]:
    """This machine's own folders, which a page must not name."""
    found = {str(paths.PROJECT_DIR), str(Path.home()), tempfile.gettempdir()}
    return sorted(path for path in found if len(path) > 1)


PAPER_PAGES = 20
PAPER_FIGURES = 12


def html_problems(page: str, *, own_paths: Iterable[str] = (), claims_table: bool = True) -> list[str]:
    """Everything wrong with a page's markup and text (see the module's list), one line each."""
    problems = []
    if re.search(r"<script", page, re.IGNORECASE):
        problems.append("the page has a script")
    problems += [f"the page reaches the network ({pattern.pattern})" for pattern in NETWORK if pattern.search(page)]
    text = reader_text(page)
    leaked = sorted({path for path in own_paths if path in text} | set(MACHINE_PATH.findall(text)))
    problems += [f"a path of the build machine: {path}" for path in leaked[:10]]
    visible = re.sub(r"<[^>]+>", " ", text)
    prose = re.sub(r"<[^>]+>", " ", re.sub(r"<table.*?</table>", " ", text, flags=re.DOTALL))
    problems += [f"an unfilled placeholder: {match}" for match in sorted(set(PLACEHOLDER.findall(visible)))[:10]]
    problems += [f"a doubled word: {match.group(0)!r}" for match in list(DOUBLED_WORD.finditer(prose))[:10]]
    problems += [f"a table cell holds {value}" for value in sorted(set(EMPTY_CELL.findall(text)))]
    problems += figure_problems(page)
    if claims_table and not ('id="paper-claims"' in page and CLAIMS_TABLE in page):
        problems.append("no table of the paper's claims")
    return problems


def figure_problems(page: str) -> list[str]:
    """Figures outside a numbered, captioned <figure>, numbers out of order, and images without alt text."""
    problems = []
    figures = FIGURE.findall(page)
    numbers = [int(number) for number, _ in figures]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"figures are not numbered 1 to {len(numbers)} in order: {numbers[:12]}")
    for number, inner in figures:
        caption = re.search(r"<figcaption><strong>Figure (\d+)\.</strong>\s*(.*?)</figcaption>", inner, re.DOTALL)
        if not caption or caption.group(1) != number or not caption.group(2).strip() or "missing-caption" in inner:
            problems.append(f"figure {number} has no caption")
        if re.search(r'<img(?![^>]*\balt="[^"]+")', inner):
            problems.append(f"figure {number} has an image without alt text")
    outside = FIGURE.sub("", page)
    images = len(re.findall(r"<img\b", outside))
    if images:
        problems.append(f"{images} image(s) outside a numbered figure")
    unreferenced = [number for number, _ in figures if f'href="#figure-{number}"' not in outside]
    if unreferenced:
        problems.append(f"figures not referenced from the text: {', '.join(unreferenced[:20])}")
    broken = sorted(set(re.findall(r'href="#fig-([\w-]+)"', page)))
    if broken:
        problems.append(f"references to no figure of their chapter: {', '.join(broken[:10])}")
    return problems


# Python's and pandas's "nan" (not IEEE's "NaN", which names a request case in the serving tables)
MISSING_VALUE = re.compile(r"\bnan\b|\bn/a\b|fails on this run|\[claim")


def missing_value_problems(page: str) -> list[str]:
    """What a reader should never see: a value printed as "nan" or "n/a", or a marker of a claim that failed."""
    visible = re.sub(r"<[^>]+>", " ", reader_text(page))
    found = sorted({match.group(0) for match in MISSING_VALUE.finditer(visible)})
    count = len(MISSING_VALUE.findall(visible))
    return [f"{count} missing value(s) or failed-claim marker(s) in the text: {', '.join(found)}"] if found else []


def claims_problems(page: str) -> list[str]:
    """The claims that do not hold, from the table of the paper's claims (the last column says yes or no)."""
    section = page.split('id="paper-claims"', 1)[-1]
    table = re.search(re.escape(CLAIMS_TABLE) + r"(.*?)</table>", section, re.DOTALL)
    if not table:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.DOTALL)
    failing = []
    for row in rows:
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
        if cells and cells[-1] == "no":
            failing.append(f"a claim does not hold: {cells[0]}: {cells[1][:120]}")
    return failing


def pdf_problems(about: dict) -> list[str]:
    """Pages of the printed report with content past a margin (none when no PDF was printed)."""
    pages = about.get("pdf_pages_past_margin", [])
    return [f"PDF pages with content past a margin: {pages}"] if pages else []


def paper_problems(page: str, about: dict) -> list[str]:
    """A published paper's own limits: no failing claim, at most 20 pages and 12 figures."""
    problems = []
    failed = sorted(set(about.get("paper", {}).get("failed_claims", [])))
    if failed:
        problems.append(f"claims of the paper that fail on this run: {', '.join(failed)}")
    pages = about.get("pdf_pages")
    if pages is None:
        problems.append("the paper was not printed: no page count (install WeasyPrint, or PDF=required)")
    elif pages > PAPER_PAGES:
        problems.append(f"the paper has {pages} PDF pages; at most {PAPER_PAGES}")
    figures = len(FIGURE.findall(page))
    if figures > PAPER_FIGURES:
        problems.append(f"the paper has {figures} figures; at most {PAPER_FIGURES}")
    return problems


SUPPLEMENT_WORDS = 8000  # words of prose in the supplement: the notebooks' text and findings paragraphs
SUPPLEMENT_IDENTIFIERS = 5  # distinct code names (snake_case) that prose may show
PROSE = re.compile(r'<div class="[^"]*\bprose\b[^"]*">(.*?)</div>', re.DOTALL)
IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def prose_text(page: str) -> str:
    """The supplement's prose: its notebooks' text and findings paragraphs, without markup, links or code spans."""
    text = " ".join(PROSE.findall(page))
    text = re.sub(r'href="[^"]*"|id="[^"]*"', " ", text)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def prose_problems(page: str) -> list[str]:
    """The supplement's prose: at most `SUPPLEMENT_WORDS` words and `SUPPLEMENT_IDENTIFIERS` distinct code names."""
    text = prose_text(page)
    problems = []
    words = len(text.split())
    if words > SUPPLEMENT_WORDS:
        problems.append(f"{words:,} words of prose; at most {SUPPLEMENT_WORDS:,}")
    names = sorted(set(IDENTIFIER.findall(text)))
    if len(names) > SUPPLEMENT_IDENTIFIERS:
        problems.append(f"{len(names)} code names in prose ({', '.join(names[:12])}); at most {SUPPLEMENT_IDENTIFIERS}")
    return problems


def check(root: Path, *, full: bool) -> list[str]:
    """Every problem of the documents built under `root`: the paper and its supplement."""
    pages = {}
    for name in ("report.html", "supplement.html"):
        if not (root / name).is_file():
            return [f"no {name} under {root}: run `make report` first"]
        pages[name] = (root / name).read_text(encoding="utf-8")
    about_file = root / "report.json"
    about = json.loads(about_file.read_text(encoding="utf-8")) if about_file.is_file() else {}
    own = machine_paths()
    problems = [f"paper: {problem}" for problem in html_problems(pages["report.html"], own_paths=own, claims_table=False)]
    problems += [f"paper: {problem}" for problem in missing_value_problems(pages["report.html"])]
    problems += [f"supplement: {problem}" for problem in html_problems(pages["supplement.html"], own_paths=own)]
    problems += pdf_problems(about)
    if full:
        problems += claims_problems(pages["supplement.html"]) + paper_problems(pages["report.html"], about)
        problems += [f"supplement: {problem}" for problem in missing_value_problems(pages["supplement.html"])]
        problems += [f"supplement: {problem}" for problem in prose_problems(pages["supplement.html"])]
    return problems


def require(root: Path, *, full: bool) -> None:
    """Raise `DocumentProblems` listing every problem of the document under `root`."""
    problems = check(root, full=full)
    if problems:
        raise DocumentProblems("The report fails its check:\n" + "\n".join(f"  - {problem}" for problem in problems))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=paths.REPORTS_DIR, help="the report tree (default: reports/)")
    parser.add_argument("--full", action="store_true", help="a full run: every claim must hold")
    args = parser.parse_args(argv)
    try:
        require(args.root, full=args.full)
    except DocumentProblems as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"The report under {args.root} passes its {'full' if args.full else 'subset'} check.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
