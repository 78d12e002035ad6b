"""Trainings in worker processes write the records and weights of a sequential run, and reuse what is stored."""

from __future__ import annotations

import numpy as np
import pytest

from convlab.datasets import data
from convlab.study import config, paths
from convlab.training import models, saved, workers


@pytest.fixture(scope="module")
def tiny(fashion) -> data.Dataset:
    return data.subset(fashion, train_size=600, test_size=200, seed=0)


def run_params(root) -> config.RunParameters:
    return config.RunParameters.from_notebook(
        notebook="04_kernel_size_sweep",
        dataset="fashion_mnist",
        epochs=2,
        batch_size=64,
        seeds="0,1",
        output_dir=str(root / "out"),
        images_dir=str(root / "images"),
    )


def comparable(record: dict) -> dict:
    """A record less what measures time or names the file's bytes (the saved file holds its save date)."""
    kept = {key: value for key, value in record.items() if key not in ("timing", "created", "model_sha256")}
    return kept | {"history": {key: value for key, value in record["history"].items() if key != "epoch_seconds"}}


def weights(record: dict, params: config.RunParameters) -> list[np.ndarray]:
    return saved.load_trained_model(record, params.models_dir).get_weights()


def test_workers_write_the_records_and_weights_of_a_sequential_run(tiny, tmp_path, capsys):
    configs = [models.fc_baseline_config("fashion_mnist"), models.cnn_config("fashion_mnist")]
    tasks = [workers.Task(model_config, tiny, seed) for model_config in configs for seed in (0, 1)]
    sequential, side_by_side = run_params(tmp_path / "sequential"), run_params(tmp_path / "workers")
    one = workers.train_all(tasks, sequential, workers=1)
    two = workers.train_all(tasks, side_by_side, workers=2)
    assert "in 2 worker processes" in capsys.readouterr().out
    assert [comparable(record) for record in two] == [comparable(record) for record in one]
    assert [(record["model"]["name"], record["seed"]) for record in two] == [
        ("fc_baseline", 0),
        ("fc_baseline", 1),
        ("cnn", 0),
        ("cnn", 1),
    ]
    for first, second in zip(one, two):
        assert all(np.array_equal(a, b) for a, b in zip(weights(first, sequential), weights(second, side_by_side)))
    again = workers.train_all(tasks, side_by_side, workers=2)
    output = capsys.readouterr().out
    assert "worker processes" not in output and output.count("Reusing") == 4, "every stored run is reused, none trained"
    assert [record["created"] for record in again] == [record["created"] for record in two]


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_worker_count_names_the_variable_and_the_fix(value):
    with pytest.raises(paths.ParameterError, match=rf"{workers.WORKERS_ENV}=.*whole number ≥ 1"):
        workers.worker_count({workers.WORKERS_ENV: value})


def test_the_worker_count_defaults_to_the_cores_and_follows_the_variable(monkeypatch):
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 6)
    assert workers.worker_count({}) == 6
    assert workers.worker_count({workers.WORKERS_ENV: "3"}) == 3


def test_the_longest_trainings_start_first_by_their_earlier_times_and_an_untimed_one_before_them(tiny):
    fc, cnn = models.fc_baseline_config("fashion_mnist"), models.cnn_config("fashion_mnist")
    tasks = [workers.Task(fc, tiny, 0), workers.Task(cnn, tiny, 0), workers.Task(cnn, tiny, 1), workers.Task(fc, tiny, 1)]
    expected = {id(tasks[0]): 500.0, id(tasks[1]): 60.0, id(tasks[2]): None, id(tasks[3]): 20.0}
    assert workers.longest_first(tasks, expected, [10, 11, 12, 13]) == [12, 10, 11, 13]
    untimed = dict.fromkeys(expected)
    assert workers.longest_first(tasks, untimed, [0, 1, 2, 3]) == [1, 2, 0, 3], "by cost: the CNNs first, in order"
