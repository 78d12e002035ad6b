"""The one-document report, built from the smoke run's executed notebooks."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from convlab import appendix, config, document, paths, publish, records, report


@pytest.fixture(scope="module")
def built(smoke_root):
    """The smoke report, with its PDF unless WeasyPrint is missing here and PDF=required is not set (CI sets it)."""
    root = smoke_root / "reports"
    written = report.build(root, config.DATASETS, pdf=document.pdf_wanted(no_pdf=False))
    return root, {path.name: path for path in written}


def require_pdf_renderer() -> None:
    problem = document.pdf_renderer_problem()
    if problem and os.environ.get(document.PDF_ENV, "").lower() != "required":
        pytest.skip(f"no PDF here: {problem} (PDF=required makes this an error)")


def page(built, name="report.html") -> str:
    return built[1][name].read_text(encoding="utf-8")


@pytest.mark.smoke
def test_every_notebook_is_a_numbered_section_in_order(built):
    root, _ = built
    html = page(built)
    anchors = re.findall(r'<h[2-4] id="([^"]+)"', html)
    assert anchors[0] == "key-results" and anchors[-1] == "appendix"
    expected = []
    for part, (_, notebooks) in enumerate(report.parts(root, config.DATASETS), start=1):
        expected.append(f"part-{part}")
        expected += [f"s{part}-{number}" for number in range(1, len(notebooks) + 1)]
    assert [anchor for anchor in anchors if anchor.startswith("part-") or re.fullmatch(r"s\d+-\d+", anchor)] == expected
    titles = re.findall(r'<h2 id="part-\d+">([^<]+)</h2>', html)
    assert titles == ["1 Fashion-MNIST", "2 MNIST", "3 Both datasets"]
    assert '<h3 id="s1-3">1.3 Convolutional network</h3>' in html


@pytest.mark.smoke
def test_contents_links_resolve(built):
    root, _ = built
    html = page(built)
    contents = html.split('<nav id="contents">', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'href="#([^"]+)"', contents)
    found = report.parts(root, config.DATASETS)
    assert len(links) == 2 + len(found) + sum(len(notebooks) for _, notebooks in found), "key results, parts, notebooks, appendix"
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert [link for link in links if link not in ids] == []
    assert len(links) == len(set(links)), "every heading has its own anchor"


@pytest.mark.smoke
def test_key_results_are_the_records(built):
    root, _ = built
    html = page(built)
    section = html.split('id="key-results"', 1)[1].split('id="part-1"', 1)[0]
    for dataset in config.DATASETS:
        runs = records.load_records(root / dataset / "results", "cnn")
        accuracy = 100 * np.array([run["test"]["accuracy"] for run in runs])
        loss = np.mean([run["test"]["loss"] for run in runs])
        spread = f" ± {accuracy.std(ddof=1):.2f}" if len(runs) > 1 else ""  # the smoke sweep trains the CNN with 2 seeds
        assert f"<td>{accuracy.mean():.2f}{spread}</td>" in section
        assert f"<td>{loss:.4f}</td>" in section
        assert f"<td>{runs[0]['model']['parameters']:,}</td>" in section
        published = report.studies()[dataset]["models"]["cnn"]["test_accuracy"]
        assert f"{accuracy.mean() - published:+.2f}" in section
    assert "Explorando Capas Convolucionales en Fashion-MNIST" in section and "Albarracín" in section


@pytest.mark.smoke
def test_the_html_needs_no_network(built):
    for name in ("report.html", "report-with-code.html"):
        html = page(built, name)
        assert "<script" not in html
        assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html), name
        assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", html), name
        assert html.count("data:image/png;base64,") >= 20, "figures are embedded"


@pytest.mark.smoke
def test_code_is_hidden_from_graders_only(built):
    assert 'class="input_area' not in page(built)
    with_code = page(built, "report-with-code.html")
    assert with_code.count('class="input_area') > 100 and '<span class="n">setup</span>' in with_code


@pytest.mark.smoke
def test_title_block_and_appendix(built):
    html = page(built)
    title = html.split("</header>", 1)[0]
    assert report.TITLE in title and "Commit" in title and "Fashion-MNIST, MNIST" in title
    assert "2,000 training and 500 test images" in title and "seeds 0" in title
    assert re.search(r"batch \d+ \(FC\) and \d+ \(CNN\)", title), "each model family's batch"
    appendix_html = html.split('id="appendix"', 1)[1]
    for expected in ("Python", "CPU", "oneDNN kernels", "package tensorflow-cpu", "sha256 of the decompressed payload"):
        assert expected in appendix_html, expected
    assert re.search(
        r"Claims checked\.</strong> .* (\d+) of the \1 claims hold|Claims checked\.</strong> .* \d+ of the \d+ claims hold",
        appendix_html,
    )
    assert (
        "<th>rule</th>" in appendix_html and "the Welch interval of average − max pooling accuracy lies below 0" in appendix_html
    )


@pytest.mark.smoke
def test_pdf_has_pages(built):
    require_pdf_renderer()
    assert built[1]["report.pdf"].read_bytes().startswith(b"%PDF-")
    about = records.read_json(built[1]["report.json"])
    assert about["pdf_pages"] >= 20 and about["datasets"] == list(config.DATASETS) and about["git"]["commit"]
    assert about["pdf_pages_past_margin"] == [], "a table or figure reaches past the printed page's right margin"


def test_content_past_the_right_margin_is_found():
    require_pdf_renderer()
    import weasyprint

    style = (paths.PACKAGE_DIR / "report.css").read_text(encoding="utf-8")
    row = "<tr>" + "".join(f"<td>{123456.789 + column:.3f}</td>" for column in range(20)) + "</tr>"
    narrow = "<p>text</p><table><tr><td>1</td><td>2</td></tr></table>"
    for body, expected in ((narrow, []), (f"<p>text</p><div style='break-before: page'></div><table>{row}</table>", [2])):
        page = f"<html><head><style>{style}</style></head><body>{body}</body></html>"
        assert document.pages_past_margin(weasyprint.HTML(string=page).render()) == expected


@pytest.mark.smoke
def test_a_subset_run_is_not_published(built, tmp_path):
    root, _ = built
    with pytest.raises(publish.NotPublishable, match="subset"):
        publish.publish(root, config.DATASETS, tmp_path / "published")
    assert not (tmp_path / "published").exists()


def test_the_run_s_own_outputs_do_not_mark_the_source_modified(tmp_path, monkeypatch):
    def git(*arguments):
        import subprocess

        subprocess.run(["git", "-C", str(tmp_path), *arguments], check=True, capture_output=True)

    for name in ("convlab/models.py", "images/mnist/figure.png", "reports/README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("first\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(paths, "PROJECT_DIR", tmp_path)
    assert report.git_state()["dirty"] is False
    (tmp_path / "images/mnist/figure.png").write_text("redrawn\n")
    (tmp_path / "reports/report.html").write_text("built\n")
    assert report.git_state()["dirty"] is False
    (tmp_path / "convlab/models.py").write_text("edited\n")
    assert report.git_state()["dirty"] is True


def test_a_missing_pdf_renderer_gives_html_only_with_the_reason_unless_the_pdf_is_required(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as where WeasyPrint is not installed
    assert document.pdf_wanted(no_pdf=False, mode="auto") is False
    said = capsys.readouterr().out
    assert "No PDF: WeasyPrint is not installed" in said and "pip install -e .[pdf]" in said and "libpango" in said
    with pytest.raises(document.PdfUnavailable, match="PDF=required, but WeasyPrint is not installed"):
        document.pdf_wanted(no_pdf=False, mode="required")
    assert document.pdf_wanted(no_pdf=False, mode="off") is False and document.pdf_wanted(no_pdf=True, mode="required") is False
    with pytest.raises(config.ParameterError, match="PDF='always' is not understood"):
        document.pdf_wanted(no_pdf=False, mode="always")


def test_the_pdf_is_printed_where_the_renderer_is_present():
    require_pdf_renderer()
    assert document.pdf_renderer_problem() == ""
    assert document.pdf_wanted(no_pdf=False, mode="required") is True


@pytest.mark.smoke
def test_the_appendix_names_the_machines_that_trained_the_runs(built):
    root, _ = built
    machines = appendix.training_machines(root, config.DATASETS)
    here = records.machine_of(records.environment_stamp())
    assert list(machines.index) == [here], "the smoke run trained everything on this machine"
    for dataset in config.DATASETS:
        stored = sum(is_training_record(path) for path in (root / dataset / "results").rglob("*-seed*.json"))
        assert machines.loc[here, config.DATASET_TITLES[dataset]] == stored
    assert "The machines that trained the runs this report reads" in page(built) and html_text(here) in page(built)


def is_training_record(path) -> bool:
    try:
        return bool(records.read_record(path))
    except records.MissingResultError:
        return False


def html_text(text: str) -> str:
    import html

    return html.escape(text)
