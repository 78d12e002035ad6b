"""Each notebook's findings paragraph (`paper/findings.md`): one section per notebook of the manifest, shown by the
notebook after its setup, rendered from the published records without a missing value, and checking the paper's
claims with the paper's verdicts."""

from __future__ import annotations

import re
from collections import defaultdict

import nbformat
import pytest

from convlab.paper import build, claims, context, holding, notebook_findings
from convlab.report import doccheck
from convlab.study import config, manifest, paths, studies

PUBLISHED = paths.REPORTS_DIR / "published"


def test_every_notebook_has_a_section_and_every_section_names_a_notebook():
    sections = notebook_findings.sections()
    assert sorted(sections) == sorted(manifest.names()), "one section per notebook of the manifest, and no other"
    assert all(text.strip() for text in sections.values())
    named = set(re.findall(r'holds\("([\w-]+)"\)', notebook_findings.TEXT.read_text(encoding="utf-8")))
    assert named <= set(claims.BY_KEY), named - set(claims.BY_KEY)


def test_every_notebook_shows_its_paragraph_right_after_its_setup():
    for name in manifest.names():
        cells = nbformat.read(manifest.entry(name).path, as_version=4).cells
        setup = next(index for index, cell in enumerate(cells) if "notebook.setup" in cell.source and cell.cell_type == "code")
        heading, shown = cells[setup + 1], cells[setup + 2]
        assert heading.cell_type == "markdown" and heading.source == "## Findings", name
        assert shown.cell_type == "code" and shown.source.startswith(f'notebook_findings.show("{name}", '), name
        assert len(shown.source.splitlines()) == 1, name


NOTEBOOK_NAME = re.compile(r"\b\d\d_[a-z]\w*")  # "03_cnn": a reader reads "notebook 03"
IDENTIFIER = re.compile(r"`[^`]*\b[a-z]+_[a-z]\w*[^`]*`")  # `check_settings`, `probe_images=0`


def test_the_notebooks_markdown_names_no_code_identifiers():
    """Prose for a reader: parameters and module names belong in code cells (the run card's file paths aside)."""
    for name in manifest.names():
        for cell in nbformat.read(manifest.entry(name).path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            text = re.sub(r"\(#fig-[\w-]+\)", "", cell.source)  # figure anchors
            text = "\n".join(line for line in text.splitlines() if not line.startswith("| **"))  # the run card's rows
            found = NOTEBOOK_NAME.findall(text) + IDENTIFIER.findall(text)
            assert not found, (name, cell.id, found)


@pytest.fixture(scope="module")
def published_context(shared_data):
    """The paper's context of the published run, with the test images it was evaluated on (McNemar, per class)."""
    patch = pytest.MonkeyPatch()
    patch.setenv(paths.DATA_DIR_ENV, str(shared_data))
    try:
        c = context.context(PUBLISHED, config.DATASETS, studies.published())
    finally:
        patch.undo()
    assert c.has.test_images and c.has.several_seeds
    # the published run predates the locally connected twin and the literally trained protocol; it holds the rest
    assert {name for name in holding.EXPERIMENTS if not getattr(c.has, name)} <= {"local", "literal"}
    return c


def test_every_paragraph_renders_from_the_published_records_without_a_missing_value(published_context):
    for name in notebook_findings.sections():
        text, checked = notebook_findings.render(name, published_context)
        assert text != notebook_findings.NOT_YET, name
        assert not doccheck.MISSING_VALUE.search(text), (name, text)
        assert not re.search(r"\{\{|\{%|\bNone\b", text), (name, text)
        assert all(item["holds"] for item in checked), (name, [item["claim"] for item in checked if not item["holds"]])


def test_a_paragraph_and_the_paper_give_each_claim_one_verdict(shared_data, monkeypatch):
    """The paragraphs and the paper call the same predicates on the same records: a claim both check has one verdict,
    and the build's list of checked claims (the paper's, then the paragraphs') has one verdict per key."""
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(shared_data))
    paper = build.render(PUBLISHED, config.DATASETS, studies.published(), "stamp")
    in_paper = {item["claim"]: item["holds"] for item in paper.claims}
    shared = set()
    for name in notebook_findings.sections():
        _, checked = notebook_findings.render(name, paper.context)
        for item in checked:
            if item["claim"] in in_paper:
                assert item["holds"] == in_paper[item["claim"]], (name, item["claim"])
                shared.add(item["claim"])
    assert {"cnn_ahead_every_seed", "more_errors_removed_on_mnist", "rule_patience_four"} <= shared
    verdicts = defaultdict(set)
    for item in notebook_findings.attach(paper).claims:
        verdicts[item["claim"]].add(item["holds"])
    assert {key: held for key, held in verdicts.items() if len(held) > 1} == {}, "a claim read two ways"
    assert paper.failed == [] and set(verdicts) <= set(claims.BY_KEY)
