"""Every number the paper prints, recomputed from the published records: the numbers part of `make verify`.

The paper is rendered again from the published records (`convlab.paper.build.render`, as `make publish` and
`python -m convlab.report.report --refresh-published` render it) and every number of its readable text is compared
with the published `report.html`: both texts are cut into sentences, the sentences are aligned by their words with
the numbers masked, and the numbers of each aligned pair are compared in order. A number that differs in an aligned
sentence is one the published records do not give; a sentence present in one text only means that the published
paper was built from other text (another commit). Both are listed, and either fails the check.
"""

from __future__ import annotations

import difflib
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from convlab.study import config, paths

PUBLISHED_DIR = paths.REPORTS_DIR / "published"

BLOCK_TAG = re.compile(
    r"</?(?:p|li|tr|td|th|h[1-6]|figcaption|caption|div|table|thead|tbody|ul|ol|section|figure|blockquote|pre|dt|dd|br"
    r"|main|summary|details|nav|header|footer)\b[^>]*>"
)
NUMBER = re.compile(r"(?<![\w.])[−+\-]?\d+(?:,\d{3})*(?:\.\d+)?")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
FIGURE_IMAGE = re.compile(r'<figure id="(figure-\d+)">\s*<img src="([^"]*)"')


def readable_paragraphs(page: str) -> list[str]:
    """The text a reader sees, one entry per paragraph, list item, table cell, heading or caption: the page's
    <main> without the build stamp (date and commit of the build), styles, scripts and images."""
    found = re.search(r"<main>(.*)</main>", page, flags=re.DOTALL)
    body = found.group(1) if found else page
    body = re.sub(r'<p class="stamp">.*?</p>', " ", body, flags=re.DOTALL)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    body = re.sub(r"<img\b[^>]*>", " ", body)
    body = html.unescape(re.sub(r"<[^>]+>", "", BLOCK_TAG.sub("\n", body)))
    return [" ".join(line.split()) for line in body.split("\n") if line.strip()]


def sentences(page: str) -> list[str]:
    return [sentence for paragraph in readable_paragraphs(page) for sentence in SENTENCE_END.split(paragraph)]


@dataclass
class NumbersCheck:
    """The rendered paper's numbers against the published paper's."""

    rendered: int = 0  # numbers in the freshly rendered text
    published: int = 0  # numbers in the published text
    matching: int = 0  # equal, in a sentence the two texts print alike
    differing: list[tuple[str, str, str]] = field(default_factory=list)  # (published, rendered, published sentence)
    only_published: list[str] = field(default_factory=list)  # sentences the rendered text does not print
    only_rendered: list[str] = field(default_factory=list)
    # numbers of rendered sentences worded otherwise than the published ones: also printed in the sentences they
    # replace, in all (a hint only: where in those sentences is not compared)
    reworded: list[int] = field(default_factory=lambda: [0, 0])
    figures: tuple[int, int] = (0, 0)  # figures drawn identical, figures in the published paper
    failed_claims: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differing and not self.only_published and not self.only_rendered and self.matching == self.rendered

    def summary(self) -> str:
        return f"{self.matching} of {self.rendered} numbers match"


def compare_texts(published_page: str, rendered_page: str) -> NumbersCheck:
    """Every number of the rendered paper against the published one, sentence by sentence (module docstring)."""
    theirs, ours = sentences(published_page), sentences(rendered_page)
    masked_theirs, masked_ours = [NUMBER.sub("#", s) for s in theirs], [NUMBER.sub("#", s) for s in ours]
    check = NumbersCheck(
        rendered=sum(len(NUMBER.findall(s)) for s in ours), published=sum(len(NUMBER.findall(s)) for s in theirs)
    )
    matcher = difflib.SequenceMatcher(None, masked_theirs, masked_ours, autojunk=False)
    for tag, low, high, first, last in matcher.get_opcodes():
        if tag == "equal":
            for sentence_theirs, sentence_ours in zip(theirs[low:high], ours[first:last], strict=True):
                for number_theirs, number_ours in zip(
                    NUMBER.findall(sentence_theirs), NUMBER.findall(sentence_ours), strict=True
                ):
                    if number_theirs == number_ours:
                        check.matching += 1
                    else:
                        check.differing.append((number_theirs, number_ours, sentence_theirs))
        else:
            check.only_published += theirs[low:high]
            check.only_rendered += ours[first:last]
            printed = Counter(number for sentence in theirs[low:high] for number in NUMBER.findall(sentence))
            for number in (number for sentence in ours[first:last] for number in NUMBER.findall(sentence)):
                check.reworded[1] += 1
                if printed[number] > 0:
                    printed[number] -= 1
                    check.reworded[0] += 1
    drawn_theirs, drawn_ours = dict(FIGURE_IMAGE.findall(published_page)), dict(FIGURE_IMAGE.findall(rendered_page))
    check.figures = (sum(drawn_ours.get(key) == image for key, image in drawn_theirs.items()), len(drawn_theirs))
    return check


def render_published(root: Path):
    """The paper rendered from the published records, as `--refresh-published` renders it (`build.Built`)."""
    from convlab.paper import build
    from convlab.store import records
    from convlab.study import studies

    with records.read_once():
        return build.render(root, config.DATASETS, studies.published(), stamp="")


def check_numbers(root: Path = PUBLISHED_DIR, page: Path | None = None) -> NumbersCheck:
    """The paper rendered from the records under `root`, compared with `page` (default: `root`/report.html)."""
    from convlab.paper import holding

    page = page or root / "report.html"
    built = render_published(root)
    check = compare_texts(page.read_text(encoding="utf-8"), built.html)
    check.failed_claims = sorted(set(built.failed))
    stamp = re.search(r'<p class="stamp">(.*?)(?:\.|</p>)', page.read_text(encoding="utf-8"), flags=re.DOTALL)
    if stamp:
        check.notes.append(f"published paper: {html.unescape(re.sub(r'<[^>]+>', '', stamp.group(1))).strip()}")
    from convlab.report.report import git_state

    state = git_state()
    check.notes.append(
        f"this checkout: commit {state.get('commit', 'unknown')[:12]}{', working tree modified' if state.get('dirty') else ''}"
    )
    missing = [dataset for dataset in config.DATASETS if holding.cnn_model_file(root, dataset) is None]
    if missing and (check.only_published or check.only_rendered):
        check.notes.append(
            "the published seed-0 CNN model is absent for "
            + ", ".join(missing)
            + " (models/cnn-seed0.keras): the figures and sentences that run it are not rendered here"
        )
    return check
