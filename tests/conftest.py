"""Shared fixtures: the real datasets from the shared data folder, and an isolated environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from smoke import SmokeRun

from convlab import config, data

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get(config.DATA_DIR_ENV) or PROJECT_DIR.parent / "shared" / "data").resolve()
os.environ[config.OFFLINE_ENV] = "1"  # no test downloads anything; notebook kernels inherit this


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder with the official IDX files; the suite cannot run without it."""
    missing = [SHARED_DATA / spec.folder / f"{stem}.gz" for spec in data.SPECS.values() for stem in data.IDX_NAMES.values()]
    missing = [path for path in missing if not path.is_file()]
    if missing:
        pytest.fail(f"The tests need the datasets in {SHARED_DATA} (set ${config.DATA_DIR_ENV}); missing: {missing}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def isolated_sources(tmp_path_factory, monkeypatch):
    """No downloads, an empty Keras cache and no Debian folder unless a test provides them."""
    monkeypatch.setenv(config.OFFLINE_ENV, "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
    monkeypatch.setattr(config, "DEBIAN_DATASETS_DIR", tmp_path_factory.mktemp("no_debian"))
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)


@pytest.fixture(scope="session")
def fashion(shared_data) -> data.Dataset:
    return data.load_dataset("fashion_mnist", shared_data)


@pytest.fixture(scope="session")
def mnist(shared_data) -> data.Dataset:
    return data.load_dataset("mnist", shared_data)


@pytest.fixture(scope="session")
def smoke_run(shared_data, tmp_path_factory):
    """The notebook smoke run, started in the background (see tests/smoke.py)."""
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
