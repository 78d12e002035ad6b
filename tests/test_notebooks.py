"""Every notebook, executed through papermill on a small subset with 1 epoch (the plan is in tests/smoke.py)."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import time
from pathlib import Path

import nbformat
import pytest
from smoke import ON_ONE_DATASET, SMOKE, SMOKE_NOTEBOOKS, parameter_arguments

from convlab.report import layout
from convlab.run import pipeline
from convlab.store import records, runlog
from convlab.study import config, manifest, paths, profiles

# After one epoch on 1,800 images: the GAP head (64 averaged features) and the shift-augmented models learn slower.
MIN_ACCURACY = {"cnn_gap": 0.15, "cnn_shift4": 0.35, "fc_baseline_shift4": 0.35}
EXPECTED_PARAMETERS = {  # model name → parameters, for every seed the smoke run trains
    "fashion_mnist": {
        "fc_baseline": 109_386,
        "cnn": 220_234,
        "cnn_k5": 220_746,
        "cnn_k5-5": 253_514,
        "cnn_gap": 23_626,
        "cnn_shift4": 220_234,
        "fc_baseline_shift4": 109_386,
    },
    "mnist": {
        "fc_baseline": 101_770,
        "cnn": 121_930,
        "cnn_k5": 122_442,
        "cnn_k5-5": 118_346,
        "cnn_perm0": 121_930,
        "fc_baseline_perm0": 101_770,
    },
}


def error_outputs(notebook_path: Path) -> list[str]:
    notebook = nbformat.read(notebook_path, as_version=4)
    return [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def findings_shown(notebook_path: Path) -> list[str]:
    """The notebooks whose findings paragraph an executed notebook shows (the output's metadata names it)."""
    from convlab.paper import notebook_findings

    return [
        output["metadata"]["text/markdown"][notebook_findings.METADATA]
        for cell in nbformat.read(notebook_path, as_version=4).cells
        for output in cell.get("outputs", [])
        if notebook_findings.METADATA in output.get("metadata", {}).get("text/markdown", {})
    ]


def shown_html(notebook_path: Path) -> str:
    """Every table an executed notebook shows, as HTML."""
    cells = nbformat.read(notebook_path, as_version=4).cells
    return "".join(output.get("data", {}).get("text/html", "") for cell in cells for output in cell.get("outputs", []))


@pytest.fixture(params=config.DATASETS)
def smoke_dataset(request, smoke_root):
    html = [smoke_root / "reports" / request.param / f"{notebook}.html" for notebook in SMOKE_NOTEBOOKS[request.param]]
    return request.param, smoke_root, html


@pytest.mark.smoke
def test_notebooks_execute_without_errors(smoke_dataset):
    dataset, root, html = smoke_dataset
    for notebook in SMOKE_NOTEBOOKS[dataset]:
        executed = root / "reports" / dataset / f"{notebook}.ipynb"
        assert executed.is_file()
        assert error_outputs(executed) == []
        papermill_parameters = nbformat.read(executed, as_version=4).metadata["papermill"]["parameters"]
        assert papermill_parameters["dataset"] == dataset and papermill_parameters["train_size"] == "2000"
        assert findings_shown(executed) == [notebook], "the notebook shows its findings paragraph, marked for the supplement"
    assert all(path.is_file() and path.stat().st_size > 10_000 for path in html)


@pytest.mark.smoke
def test_result_records_are_sane(smoke_dataset):
    dataset, root, _ = smoke_dataset
    results = root / "reports" / dataset / "results"
    for model_name, parameters in EXPECTED_PARAMETERS[dataset].items():
        record = records.read_record(results / f"{model_name}-seed0.json")
        assert record["model"]["parameters"] == parameters
        assert record["dataset"]["train_size"] == 2000 and record["dataset"]["test_size"] == 500
        assert record["epochs_run"] == 1
        assert record["test"]["accuracy"] > MIN_ACCURACY.get(model_name, 0.5), "one epoch on 1,800 images beats the 10% of chance"
        assert (root / "reports" / dataset / "models" / f"{model_name}-seed0.keras").is_file()


@pytest.mark.smoke
def test_sweep_trains_two_seeds_and_reuses_the_cnn(smoke_dataset):
    dataset, root, _ = smoke_dataset
    results = root / "reports" / dataset / "results"
    assert sorted(path.name for path in results.glob("cnn_k5-seed*.json")) == ["cnn_k5-seed0.json", "cnn_k5-seed1.json"]
    assert sorted(path.name for path in results.glob("cnn-seed*.json")) == ["cnn-seed0.json", "cnn-seed1.json"]
    notebook = nbformat.read(root / "reports" / dataset / "04_kernel_size_sweep.ipynb", as_version=4)
    text = "\n".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "Reusing cnn (seed 0)" in text, "the 3×3 run of 03_cnn is loaded, not trained again"
    tables_shown = shown_html(root / "reports" / dataset / "04_kernel_size_sweep.ipynb")
    assert "Holm-adjusted p" in tables_shown, "the pairwise comparisons are shown with their adjusted p-values"
    assert "MACs per image, change (%)" in tables_shown and "cheapest by" in tables_shown, "each kernel size's costs"


@pytest.mark.smoke
def test_figures_are_written(smoke_dataset):
    dataset, root, _ = smoke_dataset
    figures = {path.relative_to(root / "images" / dataset).as_posix() for path in (root / "images" / dataset).rglob("*.png")}
    assert {
        "01_eda/samples.png",
        "02_fc_baseline/dense_weights.png",
        "03_cnn/comparison.png",
        "03_cnn/gallery_fixed.png",
        "04_kernel_size_sweep/accuracy_by_kernel.png",
        "04_kernel_size_sweep/accuracy_vs_cost.png",
        "05_filter_visualisation/filters.png",
        "05_filter_visualisation/orientation_tuning.png",
        "05_filter_visualisation/class_filters.png",
        "07_translation/shift_examples.png",
        "07_translation/accuracy_vs_shift.png",
        "11_learning_curves/learning_curves.png",
    } <= figures
    probe_figures = {
        "08_pixel_permutation": {"08_pixel_permutation/permuted_examples.png", "08_pixel_permutation/accuracy_permuted.png"},
        "09_efficiency": {"09_efficiency/efficiency_frontier.png"},
    }
    for notebook, expected in probe_figures.items():
        assert (expected <= figures) == (dataset == ON_ONE_DATASET[notebook]), notebook
    assert json.loads((root / "reports" / dataset / "pipeline.json").read_text())["runs"].keys() == set(SMOKE_NOTEBOOKS[dataset])
    from convlab.figures import captions

    for figure in figures:
        notebook, name = figure.split("/")
        key = name.removesuffix(".png") if name.removesuffix(".png") in captions.CAPTIONS else name.split("_", 1)[0]
        assert key in manifest.entry(notebook).figures, f"{notebook} files {name}, which its manifest entry does not name"


@pytest.mark.smoke
def test_every_result_file_of_the_run_is_declared_by_the_notebook_that_wrote_it(smoke_root):
    """The manifest's `writes`: each stored result belongs to one notebook, and that notebook ran on the dataset."""
    for dataset in config.DATASETS:
        folder = smoke_root / "reports" / dataset
        written = [path.relative_to(folder).as_posix() for path in records.committed((folder / "results").rglob("*.json"))]
        writers = {name: manifest.writer_of(name) for name in written}
        assert None not in writers.values(), [name for name, writer in writers.items() if writer is None]
        assert set(writers.values()) <= set(SMOKE_NOTEBOOKS[dataset]), dataset


@pytest.mark.smoke
def test_translation_probe_at_shift_zero_reproduces_the_recorded_accuracy(smoke_root):
    """Two paths to the same number: the probe's unshifted accuracy and the training record's test accuracy."""
    results = smoke_root / "reports" / "fashion_mnist" / "results"
    for model_name in ("fc_baseline", "cnn", "cnn_gap", "cnn_shift4", "fc_baseline_shift4"):
        record = records.read_record(results / f"{model_name}-seed0.json")
        probe = records.read_json(results / "probes" / f"translation_{model_name}-seed0.json")
        assert probe["for_cache_key"] == record["cache_key"]
        rows = probe["result"]["rows"]
        assert {(row["direction"], row["shift"]) for row in rows} == {
            (direction, shift) for direction in ("horizontal", "vertical", "diagonal") for shift in (0, 1, 2)
        }
        assert all(row["accuracy"] == pytest.approx(record["test"]["accuracy"], abs=1e-6) for row in rows if row["shift"] == 0)


@pytest.mark.smoke
def test_efficiency_measures_every_trained_model(smoke_root):
    results = smoke_root / "reports" / "fashion_mnist" / "results"
    trained = {path.name.split("-seed")[0] for path in results.glob("*-seed*.json")}
    assert set(EXPECTED_PARAMETERS["fashion_mnist"]) <= trained
    for model_name in trained:
        latency = records.read_json(results / "probes" / f"latency_{model_name}-seed0.json")["result"]
        assert 0 < latency["single_p50_ms"] <= latency["single_p99_ms"]
        assert latency["batch_images_per_second"] > 0


@pytest.mark.smoke
def test_sagemaker_notebook_serves_what_it_trained_in_mode_local(smoke_root):
    report = smoke_root / "reports" / "mnist"
    record = json.loads((report / "results" / "serving" / "cnn-seed0-local.json").read_text())
    trained = json.loads((report / "results" / "cnn-seed0.json").read_text())
    assert record["cache_key"] == trained["cache_key"], "06 served the run that 03 stored, not a new one"
    comparison = record["comparison"]
    assert comparison["same predicted class for every image"] and comparison["largest probability difference"] < 1e-4
    assert comparison["served accuracy (%)"] == pytest.approx(100 * trained["test"]["accuracy"], abs=1e-4)  # float32 record
    statuses = {row["request"]: row["status"] for row in record["bad_requests"]}
    expected = {"too many images": 413, "body over the size cap": 413, "unsupported content type": 415}
    assert len(statuses) >= 12 and statuses == {request: expected.get(request, 400) for request in statuses}
    assert record["serving"]["single_p99_ms"] >= record["serving"]["single_p50_ms"] > 0
    with tarfile.open(report / "sagemaker" / "model.tar.gz") as archive:
        names = set(archive.getnames())
    assert {"1/saved_model.pb", "code/inference.py", "code/labels.json"} <= names


def test_dataset_comparison_reads_both_datasets(smoke_root):
    executed = smoke_root / "reports" / "comparison" / "10_dataset_comparison.ipynb"
    assert error_outputs(executed) == []
    assert (smoke_root / "images" / "comparison" / "10_dataset_comparison" / "gain_by_dataset.png").is_file()
    gains = shown_html(executed)
    assert "<td>Fashion-MNIST</td>" in gains and "<td>MNIST</td>" in gains, "the gain table has a row per dataset"
    assert findings_shown(executed) == ["10_dataset_comparison"]


def test_comparison_is_skipped_with_a_single_dataset(tmp_path, capsys):
    assert pipeline.run(["mnist"], list(manifest.across_datasets()), {}, tmp_path) == []
    assert "it compares datasets" in capsys.readouterr().out
    assert not (tmp_path / "comparison").exists()


@pytest.mark.smoke
def test_failing_notebook_stops_and_keeps_earlier_outputs(shared_data, tmp_path):
    """03 without 02's records fails with a message naming 02; the earlier executed copy survives."""
    output = tmp_path / "reports" / "mnist"
    output.mkdir(parents=True)
    earlier = output / "03_cnn.ipynb"
    earlier.write_text("earlier run")
    parameters = SMOKE | {"data_dir": str(shared_data), "images_dir": str(tmp_path / "images")}
    with pytest.raises(pipeline.NotebookFailed, match="Run 02_fc_baseline first") as caught:
        pipeline.run(["mnist"], ["03_cnn"], parameters, tmp_path / "reports", progress=False)
    assert "03_cnn.failed.ipynb" in str(caught.value)
    assert earlier.read_text() == "earlier run"
    assert (output / "03_cnn.failed.ipynb").is_file()
    assert not list(output.glob(".*tmp*"))


def test_committed_notebooks_are_clean_and_parameterised():
    import papermill

    first_code_cell = nbformat.read(paths.NOTEBOOKS_DIR / "01_eda.ipynb", as_version=4).cells[1].source
    for notebook in manifest.names():
        declared = set(papermill.inspect_notebook(str(paths.NOTEBOOKS_DIR / f"{notebook}.ipynb")))
        expected = (
            {"datasets", "reports_dir", "images_dir"}
            if not manifest.entry(notebook).per_dataset
            else {"dataset", "data_dir", "train_size", "test_size", "output_dir", "images_dir"}
        )
        assert expected <= declared, notebook
        cells = nbformat.read(paths.NOTEBOOKS_DIR / f"{notebook}.ipynb", as_version=4).cells
        assert len(cells) <= 30, f"{notebook} is long: split it, or move its work into convlab"
        code = [cell for cell in cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), f"{notebook} holds outputs"
        assert code[0].id == "convlab-import-check" and code[0].source == first_code_cell, f"{notebook}: the import check"
        assert "parameters" in code[1].metadata.get("tags", []), f"{notebook}: the parameters cell follows it"
        opening = cells[0].source
        assert layout.RUN_CARD_ROW in opening and f"\n\n{layout.HOW_TO_RUN}" in opening, f"{notebook}: its run card"
        assert layout.without_run_card(opening).count("\n\n") == 1, f"{notebook}: title and one lead paragraph"
        assert not any(line.lstrip().startswith(("def ", "class ")) for cell in code for line in cell.source.splitlines())


def test_partial_runs_keep_the_other_notebooks_timings(tmp_path):
    path = tmp_path / "pipeline.json"

    def timing(seconds, trained=0, executed=True):
        return {"seconds": seconds, "training_seconds": seconds / 2 if trained else 0.0, "trained": trained, "executed": executed}

    runlog.record(path.parent, {"epochs": "15"}, {"01_eda": timing(20.0), "02_fc_baseline": timing(90.0, 3)}, cold=True)
    runlog.record(path.parent, {"epochs": "1"}, {"02_fc_baseline": timing(5.0)})
    stored = records.read_json(path)
    assert {name: run["seconds"] for name, run in stored["runs"].items()} == {"01_eda": 20.0, "02_fc_baseline": 5.0}
    assert stored["runs"]["01_eda"]["parameters"] == {"epochs": "15"}
    assert stored["runs"]["02_fc_baseline"]["parameters"] == {"epochs": "1"}
    assert stored["cold"]["notebooks"]["02_fc_baseline"]["training_seconds"] == 45.0
    assert stored["warm"]["notebooks"] == {"02_fc_baseline": timing(5.0)}
    runlog.record(path.parent, {"epochs": "1"}, {"02_fc_baseline": timing(7.0, 1)})
    assert records.read_json(path)["warm"]["notebooks"]["02_fc_baseline"]["seconds"] == 5.0  # it trained: neither kind
    runlog.record(path.parent, {"epochs": "1"}, {"01_eda": timing(0.4, executed=False)})
    stored = records.read_json(path)
    assert stored["runs"]["01_eda"]["seconds"] == 20.0, "a notebook left unchanged keeps the times of its execution"
    assert stored["last"]["notebooks"]["01_eda"]["seconds"] == 0.4
    assert stored["warm"]["notebooks"] == {"02_fc_baseline": timing(5.0)}, "a run that executed nothing is not a warm run"


@pytest.mark.smoke
def test_rebuild_refreshes_markdown_and_executes_only_what_changed(smoke_root, shared_data, tmp_path, monkeypatch):
    """An edited markdown cell costs a re-render, not a run; an edited code cell executes that notebook alone."""
    root = tmp_path / "reports"
    shutil.copytree(smoke_root / "reports" / "mnist", root / "mnist")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(paths.NOTEBOOKS_DIR, notebooks)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", notebooks)
    arguments = ["--datasets", "mnist", "--notebooks", "01_eda", "02_fc_baseline", "--output-root", str(root), "--no-progress"]
    arguments += parameter_arguments(smoke_root, shared_data)

    source = nbformat.read(notebooks / "01_eda.ipynb", as_version=4)
    source.cells[0].source += "\n\nA sentence added after the run."
    nbformat.write(source, notebooks / "01_eda.ipynb")
    started = time.perf_counter()
    assert pipeline.main(arguments) == 0
    seconds = time.perf_counter() - started
    last = records.read_json(root / "mnist" / "pipeline.json")["last"]["notebooks"]
    assert not last["01_eda"]["executed"] and not last["02_fc_baseline"]["executed"]
    assert seconds < 30, f"a markdown edit took {seconds:.0f} s to rebuild"
    assert "A sentence added after the run." in (root / "mnist" / "01_eda.html").read_text(encoding="utf-8")
    refreshed = nbformat.read(root / "mnist" / "01_eda.ipynb", as_version=4)
    assert refreshed.cells[0].source == source.cells[0].source
    assert sum(bool(cell.get("outputs")) for cell in refreshed.cells) >= 5, "the outputs of the earlier run are kept"

    code = next(cell for cell in source.cells if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []))
    code.source += "\nprint('changed')"
    nbformat.write(source, notebooks / "01_eda.ipynb")
    assert pipeline.main(arguments) == 0
    last = records.read_json(root / "mnist" / "pipeline.json")["last"]["notebooks"]
    assert last["01_eda"]["executed"] and not last["02_fc_baseline"]["executed"]
    assert last["01_eda"]["startup_seconds"] < last["01_eda"]["seconds"]


@pytest.mark.smoke
def test_settings_check_trains_reference_runs_apart(smoke_root):
    """check_settings trains FC and CNN with the gpu profile's settings into results/reference/, never over the run's."""
    results = smoke_root / "reports" / "mnist" / "results"
    reference = {path.name for path in (results / "reference").glob("*.json")}
    assert reference == {"fc_baseline-seed0.json", "cnn-seed0.json"}
    for name in reference:
        run, other = records.read_record(results / name), records.read_record(results / "reference" / name)
        assert run["cache_key"] != other["cache_key"]
        assert (run["parameters"]["epochs"], other["parameters"]["epochs"]) == (1, profiles.PROFILES["gpu"].epochs), (
            "gpu settings"
        )
        assert run["parameters"]["batch_size"] == other["parameters"]["batch_size"] == 32
    text = "".join(
        output.get("text", "") + json.dumps(output.get("data", {}), ensure_ascii=False)
        for cell in nbformat.read(smoke_root / "reports" / "mnist" / "03_cnn.ipynb", as_version=4).cells
        for output in cell.get("outputs", [])
    )
    assert "CNN − FC gain" in text and "reference settings" in text, "the check's table"
    shown = shown_html(smoke_root / "reports" / "mnist" / "03_cnn.ipynb")
    families = shown.split("<th>same settings</th>", 1)[1].split("</table>", 1)[0]
    assert "<td>False</td>" in families and "<td>True</td>" not in families, "epochs=1 sets every family apart"


@pytest.mark.smoke
def test_filter_census_counts_every_filter_of_each_seed(smoke_root):
    """05 classifies all 32 first-layer filters of each seed's CNN and says whether the study's claim holds."""
    from convlab.experiments import census

    for dataset in ("fashion_mnist", "mnist"):
        table = shown_html(smoke_root / "reports" / dataset / "05_filter_visualisation.ipynb").split(census.STUDY_CLAIM, 1)
        assert len(table) == 2, dataset
        row = r"<tr>\s*<td>(\d+)</td>((?:\s*<td>\d+</td>){5})\s*<td>(yes|no)</td>"
        counts = re.findall(row, table[1].split("</table>", 1)[0])
        assert counts and counts[0][0] == "0", "one row per seed of the CNN, seed 0 first"
        assert all(sum(map(int, re.findall(r"\d+", kinds))) == 32 for _, kinds, _ in counts), "all 32 filters classified"


def executed_text(smoke_root, dataset: str, name: str) -> str:
    cells = nbformat.read(smoke_root / "reports" / dataset / f"{name}.ipynb", as_version=4).cells
    return "".join(
        output.get("text", "") + json.dumps(output.get("data", {}), ensure_ascii=False)
        for cell in cells
        for output in cell.get("outputs", [])
    )


@pytest.mark.smoke
def test_learning_curves_run_on_both_datasets_and_judge_both_claims(smoke_root):
    """11 trains FC and CNN on 300 and 1,000 of the smoke run's 2,000 images (seed 0 and two more); the full set is reused."""
    for dataset in ("fashion_mnist", "mnist"):
        text = executed_text(smoke_root, dataset, "11_learning_curves")
        assert "reaches FC&#x27;s full-set accuracy with" in text or "reaches FC's full-set accuracy with" in text, dataset
        assert "<td>300</td>" in text and "<td>2000</td>" in text, "the gain at each size, the full set included"
        folder = smoke_root / "reports" / dataset / "results" / "curves"
        assert sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*.json")) == [
            f"n{size}/{model}-seed{seed}.json" for size in (1000, 300) for model in ("cnn", "fc_baseline") for seed in (0, 1, 2)
        ]


@pytest.mark.smoke
def test_pooling_and_both_layer_kernels_are_trained_and_compared(smoke_root):
    for dataset in ("fashion_mnist", "mnist"):
        text = executed_text(smoke_root, dataset, "07_translation")
        assert "average − max pooling" in text and "share kept at 1 px (%)" in text, dataset
        assert (smoke_root / "reports" / dataset / "results" / "cnn_avgpool-seed0.json").is_file(), dataset
        assert (smoke_root / "reports" / dataset / "results" / "cnn_k5-5-seed0.json").is_file(), dataset
        assert "5×5 both" in executed_text(smoke_root, dataset, "04_kernel_size_sweep")
