"""Paths from parameters and stored records: derived names stay in their folder, output folders stay out of the source."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from convlab.experiments import probes
from convlab.run import pipeline
from convlab.serving import client
from convlab.store import records
from convlab.study import config, paths
from convlab.training import saved


@pytest.fixture
def folder(tmp_path) -> Path:
    """A models folder with a subfolder, a link to that subfolder and a link out of it."""
    models = tmp_path / "models"
    (models / "reference").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (models / "link_in").symlink_to(models / "reference")
    (models / "link_out").symlink_to(tmp_path / "elsewhere")
    return models


NAMES = [  # a name joined to the folder, and whether it stays inside
    ("cnn-seed0.keras", True),
    ("reference/cnn-seed0.keras", True),
    ("link_in/cnn-seed0.keras", True),
    ("reference/../cnn-seed0.keras", True),
    ("../cnn-seed0.keras", False),
    ("reference/../../cnn-seed0.keras", False),
    ("/etc/passwd", False),
    ("link_out/cnn-seed0.keras", False),
    ("", False),
    (".", False),
]


@pytest.mark.parametrize("name, inside", NAMES, ids=[repr(row[0]) for row in NAMES])
def test_derived_names_stay_in_their_folder(folder, name, inside):
    if inside:
        assert paths.confined(folder, name, "The model file") == folder / name
    else:
        with pytest.raises(paths.UnsafePath, match=f"The model file {name!r} leads outside {folder}"):
            paths.confined(folder, name, "The model file")


def escaping_record(tmp_path: Path) -> dict:
    """A record whose model file lies outside the models folder, with that file's true sha256 (so only the path is wrong)."""
    outside = tmp_path / "outside.keras"
    outside.write_bytes(b"not a model of this report")
    record = {key: 0 for key in records.REQUIRED_KEYS} | {"schema_version": records.SCHEMA_VERSION, "cache_key": "key"}
    return record | {"model": {"name": "cnn"}, "model_file": "../outside.keras", "model_sha256": records.file_sha256(outside)}


def test_a_record_naming_a_model_outside_its_folder_is_refused(tmp_path):
    record = escaping_record(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(paths.UnsafePath, match="The result record of cnn \\(seed 0\\) names the model file '../outside.keras'"):
        saved.load_trained_model(record, tmp_path / "models")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "cnn-seed0.json").write_text(json.dumps(record))
    with pytest.raises(paths.UnsafePath, match="leads outside"):
        saved.stored_run("cnn", 0, "key", tmp_path / "results", tmp_path / "models")


@pytest.mark.parametrize("model_name", ["../../../cnn", "/../../../cnn", "probes/../../../../cnn"])
def test_file_names_built_from_a_record_stay_in_their_folder(tmp_path, model_name):
    record = {"model": {"name": model_name}, "seed": 0}
    params = config.RunParameters.from_notebook(notebook="06_sagemaker_deploy", dataset="mnist", output_dir=str(tmp_path))
    for build in (
        lambda: records.record_path(tmp_path, model_name, 0),
        lambda: records.model_path(tmp_path, model_name, 0),
        lambda: probes.probe_path(tmp_path, "latency", record),
        lambda: client.serving_record_path(params, model_name, 0),
    ):
        with pytest.raises(paths.UnsafePath, match="leads outside"):
            build()


@pytest.mark.parametrize(
    "call",
    [
        lambda root: pipeline.run(["mnist"], ["../tests/conftest"], {}, root),
        lambda root: pipeline.run(["../mnist"], ["01_eda"], {}, root),
        lambda root: config.RunParameters.from_notebook(notebook="../01_eda", dataset="mnist", output_dir=str(root)),
        lambda root: config.comparison_images_dir(str(root), "../10_dataset_comparison"),
    ],
    ids=["notebook in the pipeline", "dataset in the pipeline", "notebook of a run", "notebook of a figure folder"],
)
def test_unknown_notebook_and_dataset_names_are_refused_before_any_path_is_built(tmp_path, call):
    with pytest.raises(config.ParameterError, match="Unknown (notebook|dataset)"):
        call(tmp_path / "reports")
    assert not (tmp_path / "reports").exists()


def test_executing_a_notebook_outside_notebooks_is_refused(tmp_path):
    with pytest.raises(paths.UnsafePath, match="The notebook '../tests/conftest.ipynb' leads outside"):
        pipeline.execute("../tests/conftest", {}, tmp_path)


SOURCE_TARGETS = ["convlab", "notebooks", "notebooks/out", "tests", ".git/reports", "source_link/figures"]


@pytest.fixture
def source_link(tmp_path) -> Path:
    """A folder outside the project that links into the package."""
    (tmp_path / "source_link").symlink_to(paths.PACKAGE_DIR)
    return tmp_path


@pytest.mark.parametrize("target", SOURCE_TARGETS)
@pytest.mark.parametrize("parameter", ["output_dir", "images_dir"])
def test_output_folders_inside_the_source_are_refused(source_link, target, parameter):
    value = str(source_link / target) if target.startswith("source_link") else str(paths.PROJECT_DIR / target)
    with pytest.raises(paths.UnsafePath, match=f"{parameter}=.* inside the project's source folder"):
        config.RunParameters.from_notebook(notebook="01_eda", dataset="mnist", **{parameter: value})
    with pytest.raises(paths.UnsafePath, match="inside the project's source folder"):
        config.comparison_images_dir(value, "10_dataset_comparison") if parameter == "images_dir" else paths.reports_root(value)


def test_output_folders_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    run = config.RunParameters.from_notebook(notebook="01_eda", dataset="mnist", output_dir="~/out", images_dir="figures/../figs")
    assert (run.output_dir, run.images_dir) == (tmp_path / "home" / "out", tmp_path / "figs" / "mnist" / "01_eda")
    assert paths.reports_root("reports") == tmp_path / "reports"
    resolved = pipeline.absolute_folders({"data_dir": "data", "images_dir": "~/figs", "epochs": "1"})
    assert resolved == {"data_dir": str(tmp_path / "data"), "images_dir": str(tmp_path / "home" / "figs"), "epochs": "1"}


def test_pipeline_refuses_an_output_root_in_the_source_and_writes_nothing(capsys):
    before = sorted(os.listdir(paths.PACKAGE_DIR))
    arguments = ["--datasets", "mnist", "--notebooks", "01_eda", "--output-root", str(paths.PACKAGE_DIR / "out")]
    assert pipeline.main(arguments) == 1
    error = capsys.readouterr().err
    assert "--output-root=" in error and "inside the project's source folder convlab/" in error
    assert sorted(os.listdir(paths.PACKAGE_DIR)) == before


def test_relative_folder_variables_are_resolved_from_where_the_command_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environment = {paths.DATA_DIR_ENV: "../shared/data", "CONVLAB_REFERENCE_DIR": "/srv/reference", "HOME": "here"}
    pipeline.absolute_environment(environment)
    assert environment == {
        paths.DATA_DIR_ENV: str((tmp_path.parent / "shared" / "data").resolve()),
        "CONVLAB_REFERENCE_DIR": "/srv/reference",
        "HOME": "here",
    }


@pytest.mark.smoke
@pytest.mark.slow  # about 9 s: a notebook run end to end
def test_a_relative_data_folder_variable_reaches_the_notebook_kernel(shared_data, tmp_path, monkeypatch):
    """`CONVLAB_DATA_DIR=../shared/data make report`: the kernel runs in notebooks/, the path is the caller's."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets").symlink_to(shared_data)  # found from here, not from notebooks/
    monkeypatch.setenv(paths.DATA_DIR_ENV, "datasets")
    arguments = ["--datasets", "mnist", "--notebooks", "01_eda", "--output-root", str(tmp_path / "reports"), "--no-progress"]
    arguments += ["-p", "train_size", "600", "-p", "test_size", "200", "-p", "images_dir", str(tmp_path / "images")]
    assert pipeline.main(arguments) == 0
    assert (tmp_path / "reports" / "mnist" / "01_eda.html").is_file()


def test_messages_show_paths_relative_to_the_repository_or_beside_it():
    assert paths.shown(paths.PROJECT_DIR / ".venv-serving" / "tf-2.20") == ".venv-serving/tf-2.20"
    assert paths.shown(paths.PROJECT_DIR.parent / "shared" / "reference") == "../shared/reference"
    assert paths.shown("/") == "/"


def test_another_machines_text_keeps_only_the_last_part_of_each_path():
    source = "data folder (IDX files): /home/sagemaker-user/data/fashion-mnist; keras cache: /root/.keras/datasets"
    assert paths.without_folders(source) == "data folder (IDX files): fashion-mnist; keras cache: datasets"
    assert paths.without_folders("Debian package dataset-fashion-mnist") == "Debian package dataset-fashion-mnist"
