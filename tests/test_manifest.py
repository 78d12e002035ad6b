"""The study's manifest: one declaration that the pipeline, the report and the tests read."""

from __future__ import annotations

import dataclasses
import json

import nbformat
import papermill
import pytest

from convlab.report import report
from convlab.run import pipeline
from convlab.study import manifest, paths

WRITER = [  # a throwaway study: writes one result file whose content is its parameter
    'dataset: str = ""\noutput_dir: str = ""\nvalue: int = 1',
    "import json, pathlib\nresults = pathlib.Path(output_dir) / 'results'\nresults.mkdir(exist_ok=True)\n"
    "(results / 'counts-seed0.json').write_text(json.dumps({'value': value}))",
]
READER = [  # prints what it finds of the writer's results
    'dataset: str = ""\noutput_dir: str = ""',
    "import json, pathlib\nfound = sorted(pathlib.Path(output_dir, 'results').glob('counts-*.json'))\n"
    "print([json.loads(path.read_text())['value'] for path in found])",
]
THROWAWAY = (
    manifest.Notebook("05b_reader", ("dataset", "output_dir"), reads=("11_counts",)),  # declared (and named) before it
    manifest.Notebook("11_counts", ("dataset", "output_dir", "value"), writes=("results/counts-*.json",)),
)


def write_notebook(folder, name: str, cells: list[str]) -> None:
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}")])
    source.cells += [nbformat.v4.new_code_cell(cell) for cell in cells]
    source.cells[1].metadata["tags"] = ["parameters"]
    source.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(source, folder / f"{name}.ipynb")


def printed(executed) -> str:
    cell = [cell for cell in nbformat.read(executed, as_version=4).cells if cell.cell_type == "code"][-1]
    return "".join(output.get("text", "") for output in cell.outputs).strip()


@pytest.fixture
def throwaway_study(tmp_path, monkeypatch):
    """The study with two throwaway notebooks added through the manifest alone."""
    sources = tmp_path / "notebooks"
    sources.mkdir()
    write_notebook(sources, "05b_reader", READER)
    write_notebook(sources, "11_counts", WRITER)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", sources)
    monkeypatch.setattr(manifest, "STUDY", manifest.STUDY + THROWAWAY)
    return tmp_path / "reports"


def executed_in(root, dataset="mnist") -> dict[str, bool]:
    return {
        name: run["executed"]
        for name, run in json.loads((root / dataset / "pipeline.json").read_text())["last"]["notebooks"].items()
    }


def test_a_reader_runs_after_a_notebook_declared_later_and_sees_its_results(throwaway_study):
    """The freshness hazard: with the order taken from the names and every notebook stamped with the results
    as they stood when the run ended, a reader that ran before a new writer was marked up to date for good."""
    root = throwaway_study
    pipeline.run(["mnist"], ["05b_reader"], {}, root, progress=False)
    assert printed(root / "mnist" / "05b_reader.ipynb") == "[]"
    pipeline.run(["mnist"], ["05b_reader", "11_counts"], {}, root, progress=False)
    assert printed(root / "mnist" / "05b_reader.ipynb") == "[1]", "the reader ran after the notebook it reads"
    pipeline.run(["mnist"], ["05b_reader", "11_counts"], {}, root, progress=False)
    assert executed_in(root) == {"11_counts": False, "05b_reader": False}, "nothing changed: nothing runs"


def test_a_new_notebook_joins_the_run_the_report_and_makes_its_readers_stale(throwaway_study):
    root = throwaway_study
    assert manifest.in_order(["05b_reader", "11_counts", "01_eda"]) == ("01_eda", "11_counts", "05b_reader")
    pipeline.run(["mnist"], ["11_counts", "05b_reader"], {"value": 1}, root, progress=False)
    assert printed(root / "mnist" / "05b_reader.ipynb") == "[1]", "the writer ran first"
    pipeline.run(["mnist"], ["11_counts", "05b_reader"], {"value": 2}, root, progress=False)
    assert executed_in(root) == {"11_counts": True, "05b_reader": True}, "a changed input makes its reader stale"
    assert printed(root / "mnist" / "05b_reader.ipynb") == "[2]"
    (root / "mnist" / "results" / "counts-seed0.json").write_text('{"value": 3}')  # its results changed by hand
    pipeline.run(["mnist"], ["11_counts", "05b_reader"], {"value": 2}, root, progress=False)
    assert executed_in(root) == {"11_counts": True, "05b_reader": False}, "it runs again and restores what its reader read"
    assert json.loads((root / "mnist" / "results" / "counts-seed0.json").read_text()) == {"value": 2}
    plan = report.chapter_plan(root, ["mnist"])
    assert [(item["notebook"], item["number"], list(item["copies"])) for item in plan] == [
        ("11_counts", "1", ["mnist"]),
        ("05b_reader", "2", ["mnist"]),
    ], "each executed notebook is a chapter, in the manifest's order"


def test_every_notebook_is_declared_with_the_parameters_its_cell_declares():
    on_disk = sorted(path.stem for path in paths.NOTEBOOKS_DIR.glob("*.ipynb"))
    assert sorted(manifest.names()) == on_disk
    for name in manifest.names():
        entry = manifest.entry(name)
        assert set(papermill.inspect_notebook(str(entry.path))) == set(entry.parameters), name
        assert not entry.seeds or entry.seeds in entry.parameters, name


def test_the_order_follows_the_declared_inputs():
    order = manifest.names()
    for name in order:
        for source in manifest.entry(name).reads:
            assert order.index(source) < order.index(name), f"{name} runs before {source}, which it reads"
    assert order[-1] == "10_dataset_comparison" and manifest.across_datasets() == ("10_dataset_comparison",)
    assert set(manifest.readers_of("04_kernel_size_sweep")) == {"09_efficiency", "10_dataset_comparison"}


BROKEN = [
    ("an unknown input", [manifest.Notebook("a", (), reads=("nowhere",))], "reads 'nowhere', which the study does not"),
    (
        "a cycle",
        [manifest.Notebook("a", (), reads=("b",)), manifest.Notebook("b", (), reads=("a",))],
        "read each other in a cycle",
    ),
    (
        "a comparison read per dataset",
        [manifest.Notebook("a", (), scope=manifest.ACROSS_DATASETS), manifest.Notebook("b", (), reads=("a",))],
        "runs per dataset and cannot read a",
    ),
    ("two entries of one name", [manifest.Notebook("a", ()), manifest.Notebook("a", ())], "share a name"),
    ("an unknown scope", [manifest.Notebook("a", (), scope="weekly")], "scope 'weekly'"),
]


@pytest.mark.parametrize("case, study, message", BROKEN, ids=[row[0] for row in BROKEN])
def test_an_inconsistent_manifest_is_refused_with_the_fix(case, study, message):
    with pytest.raises(manifest.ManifestError, match=message):
        manifest.entries(study)


def test_each_result_file_has_one_declared_writer(monkeypatch):
    assert manifest.writer_of("results/cnn-seed0.json") == "03_cnn"
    assert manifest.writer_of("results/cnn_k5-seed1.json") == "04_kernel_size_sweep"
    assert manifest.writer_of("results/cnn_shift4-seed0.json") == "07_translation"
    assert manifest.writer_of("results/fc_baseline_perm0-seed2.json") == "08_pixel_permutation"
    assert manifest.writer_of("results/probes/latency_cnn-seed0.json") == "09_efficiency"
    assert manifest.writer_of("results/probes/latency_cnn_shift4-seed0.json") == "09_efficiency", "a * stays in its folder"
    assert manifest.writer_of("results/elsewhere.json") is None
    overlapping = dataclasses.replace(manifest.entry("03_cnn"), name="03b", writes=("results/cnn*.json",))
    monkeypatch.setattr(manifest, "STUDY", manifest.STUDY + (overlapping,))
    with pytest.raises(manifest.ManifestError, match="matches the outputs of 03_cnn and 03b"):
        manifest.writer_of("results/cnn-seed0.json")


def test_an_unknown_notebook_names_the_declared_ones():
    with pytest.raises(paths.ParameterError, match="Unknown notebook '12_x': choose from 01_eda, 02_fc_baseline"):
        manifest.in_order(["12_x"])


def test_every_caption_is_named_by_a_notebook_and_every_named_figure_has_one():
    from convlab.figures import captions

    named = {figure for entry in manifest.STUDY for figure in entry.figures}
    assert named == set(captions.CAPTIONS)


def test_each_comparison_of_the_findings_is_declared_by_the_notebook_whose_results_it_compares():
    from convlab.paper import family

    declared = [key for entry in manifest.STUDY for key in entry.comparisons]
    assert sorted(declared) == sorted(comparison.key for comparison in family.COMPARISONS), "each declared once"
    for comparison in family.COMPARISONS:
        (owner,) = [entry.name for entry in manifest.STUDY if comparison.key in entry.comparisons]
        probe = "results/probes/translation_x.json"  # a comparison at a shift reads the translation probes
        source = f"results/{comparison.changed}-seed0.json" if comparison.metric == "test" else probe
        assert owner == manifest.writer_of(source), comparison.key
