"""Shared fixtures: the real datasets from the shared data folder, and an isolated environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from smoke import REUSE_ENV, FinishedSmokeRun, SmokeRun, reusable_root

from convlab.datasets import data
from convlab.study import paths

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_DATA = paths.resolve_data_dir()  # the notebooks' own lookup: DATA_DIR (make) or $CONVLAB_DATA_DIR, else data/
os.environ[paths.OFFLINE_ENV] = "1"  # no test downloads anything; notebook kernels inherit this
# The smoke runs' trainings take a second or two: they train in the notebook's kernel, one after the other, rather
# than pay for worker processes; test_workers and test_side_by_side check the worker path against this one.
os.environ.setdefault("CONVLAB_WORKERS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder with the official IDX files; the suite cannot run without it."""
    missing = [SHARED_DATA / spec.folder / f"{stem}.gz" for spec in data.SPECS.values() for stem in data.IDX_NAMES.values()]
    missing = [path for path in missing if not path.is_file()]
    if missing:
        pytest.fail(
            f"The tests need the datasets in {SHARED_DATA}, the data folder `make report` reads too; missing: {missing}. "
            f"Fix: put the IDX files there (data/README.md), or name the folder that holds them with "
            f"`make test DATA_DIR=...` or ${paths.DATA_DIR_ENV}."
        )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def isolated_sources(tmp_path_factory, monkeypatch):
    """No downloads, an empty Keras cache and no Debian folder unless a test provides them."""
    monkeypatch.setenv(paths.OFFLINE_ENV, "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
    monkeypatch.setattr(paths, "DEBIAN_DATASETS_DIR", tmp_path_factory.mktemp("no_debian"))
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)


JOB_HYPERPARAMETERS = {"dataset": "fashion_mnist", "model": "cnn", "epochs": 1, "train-size": 600, "test-size": 200, "seed": 0}


@pytest.fixture(scope="session")
def trained(shared_data, tmp_path_factory):
    """One run of the entry script as a SageMaker training job would run it (a CNN, one epoch on 600 images)."""
    from convlab.serving import artifact

    return artifact.run_training_locally(tmp_path_factory.mktemp("job"), shared_data, JOB_HYPERPARAMETERS)


@pytest.fixture(scope="session")
def tarball(trained, tmp_path_factory) -> Path:
    """`model.tar.gz` packed from that job's model folder, as the job writes it."""
    from convlab.serving import artifact

    return artifact.pack_model(trained["model_dir"], tmp_path_factory.mktemp("artifact") / "model.tar.gz")


@pytest.fixture(scope="session")
def fashion(shared_data) -> data.Dataset:
    return data.load_dataset("fashion_mnist", shared_data)


@pytest.fixture(scope="session")
def mnist(shared_data) -> data.Dataset:
    return data.load_dataset("mnist", shared_data)


@pytest.fixture(scope="session")
def smoke_run(shared_data, tmp_path_factory):
    """The notebook smoke run, started in the background (see tests/smoke.py); with $CONVLAB_SMOKE_CACHE set, one an
    earlier session of the same sources finished is reused, and a run this session finishes is kept there."""
    cache = os.environ.get(REUSE_ENV)
    if cache:
        root, finished = reusable_root(Path(cache), shared_data)
        run = FinishedSmokeRun(root) if finished else SmokeRun(root, shared_data, stamp=True)
    else:
        run = SmokeRun(tmp_path_factory.mktemp("smoke"), shared_data)
    yield run
    run.stop()


@pytest.fixture(scope="session")
def smoke_root(smoke_run) -> Path:
    """Wait for the smoke run that started at the beginning of the session."""
    return smoke_run.wait()


@pytest.fixture(scope="session", autouse=True)
def start_smoke_run_early(request):
    """Start the smoke run before the first test when a selected test needs it, so the unit tests overlap with it."""
    if any("smoke_root" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("smoke_run")


def pytest_collection_modifyitems(items):
    """Tests that wait for the smoke run go last (a stable sort keeps the rest in order)."""
    items.sort(key=lambda item: "smoke_root" in getattr(item, "fixturenames", ()))
