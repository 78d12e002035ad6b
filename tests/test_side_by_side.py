"""`make report` trains the datasets side by side, and each notebook's runs in worker processes; the records are
those of a sequential run, bit for bit."""

from __future__ import annotations

import pytest

from convlab.run import pipeline
from convlab.store import records
from convlab.training import workers


def run(root, data_dir, jobs: int) -> None:
    parameters = {"train_size": "600", "test_size": "200", "epochs": "2", "seeds": "0,1", "data_dir": str(data_dir)}
    arguments = [
        item for name, value in (parameters | {"images_dir": str(root / "images")}).items() for item in ("-p", name, value)
    ]
    notebooks = ["--notebooks", "02_fc_baseline", "03_cnn", "--output-root", str(root / "reports"), "--no-progress"]
    assert pipeline.main(["--datasets", "fashion_mnist", "mnist", *notebooks, *arguments, "--jobs", str(jobs)]) == 0


def comparable(path) -> dict:
    record = records.read_record(path)
    kept = {key: value for key, value in record.items() if key not in ("timing", "created", "model_sha256")}
    return kept | {"history": {key: value for key, value in record["history"].items() if key != "epoch_seconds"}}


@pytest.mark.smoke
@pytest.mark.slow
def test_datasets_side_by_side_write_the_records_of_a_sequential_run(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv(workers.WORKERS_ENV, "1")  # one training at a time, in the notebook's kernel
    run(tmp_path / "sequential", shared_data, jobs=1)
    monkeypatch.setenv(workers.WORKERS_ENV, "2")  # each notebook's two seeds in two worker processes
    run(tmp_path / "side_by_side", shared_data, jobs=2)
    for dataset in ("fashion_mnist", "mnist"):
        for name in ("fc_baseline-seed0.json", "fc_baseline-seed1.json", "cnn-seed0.json", "cnn-seed1.json"):
            sequential = comparable(tmp_path / "sequential" / "reports" / dataset / "results" / name)
            side_by_side = comparable(tmp_path / "side_by_side" / "reports" / dataset / "results" / name)
            assert side_by_side == sequential, f"{dataset} {name}: histories, test predictions and environment alike"
    for dataset in ("fashion_mnist", "mnist"):
        assert (tmp_path / "side_by_side" / "reports" / dataset / "03_cnn.html").is_file()
