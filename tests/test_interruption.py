"""A report run stopped in the middle of training (SIGTERM, SIGKILL), then run again.

The rerun does not execute again the notebook that had finished nor train again the runs that had
finished; nothing half-written is ever taken for complete; no notebook kernel outlives the stopped run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from convlab.store import records

SEEDS = (0, 1, 2)


def pipeline_command(root: Path, data_dir: Path) -> list[str]:
    """02 then 03 on MNIST, three seeds each, on a small subset: 03 trains for a few seconds per seed."""
    parameters = {"train_size": "600", "test_size": "200", "epochs": "2", "seeds": ",".join(map(str, SEEDS))}
    parameters |= {"batch_size": "32", "data_dir": str(data_dir), "images_dir": str(root / "images")}
    arguments = [item for name, value in parameters.items() for item in ("-p", name, value)]
    notebooks = ["--datasets", "mnist", "--notebooks", "02_fc_baseline", "03_cnn", "--output-root", str(root / "reports")]
    return [sys.executable, "-m", "convlab.run.pipeline", *notebooks, *arguments, "--no-progress"]


def wait_for(path: Path, process: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the run ended before {path.name} appeared:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.1)


def complete_records(report: Path) -> dict[str, bytes]:
    """Every record under results/ (temporaries aside), each checked: a valid record whose model file is intact."""
    found = {}
    for path in records.committed((report / "results").glob("*.json")):
        record = records.read_record(path)
        assert records.file_sha256(report / "models" / record["model_file"]) == record["model_sha256"], path.name
        found[path.name] = path.read_bytes()
    return found


def temporaries(report: Path) -> list[str]:
    return sorted(path.relative_to(report).as_posix() for path in report.rglob(".*.tmp*"))


def stop_when(path: Path, stop: signal.Signals, command: list[str], log: Path) -> subprocess.Popen:
    """Start the run, stop its whole process group with `stop` once `path` appears; every kernel is then gone."""
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(path, process, log)
            kernels = psutil.Process(process.pid).children(recursive=True)
            os.killpg(process.pid, stop)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == (128 + signal.SIGTERM if stop == signal.SIGTERM else -signal.SIGKILL), log.read_text()[-3000:]
    assert kernels, "the run had a kernel"
    _, alive = psutil.wait_procs(kernels, timeout=15)
    assert alive == [], "no kernel outlives the stopped run"
    return process


@pytest.mark.smoke
@pytest.mark.slow
def test_a_run_stopped_during_training_goes_on_where_it_stopped(shared_data, tmp_path):
    """Stopped by SIGTERM while 03 trains its first seed, then by SIGKILL while it trains its second, then run to the end."""
    command, report = pipeline_command(tmp_path, shared_data), tmp_path / "reports" / "mnist"

    stop_when(report / "results" / "cnn-seed0.json", signal.SIGTERM, command, tmp_path / "sigterm.log")
    stored = complete_records(report)
    assert {"fc_baseline-seed0.json", "fc_baseline-seed1.json", "fc_baseline-seed2.json", "cnn-seed0.json"} <= set(stored)
    assert nbformat.read(report / "02_fc_baseline.ipynb", as_version=4).cells, "the finished notebook is complete"
    assert not (report / "03_cnn.ipynb").exists(), "the stopped notebook left no executed copy"
    progress = records.read_json(report / "pipeline.json")
    assert progress["running"]["notebook"] == "03_cnn" and "02_fc_baseline" in progress["executed"]
    assert not [name for name in temporaries(report) if name.endswith(".ipynb")], "the executed copy's temporary is removed"
    said = (tmp_path / "sigterm.log").read_text()
    assert "Stopped (SIGTERM)" in said
    stop_message = said[said.index("Stopped (SIGTERM)") :]
    assert "Traceback" not in stop_message and "never retrieved" not in stop_message, "a stop prints its message alone"

    stop_when(report / "results" / "cnn-seed1.json", signal.SIGKILL, command, tmp_path / "sigkill.log")
    after_kill = complete_records(report)
    assert {name: after_kill[name] for name in stored} == stored, "records from before the first stop are kept as they were"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    last = records.read_json(report / "pipeline.json")["last"]["notebooks"]
    assert last["02_fc_baseline"]["executed"] is False, "the notebook that had finished is not executed again"
    assert last["03_cnn"]["executed"] is True
    cnn_before = [name for name in after_kill if name.startswith("cnn-")]
    assert len(cnn_before) >= 2 and last["03_cnn"]["trained"] == len(SEEDS) - len(cnn_before), "finished trainings are reused"
    after = complete_records(report)
    assert {name: after[name] for name in after_kill} == after_kill, "records from before the stops are kept as they were"
    assert {f"cnn-seed{seed}.json" for seed in SEEDS} <= set(after)
    assert temporaries(report) == [], "temporaries of the stopped runs are cleared"
    assert "running" not in records.read_json(report / "pipeline.json")
    assert (report / "03_cnn.html").is_file()
