"""The document's chapters: prose once, both datasets' outputs side by side, figures numbered and captioned."""

from __future__ import annotations

import base64

import nbformat
import pytest

from convlab.figures import captions, probe_plots
from convlab.report import layout

PNG = base64.b64encode(b"\x89PNG fake bytes").decode()
TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}


def figure_output(name: str, png: str = PNG):
    about = captions.caption_for(name)
    metadata = {
        "image/png": {"alt": about.alt},
        captions.FIGURE_METADATA: {"name": name, "caption": about.caption, "alt": about.alt},
    }
    return nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Image>"}, metadata=metadata)


def executed(tmp_path, dataset: str, table: str, text: str, extra_figure: bool = False):
    """An executed notebook as the pipeline writes it: parameters, a logging cell, a table, text and figures."""
    cells = [
        nbformat.v4.new_markdown_cell("# 03 · Convolutional network\n\nProse that both copies share."),
        nbformat.v4.new_code_cell('dataset = "fashion_mnist"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f'dataset = "{dataset}"', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_markdown_cell("## Training\n\nThe curves ([figure](#fig-training_curves)) and [this](#fig-nonesuch)."),
        nbformat.v4.new_code_cell(
            "runs = train()",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="Reusing cnn (seed 0): stored in /work/x\n")],
        ),
        nbformat.v4.new_code_cell(
            "table",
            outputs=[
                nbformat.v4.new_output("execute_result", data={"text/html": f"<table><tr><td>{table}</td></tr></table>"}),
                nbformat.v4.new_output("display_data", data={"text/markdown": text}),
            ],
        ),
        nbformat.v4.new_code_cell(
            "plots.save(...)",
            outputs=[figure_output("training_curves")] + ([figure_output("comparison")] if extra_figure else []),
        ),
        nbformat.v4.new_code_cell(
            "profile_table()", outputs=[nbformat.v4.new_output("execute_result", data={"text/html": "<p>same</p>"})]
        ),
    ]
    path = tmp_path / f"{dataset}.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def chapter(tmp_path, *, with_code: bool = False, extra_figure: bool = False):
    copies = {
        "fashion_mnist": executed(tmp_path, "fashion_mnist", "91.2", "The CNN is **ahead**."),
        "mnist": executed(tmp_path, "mnist", "99.1", "Also ahead.", extra_figure=extra_figure),
    }
    contents, numbered = layout.Contents(), layout.Figures()
    return layout.chapter_html(copies, TITLES, "3", contents, numbered, with_code=with_code), contents, numbered


def test_prose_once_outputs_of_both_datasets_and_one_numbered_figure_with_a_panel_each(tmp_path):
    page, contents, numbered = chapter(tmp_path)
    assert page.count("Prose that both copies share") == 1
    assert [entry[:2] for entry in contents.entries] == [(2, "chapter-3"), (3, "section-3-1")]
    assert '<h2 id="chapter-3">3 Convolutional network</h2>' in page and '<h3 id="section-3-1">3.1 Training</h3>' in page
    assert page.index("91.2") < page.index("99.1") and "<strong>ahead</strong>" in page
    assert page.index('<p class="dataset-label">Fashion-MNIST</p>') < page.index('<p class="dataset-label">MNIST</p>')
    assert page.count("<p>same</p>") == 1, "an output that is the same for both datasets is shown once"
    assert page.count("<figure") == 1 and 'class="panels-2"' in page and numbered.entries[0][0] == 1
    assert "(a) Fashion-MNIST" in page and "(b) MNIST" in page
    assert f"<strong>Figure 1.</strong> {captions.caption_for('training_curves').caption}" in page.replace("&#x27;", "'")
    assert 'alt="Two line charts' in page
    assert 'The curves (<a href="#figure-1">Figure 1</a>)' in page, "a reference by name becomes the figure's number"
    assert '<a href="#fig-nonesuch">this</a>' in page, "one to no figure of the chapter stays, for the check to find"


def test_the_reader_gets_no_code_parameters_or_log_lines_and_the_code_version_folds_the_code(tmp_path):
    reader, _, _ = chapter(tmp_path)
    assert "Reusing" not in reader and "/work/x" not in reader and "dataset =" not in reader and "<details" not in reader
    coded, _, _ = chapter(tmp_path, with_code=True)
    assert '<details class="code"><summary>Code</summary><pre><code>runs = train()</code></pre></details>' in coded
    assert "dataset = &quot;fashion_mnist&quot;" in coded and "dataset = &quot;mnist&quot;" not in coded, (
        "injected values left out"
    )
    assert "Reusing" not in coded


def test_figures_that_do_not_pair_are_numbered_one_by_one(tmp_path):
    page, _, numbered = chapter(tmp_path, extra_figure=True)
    assert [entry[0] for entry in numbered.entries] == [1, 2, 3]
    assert page.count('class="panels-1"') == 3 and "(a)" not in page


def test_every_saved_figure_name_has_a_caption_and_an_unknown_one_is_refused():
    assert captions.caption_for("gallery_both_wrong") == captions.CAPTIONS["gallery"]
    assert all(entry.caption.endswith(".") and entry.alt for entry in captions.CAPTIONS.values())
    with pytest.raises(KeyError, match="No caption for the figure 'nonesuch'.*CAPTIONS"):
        captions.caption_for("nonesuch")


def test_tables_show_their_index_as_a_column_and_no_more_digits_than_four():
    import numpy as np
    import pandas as pd

    from convlab.run import notebook

    frame = pd.DataFrame(
        {"accuracy (%)": [91.23456, np.nan], "MACs": [2_310_368.0, 0.000123]}, index=pd.Index(["CNN", "FC"], name="model")
    )
    page = notebook.reader_table_html(frame)
    assert "<th>model</th>" in page and "<td>CNN</td>" in page and page.count("<tr") == 3, "no index row under the header"
    assert "<td>91.23</td>" in page and "<td>—</td>" in page and "<td>2,310,368</td>" in page and "<td>0.000123</td>" in page
    plain = notebook.reader_table_html(pd.DataFrame({"a": [1, 2]}))
    assert "<th>a</th>" in plain and "<th></th>" not in plain, "a plain row index is left out"
    assert [notebook.reader_number(v) for v in (3.0, 38.18049, 1234.5, float("nan"))] == ["3", "38.18", "1,234", "—"]


def test_the_run_card_and_how_to_run_are_left_out_and_the_lead_kept(tmp_path):
    opening = (
        "# 03 · Convolutional network\n\nThe lead.\n\n| | |\n|---|---|\n| **Runtime** | 5 min; 9 s when stored |\n"
        "| **Outputs** | `results/` |\n\nRun it from `make report`, or open it in Jupyter."
    )
    assert layout.without_run_card(opening) == "# 03 · Convolutional network\n\nThe lead."
    path = tmp_path / "fashion_mnist.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(opening)]), path)
    html = layout.chapter_html({"fashion_mnist": path}, TITLES, "3", layout.Contents(), layout.Figures(), with_code=True)
    assert "The lead." in html and "Runtime" not in html and "when stored" not in html and "Jupyter" not in html


@pytest.mark.parametrize("with_code", [False, True])
def test_a_bare_heading_over_cells_that_show_nothing_is_left_out_and_the_numbers_close_up(tmp_path, with_code):
    log = nbformat.v4.new_output("stream", name="stdout", text="Fashion-MNIST: 60,000 training images\n")
    table = nbformat.v4.new_output("execute_result", data={"text/html": "<table><tr><td>320</td></tr></table>"})
    cells = [
        nbformat.v4.new_markdown_cell("# 03 · Convolutional network\n\nThe lead."),
        nbformat.v4.new_markdown_cell("## Setup"),
        nbformat.v4.new_code_cell("ds = notebook.setup()", outputs=[log]),
        nbformat.v4.new_markdown_cell("## Model"),
        nbformat.v4.new_code_cell("layer_table()", outputs=[table]),
    ]
    path = tmp_path / "fashion_mnist.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    contents = layout.Contents()
    html = layout.chapter_html({"fashion_mnist": path}, TITLES, "3", contents, layout.Figures(), with_code=with_code)
    assert "Setup" not in html and "3.1 Model" in html and "<td>320</td>" in html
    assert [text for _, _, text in contents.entries] == ["3 Convolutional network", "3.1 Model"]
    assert ("ds = notebook.setup()" in html) == with_code  # the code stays, folded, in the section before


def png_header(width: int, height: int) -> str:
    """The first bytes of a PNG of this size (signature and IHDR), base64: all `layout.png_aspect` reads."""
    header = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x06\x00\x00\x00"
    )
    return base64.b64encode(header + bytes(40)).decode()


def test_wide_panels_stand_one_above_the_other_and_others_side_by_side():
    assert layout.png_aspect(png_header(1400, 387)) == pytest.approx(1400 / 387)
    assert layout.png_aspect(base64.b64decode(png_header(300, 600))) == 0.5

    def figure(width: int, height: int) -> dict:
        return {"png": png_header(width, height), "caption": "A caption.", "alt": "A chart.", "name": "chart"}

    wide = layout.figure_html([("Fashion-MNIST", figure(1400, 387)), ("MNIST", figure(1400, 387))], layout.Figures())
    square = layout.figure_html([("Fashion-MNIST", figure(800, 600)), ("MNIST", figure(1400, 387))], layout.Figures())
    assert 'class="panels-2 stacked"' in wide and 'class="panels-2"' in square


def test_a_figure_whose_caption_asks_for_the_full_width_stacks_its_panels_whatever_its_shape():
    from dataclasses import asdict

    from convlab.figures import captions

    def output(name: str) -> dict:  # as `plots.save` displays a figure of that name, 11 by 7.5 inches
        about = {"name": name} | asdict(captions.caption_for(name))
        return {"data": {"image/png": png_header(1210, 825)}, "metadata": {captions.FIGURE_METADATA: about}}

    frontier, bars = layout.figure_of(output("efficiency_frontier")), layout.figure_of(output("class_balance"))
    assert frontier["full_width"] and not bars["full_width"]
    assert 'class="panels-2 stacked"' in layout.figure_html([("a", frontier), ("b", frontier)], layout.Figures())
    assert 'class="panels-2"' in layout.figure_html([("a", bars), ("b", bars)], layout.Figures())


def test_the_efficiency_figure_numbers_its_points_and_the_key_names_them_in_order():
    import pandas as pd

    from convlab.analysis import tables

    labels = ["FC 784→128→10", "CNN 3×3/3×3", "CNN GAP head"]
    table = pd.DataFrame(
        {
            tables.PARAMETERS: [101_770, 121_930, 20_000],
            tables.MACS: [101_632, 2_528_000, 2_400_000],
            tables.TRAIN_TIME: [60.0, 185.0, 300.0],
            tables.LATENCY_P50: [0.2, 0.9, 0.8],
            tables.ACCURACY_MEAN: [97.4, 98.9, 97.8],
            tables.ACCURACY_STD: [0.2, 0.1, 0.1],
        },
        index=labels,
    )
    figure = probe_plots.efficiency_frontier(table)
    numbers = {text.get_text() for axis in figure.axes for text in axis.texts}
    assert numbers == {"1", "2", "3"}, "each point carries its number, not its label"
    assert probe_plots.frontier_key(table) == "Points in the figure: **1** FC 784→128→10; **2** CNN 3×3/3×3; **3** CNN GAP head."
