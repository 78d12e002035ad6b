"""Two runs at once on one report tree: the second is refused at once, naming the first, and changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from convlab.report import report
from convlab.run import pipeline
from convlab.store import cache, locking

# Holds the locks of the folders named on its command line until its stdin closes.
HOLDER = """
import sys
from convlab.store import locking
with locking.hold(sys.argv[1:]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def hold_from_another_process():
    started = []

    def start(*folders: Path) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, *map(str, folders)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        started.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.fixture
def runs(monkeypatch) -> list[tuple]:
    """The report folders `pipeline.run` works on, recorded instead of executing notebooks."""
    calls = []

    def record(notebooks, values, output_dir, *rest, **options):
        calls.append(output_dir)
        return []

    monkeypatch.setattr(pipeline, "_run_in_order", record)
    return calls


def snapshot(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else b"dir" for path in root.rglob("*")}


def arguments(root: Path, dataset: str = "mnist") -> list[str]:
    return ["--datasets", dataset, "--notebooks", "01_eda", "--output-root", str(root), "--no-progress"]


def test_second_run_is_refused_naming_the_first_and_changes_nothing(tmp_path, hold_from_another_process, runs, capsys):
    root = tmp_path / "reports"
    (root / "mnist" / "results").mkdir(parents=True)
    (root / "mnist" / "results" / "cnn-seed0.json").write_text("{}")
    first = hold_from_another_process(root / "mnist")
    before = snapshot(root)
    assert pipeline.main(arguments(root)) == 1
    error = capsys.readouterr().err
    assert f"{root / 'mnist'} is in use by another run: process {first.pid}, started " in error
    assert "Wait for it to finish, or pass another --output-root" in error
    assert runs == [] and snapshot(root) == before
    first.communicate("")  # the first run ends
    assert pipeline.main(arguments(root)) == 0
    assert runs == [root / "mnist"]


def test_runs_on_other_datasets_of_the_same_tree_go_ahead(tmp_path, hold_from_another_process, runs):
    """The smoke run's layout: one process per dataset under one output root."""
    root = tmp_path / "reports"
    hold_from_another_process(root / "fashion_mnist")
    assert pipeline.main(arguments(root, "mnist")) == 0
    assert runs == [root / "mnist"]
    with pytest.raises(locking.FolderLocked, match="fashion_mnist"):
        pipeline.run(["fashion_mnist", "mnist"], ["10_dataset_comparison"], {}, root, progress=False)


def test_lock_of_a_killed_run_does_not_block(tmp_path, hold_from_another_process, runs):
    root = tmp_path / "reports"
    first = hold_from_another_process(root / "mnist")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert (root / "mnist" / locking.LOCK_FILE).is_file(), "the lock file stays; only a live holder's flock counts"
    assert pipeline.main(arguments(root)) == 0
    assert runs == [root / "mnist"]


def test_the_same_process_cannot_take_a_held_folder_twice(tmp_path):
    with locking.hold([tmp_path]) as (path,):
        assert locking.holder(path)["pid"] == os.getpid()
        with pytest.raises(locking.FolderLocked, match=f"process {os.getpid()}"):
            with locking.hold([tmp_path]):
                pass
    with locking.hold([tmp_path]):
        pass


def test_cache_clear_and_report_build_wait_for_a_running_pipeline(tmp_path, hold_from_another_process, capsys):
    root = tmp_path / "reports"
    (root / "mnist" / "results").mkdir(parents=True)
    first = hold_from_another_process(root / "mnist")
    before = snapshot(root)
    assert cache.main(["clear", "--root", str(root)]) == 1
    assert f"process {first.pid}" in capsys.readouterr().out
    assert report.main(["--root", str(root), "--datasets", "mnist", "--no-pdf"]) == 1
    assert "Wait for it to finish, or pass another --root" in capsys.readouterr().out
    assert snapshot(root) == before, "the held folder is tried first: nothing is created before the refusal"
    first.communicate("")
    assert cache.main(["clear", "--root", str(root)]) == 0
    assert not (root / "mnist" / "results").exists()
