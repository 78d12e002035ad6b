"""The one-document report, built from the smoke run's executed notebooks."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from convlab.analysis import stats
from convlab.report import appendix, doccheck, document, publish, report
from convlab.store import records, runlog
from convlab.study import config, manifest, paths


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


def page(built, name="supplement.html") -> str:
    return built[1][name].read_text(encoding="utf-8")


@pytest.mark.smoke
def test_findings_first_then_one_chapter_per_notebook_then_methods_and_appendix(built):
    root, _ = built
    html = page(built)
    anchors = re.findall(r'<h2 id="([^"]+)"', html)  # the contents' own heading has no id
    plan = report.chapter_plan(root, config.DATASETS)
    chapters = [item["anchor"] for item in plan if item["number"].isdigit()]
    appendices = [item["anchor"] for item in plan if not item["number"].isdigit()]
    assert anchors == ["findings", *chapters, "methods", "appendix", *appendices]
    in_run_order = (*manifest.per_dataset(), *manifest.across_datasets())
    assert [item["notebook"] for item in plan if item["number"].isdigit()] == [
        name for name in in_run_order if manifest.entry(name).report_part == manifest.CHAPTER
    ], "the smoke run executes every notebook"
    assert '<h2 id="chapter-3">3 Convolutional network</h2>' in html
    assert html.count("Each row is one class.") == 1, "01's prose is printed once, not once per dataset"
    assert html.count('<p class="dataset-label">MNIST</p>') > 10


@pytest.mark.smoke
def test_contents_links_resolve(built):
    html = page(built)
    contents = html.split('<nav id="contents">', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'href="#([^"]+)"', contents)
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert len(links) > 40 and [link for link in links if link not in ids] == []
    assert len(links) == len(set(links)), "every heading has its own anchor"


@pytest.mark.smoke
def test_the_findings_are_the_paper_s_family_with_one_verdict_each(built):
    """The supplement's findings table is the paper's, and its CNN − FC row is Welch's interval of the records."""
    from convlab.paper import build as paper_build
    from convlab.paper import context as paper_context
    from convlab.paper import family

    root, _ = built
    section = page(built).split('id="findings"', 1)[1].split('id="chapter-1"', 1)[0]
    context = paper_context.context(root, config.DATASETS, report.studies())
    table = paper_build.Renderer(context, {}).findings_table()
    assert table in section, "the supplement prints the paper's family, from the paper's build"
    assert table not in page(built, "report.html"), "the paper draws the family (the forest plot), the table is the supplement's"
    for dataset in config.DATASETS:
        groups = records.load_all_records(root / dataset / "results")
        cnn, fc = records.accuracies(groups["cnn"]), records.accuracies(groups["fc_baseline"])
        result = context.results[(dataset, "cnn_vs_fc")]
        assert result.difference == pytest.approx(cnn.mean() - fc.mean())
        if min(len(cnn), len(fc)) > 1:
            assert (result.low, result.high) == pytest.approx(stats.welch_difference_interval(cnn, fc))
    assert family.COMPARISONS[0].label in section


@pytest.mark.smoke
def test_key_results_are_the_records(built):
    """The smoke run's reference runs last one epoch, so no run follows the studies' 15 epochs: every row is an
    early-stopped run, and no difference from the published figure is computed (it would not be like for like)."""
    root, _ = built
    html = page(built)
    section = html.split('id="key-results"', 1)[1].split('id="appendix"', 1)[0]
    for dataset in config.DATASETS:
        runs = records.load_records(root / dataset / "results", "cnn")
        accuracy = 100 * np.array([run["test"]["accuracy"] for run in runs])
        loss = np.mean([run["test"]["loss"] for run in runs])
        spread = f" ± {accuracy.std(ddof=1):.2f}" if len(runs) > 1 else ""  # the smoke sweep trains the CNN with 2 seeds
        assert f"<td>{accuracy.mean():.2f}{spread}</td>" in section
        assert f"<td>{loss:.4f}</td>" in section
        assert f"<td>{runs[0]['model']['parameters']:,}</td>" in section
        assert f"<td>early stopping, patience {runs[0]['parameters']['patience']}</td>" in section
    assert "15 epochs, the studies' protocol" not in section
    assert "Explorando Capas Convolucionales en Fashion-MNIST" in section and "Albarracín" in section


@pytest.mark.smoke
def test_key_results_compare_the_studies_protocol_like_for_like(smoke_root, monkeypatch):
    """With reference runs of 15 epochs or more, FC and CNN are read at epoch 15 and compared with the study."""
    from convlab.experiments import protocol

    results = smoke_root / "reports" / "fashion_mnist" / "results"
    data = records.load_records(results, "cnn")[0]["dataset"]

    def run(seed: int, accuracy: float) -> dict:
        history = {"test_accuracy": [0.5] * 14 + [accuracy, 0.99], "test_loss": [1.0] * 14 + [0.3, 0.1]}
        return {"seed": seed, "history": history, "dataset": data, "parameters": {"learning_rate": 1e-3, "batch_size": 32}}

    fake = {"FC": [run(0, 0.878), run(1, 0.882)], "CNN": [run(0, 0.905), run(1, 0.909)]}
    monkeypatch.setattr(protocol, "stored_reference_runs", lambda _: fake)
    table = report.key_results_table(results, "fashion_mnist")
    fc, cnn = table.iloc[0], table.iloc[1]
    assert fc["protocol"] == cnn["protocol"] == "15 epochs, the studies' protocol"
    assert fc["test accuracy (%)"] == f"88.00 ± {np.std([87.8, 88.2], ddof=1):.2f}" and fc["test loss"] == "0.3000"
    assert fc["difference (points)"] == "+0.00" and cnn["difference (points)"] == f"{90.7 - 90.78:+.2f}"
    others = table.iloc[2:]
    assert (others["difference (points)"] == "—").all() and others["protocol"].str.startswith("early stopping").all()


@pytest.mark.smoke
def test_the_built_document_passes_its_check(built):
    """No script or network reference, no machine path or template leak, every figure numbered with caption and alt text."""
    root, _ = built
    assert doccheck.check(root, full=False) == []
    assert page(built).count("data:image/png;base64,") >= 20, "figures are embedded"


@pytest.mark.smoke
def test_code_is_folded_in_the_one_page_and_left_out_of_the_print(built):
    html = page(built)
    assert html.count('<details class="code"><summary>Code</summary>') > 50 and "notebook.setup(" in html
    assert "details.code { display: none; }" in html.split("@media print", 1)[1], "the PDF leaves the code out"
    assert not (built[0] / "report-with-code.html").exists()


@pytest.mark.smoke
def test_title_block_and_appendix(built):
    html = page(built)
    title = html.split("</header>", 1)[0]
    assert report.TITLE in title and "Commit" in title and "Fashion-MNIST, MNIST" in title
    assert "2,000 training and 500 test images" in title and "seeds 0" in title
    assert re.search(r"batch \d+ \(FC\) and \d+ \(CNN\)", title), "each model family's batch"
    appendix_html = html.split('id="appendix"', 1)[1]
    for expected in ("Python", "CPU", "oneDNN kernels", "sha256 of the decompressed payload"):
        assert expected in appendix_html, expected
    # the locked environment's TensorFlow is `tensorflow-cpu`; Studio's image (and its test environment) names it `tensorflow`
    assert re.search(r"tensorflow(-cpu)? 2\.", appendix_html), "the TensorFlow that trained the runs, with its version"
    claims = html.split('id="paper-claims"', 1)[1].split("</table>", 1)[0]
    assert '<table class="paper-claims">' in claims and "<th>predicate, in words</th>" in claims
    assert re.search(r"<tr><td>[\w-]+</td><td>[^<]+</td><td>(yes|no)</td></tr>", claims), "each claim with its verdict"


@pytest.mark.smoke
def test_pdf_has_pages(built):
    require_pdf_renderer()
    assert built[1]["report.pdf"].read_bytes().startswith(b"%PDF-")
    about = records.read_json(built[1]["report.json"])
    assert 5 <= about["pdf_pages"] <= 20 and about["datasets"] == list(config.DATASETS) and about["git"]["commit"]
    assert about["paper"]["figures"] <= 12
    assert about["pdf_pages_past_margin"] == [], "a table or figure reaches past the printed page's right or bottom margin"


def test_content_past_the_right_margin_is_found():
    require_pdf_renderer()
    import weasyprint

    style = (paths.PACKAGE_DIR / "report" / "report.css").read_text(encoding="utf-8")
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


def test_only_parameters_that_change_results_keep_a_run_from_being_published(tmp_path, monkeypatch):
    """Where the data files were read from is no parameter of the results (their checksums are verified);
    a changed epoch cap is."""
    monkeypatch.setattr(records, "load_all_records", lambda folder: {})  # the run logs alone are under test
    for dataset in config.DATASETS:
        timing = {"seconds": 1.0, "training_seconds": 0.0, "trained": 0, "executed": True}
        chosen = {"dataset": dataset, "data_dir": "/elsewhere/data", "train_size": 0, "test_size": 0}
        chosen |= {"epochs": 2} if dataset == "mnist" else {}
        runlog.record(tmp_path / dataset, chosen, {name: timing for name in manifest.per_dataset()})
    with pytest.raises(publish.NotPublishable) as refused:
        publish.check_publishable(tmp_path, config.DATASETS)
    assert "{'epochs': 2}" in str(refused.value) and "data_dir" not in str(refused.value)


def test_the_run_s_own_outputs_do_not_mark_the_source_modified(tmp_path, monkeypatch):
    def git(*arguments):
        import subprocess

        subprocess.run(["git", "-C", str(tmp_path), *arguments], check=True, capture_output=True)

    for name in ("convlab/training/models.py", "images/mnist/figure.png", "reports/README.md"):
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
    (tmp_path / "convlab/training/models.py").write_text("edited\n")
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
