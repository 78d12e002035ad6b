"""The notebooks as a student runs them: from any working directory, with their defaults, and told what to run first."""

from __future__ import annotations

from pathlib import Path

import pytest

from convlab import config, pipeline


def execute(notebook: str, parameters: dict, cwd: Path, executed: Path) -> None:
    """Run a source notebook with papermill from `cwd` (not notebooks/), as Jupyter started elsewhere would."""
    import papermill

    source = config.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    declared = pipeline.notebook_parameters(source)
    papermill.execute_notebook(
        str(source),
        str(executed),
        parameters={name: value for name, value in parameters.items() if name in declared},
        kernel_name=pipeline.kernel_name(),
        cwd=str(cwd),
        progress_bar=False,
    )


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """An empty working directory that is neither the project nor notebooks/."""
    folder = tmp_path / "somewhere" / "else"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.smoke
def test_a_notebook_runs_with_its_defaults_from_another_working_directory(shared_data, elsewhere, tmp_path, monkeypatch):
    """01_eda with its default data folder ($CONVLAB_DATA_DIR) and outputs moved to tmp only: no path depends on the cwd."""
    monkeypatch.setenv(config.DATA_DIR_ENV, str(shared_data))
    outputs = {"output_dir": str(tmp_path / "report"), "images_dir": str(tmp_path / "images")}
    execute("01_eda", {"dataset": "mnist", "train_size": 600, "test_size": 200} | outputs, elsewhere, tmp_path / "01_eda.ipynb")
    assert (tmp_path / "images" / "mnist" / "01_eda" / "samples.png").is_file()
    assert list(elsewhere.iterdir()) == [], "nothing is written relative to the working directory"


MISSING_PREREQUISITES = [  # notebook, the message naming what to run first (each checks before any training)
    ("03_cnn", "Run 02_fc_baseline first"),
    ("05_filter_visualisation", "Run 03_cnn first"),
    ("09_efficiency", "Run 02_fc_baseline and 03_cnn first"),
    ("10_dataset_comparison", "Run 02_fc_baseline on fashion_mnist first"),
]


@pytest.mark.smoke
@pytest.mark.parametrize("notebook, message", MISSING_PREREQUISITES, ids=[row[0] for row in MISSING_PREREQUISITES])
def test_a_notebook_run_too_early_names_the_notebook_to_run_first(notebook, message, shared_data, elsewhere, tmp_path):
    import papermill

    reports = tmp_path / "reports"
    if notebook in config.CROSS_DATASET_NOTEBOOKS:
        parameters = {"reports_dir": str(reports), "images_dir": str(tmp_path / "images")}
    else:
        parameters = {"dataset": "mnist", "data_dir": str(shared_data), "train_size": 600, "test_size": 200, "seeds": "0"}
        parameters |= {"output_dir": str(reports / "mnist"), "images_dir": str(tmp_path / "images")}
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        execute(notebook, parameters, elsewhere, tmp_path / f"{notebook}.ipynb")
    assert caught.value.ename == "MissingResultError"
    assert message in caught.value.evalue
    assert not (reports / "mnist" / "models").exists(), "it stopped before training anything"
